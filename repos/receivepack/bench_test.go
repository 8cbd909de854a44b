package receivepack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/gittest"
	"gatehouse/repos/receivepack"
	"gatehouse/repos/refs"
)

// BenchmarkMirrorPush serves, in this process, what `git push --mirror`
// of a repository with 20,000 refs (pull-request refs, branches, tags
// half of them annotated) sends into an empty repository: the commands,
// then the pack. Each round pushes into a fresh repository.
//
//	go test -run '^$' -bench MirrorPush -benchmem -cpuprofile cpu.out ./repos/receivepack/
func BenchmarkMirrorPush(b *testing.B) {
	stream := mirrorStream(b, 20000)
	root := b.TempDir()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		bare := filepath.Join(root, fmt.Sprintf("r%d.git", i))
		gittest.Run(b, root, "init", "-q", "--bare", bare)
		b.StartTimer()
		res, err := receivepack.Serve(context.Background(), bare, bytes.NewReader(stream), io.Discard, receivepack.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Updated.Len() != 20000+1 {
			b.Fatalf("%d refs updated, want %d", res.Updated.Len(), 20000+1)
		}
	}
}

// mirrorStream builds a push of n refs plus main over three commits, as
// the client sends it after an empty repository's advertisement.
func mirrorStream(tb testing.TB, n int) []byte {
	tb.Helper()
	work := tb.TempDir()
	git := func(stdin string, args ...string) string {
		return gittest.Cmd{Dir: work, Stdin: stdin}.Run(tb, args...)
	}
	git("", "init", "-q", "-b", "main")
	var ids []string
	for i := range 3 {
		git("", "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("c%d", i))
		ids = append(ids, git("", "rev-parse", "HEAD"))
	}
	git("", "tag", "-a", "-m", "release", "annotated")
	tag := git("", "rev-parse", "refs/tags/annotated")
	git("", "tag", "-d", "annotated")

	var cmds []string
	add := func(id, name string) {
		line := refs.ZeroID + " " + id + " " + name
		if len(cmds) == 0 {
			line += "\x00report-status side-band-64k quiet object-format=sha1 agent=git/2"
		}
		cmds = append(cmds, line+"\n")
	}
	add(ids[2], "refs/heads/main")
	for i := range n {
		switch id := ids[i%3]; {
		case i < n/2:
			add(id, fmt.Sprintf("refs/pull/%d/head", i))
		case i < 3*n/4:
			add(id, fmt.Sprintf("refs/heads/feature/f%d", i))
		case i%2 == 0:
			add(tag, fmt.Sprintf("refs/tags/r%d", i))
		default:
			add(id, fmt.Sprintf("refs/tags/r%d", i))
		}
	}
	cmds = append(cmds, "")
	var stream bytes.Buffer
	stream.Write(pkt(cmds...))
	pack, _ := gittest.Cmd{Dir: work, Stdin: ids[2] + "\n" + tag + "\n"}.Output(tb, "pack-objects", "--stdout", "-q", "--revs")
	stream.WriteString(pack)
	if strings.Count(stream.String(), "refs/") != n+1 {
		tb.Fatal("commands lost")
	}
	return stream.Bytes()
}
