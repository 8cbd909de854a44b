//go:build ignore

// Benchtool is the benchmark's helper; run.sh builds it with
// "go build -o out/bin/benchtool benchtool.go". The build tag keeps it out
// of "go build ./..." and "go test ./...".
//
//	benchtool gen -root DIR [-dirs a,b/c] -commits N -versions V [-assets A]
//	    writes a git fast-import stream to stdout: a deterministic history
//	    built from the regular files under DIR (paths relative to DIR's
//	    parent, so GOROOT/src gives src/...). Each file appears first as a
//	    prefix of itself and grows to its full content over V versions,
//	    spread over N commits on refs/heads/main, with tags and a branch.
//	    With -assets, A binary files of pseudo-random bytes (256 KiB to
//	    2 MiB each, from a fixed seed) are added to or replace one of
//	    16 files under assets/, at evenly spaced commits: content that
//	    neither compresses nor deltas, so the pack grows by their size.
//	    Same input tree, same flags: same object ids.
//
//	benchtool rusage OUTFILE CMD [ARGS...]
//	    runs CMD with this process's stdin, stdout and stderr, writes the
//	    peak resident set size in KiB of CMD and its descendants (the
//	    largest single process, as wait4 reports it) to OUTFILE, and exits
//	    with CMD's status.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool gen|rusage ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "gen":
		if err := gen(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "benchtool gen:", err)
			os.Exit(1)
		}
	case "rusage":
		os.Exit(rusage(os.Args[2:]))
	default:
		fmt.Fprintln(os.Stderr, "benchtool: unknown command", os.Args[1])
		os.Exit(2)
	}
}

func rusage(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool rusage OUTFILE CMD [ARGS...]")
		return 2
	}
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if code < 0 {
			code = 128
		}
	default:
		fmt.Fprintln(os.Stderr, "benchtool rusage:", err)
		return 127
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		// Linux reports ru_maxrss in KiB.
		_ = os.WriteFile(args[0], []byte(fmt.Sprintf("%d\n", ru.Maxrss)), 0o644)
	}
	return code
}

type file struct {
	path string // in the repository
	disk string
	mode string
}

type change struct {
	commit int
	path   string
	mode   string
	mark   int
}

const (
	epoch    = 1600000000 // first commit's time
	interval = 3607       // seconds between commits
	ident    = "Bench Author <bench@example.com>"

	assetSlots = 16        // files under assets/
	assetMin   = 256 << 10 // bytes of one asset version, at least
	assetMax   = 2 << 20   // and at most
)

// assetSeed seeds the assets' generator: a constant, so every run writes
// the same bytes.
var assetSeed = [32]byte([]byte("gatehouse bench assets, seed v1."))

func gen(args []string) error {
	fset := flag.NewFlagSet("gen", flag.ContinueOnError)
	root := fset.String("root", "", "source tree (e.g. $(go env GOROOT)/src)")
	dirs := fset.String("dirs", "", "comma-separated subdirectories of root to use (default all)")
	commits := fset.Int("commits", 300, "number of commits")
	versions := fset.Int("versions", 3, "versions of each file")
	assets := fset.Int("assets", 0, "binary asset versions (pseudo-random bytes) over the history")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *root == "" || *commits < 1 || *versions < 1 || *assets < 0 || *assets > *commits {
		return fmt.Errorf("need -root, -commits >= 1, -versions >= 1, 0 <= -assets <= -commits")
	}
	base := filepath.Dir(filepath.Clean(*root))
	var tops []string
	if *dirs == "" {
		tops = []string{*root}
	} else {
		for _, d := range strings.Split(*dirs, ",") {
			tops = append(tops, filepath.Join(*root, strings.TrimSpace(d)))
		}
	}
	var files []file
	seen := map[string]bool{}
	for _, top := range tops {
		err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil // directories are walked; symlinks and others skipped
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(base, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if seen[rel] {
				return nil
			}
			seen[rel] = true
			mode := "100644"
			if info.Mode().Perm()&0o111 != 0 {
				mode = "100755"
			}
			files = append(files, file{rel, p, mode})
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("no files under %v", tops)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })

	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	C, V, n := *commits, *versions, len(files)
	var changes []change
	mark := 0
	// Blobs first, the versions of one file one after the other, so
	// fast-import stores each as a delta against the previous version.
	for i, f := range files {
		data, err := os.ReadFile(f.disk)
		if err != nil {
			return err
		}
		// Files arrive over the first 60% of the history; each grows in
		// V steps a deterministic, path-dependent number of commits apart.
		t0 := i * (C * 6 / 10) / n
		maxGap := (C - 1 - t0) / V
		gap := 1
		if maxGap > 1 {
			h := fnv.New32a()
			h.Write([]byte(f.path))
			gap = 1 + int(h.Sum32()%uint32(maxGap))
		}
		for k := 0; k < V; k++ {
			content := data
			if k < V-1 {
				cut := len(data) * (k + 1) / V
				if nl := bytes.IndexByte(data[cut:], '\n'); nl >= 0 {
					cut += nl + 1
				} else {
					cut = len(data)
				}
				content = data[:cut]
			}
			mark++
			fmt.Fprintf(w, "blob\nmark :%d\ndata %d\n", mark, len(content))
			w.Write(content)
			w.WriteString("\n")
			t := min(t0+k*gap, C-1)
			changes = append(changes, change{t, f.path, f.mode, mark})
		}
	}
	sort.SliceStable(changes, func(i, j int) bool {
		if changes[i].commit != changes[j].commit {
			return changes[i].commit < changes[j].commit
		}
		return changes[i].path < changes[j].path
	})

	// Asset j lands in commit (j+1)*C/A-1, the last one in the last
	// commit. The first assetSlots fill the slots in order, each later one
	// replaces a slot the generator picks, with fresh bytes: nothing for a
	// delta to share with the version it replaces.
	A := *assets
	src := rand.NewChaCha8(assetSeed)
	rng := rand.New(src)
	var asset []byte
	nextAsset := 0

	blobs := mark
	next := 0
	for c := 0; c < C; c++ {
		var these []change
		for next < len(changes) && changes[next].commit == c {
			these = append(these, changes[next])
			next++
		}
		assetPath := ""
		if nextAsset < A && (nextAsset+1)*C/A-1 == c {
			slot := nextAsset
			if slot >= assetSlots {
				slot = rng.IntN(assetSlots)
			}
			assetPath = fmt.Sprintf("assets/asset-%02d.bin", slot)
			asset = make([]byte, assetMin+rng.IntN(assetMax-assetMin+1))
			src.Read(asset)
			nextAsset++
		}
		nch := len(these)
		if assetPath != "" {
			nch++
		}
		var msg strings.Builder
		fmt.Fprintf(&msg, "bench: commit %d, %d change(s)\n\n", c+1, nch)
		if assetPath != "" {
			fmt.Fprintf(&msg, "%s\n", assetPath)
		}
		for j, ch := range these {
			if j == 10 {
				fmt.Fprintf(&msg, "... and %d more\n", len(these)-10)
				break
			}
			fmt.Fprintf(&msg, "%s\n", ch.path)
		}
		when := epoch + c*interval
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\n", blobs+1+c)
		fmt.Fprintf(w, "author %s %d +0000\ncommitter %s %d +0000\n", ident, when, ident, when)
		fmt.Fprintf(w, "data %d\n%s\n", msg.Len(), msg.String())
		for _, ch := range these {
			fmt.Fprintf(w, "M %s :%d %s\n", ch.mode, ch.mark, quote(ch.path))
		}
		if assetPath != "" {
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n", assetPath, len(asset))
			w.Write(asset)
			w.WriteString("\n")
		}
		w.WriteString("\n")
		cm := blobs + 1 + c
		// Lightweight tags every 100 commits, annotated every 250.
		if (c+1)%100 == 0 {
			fmt.Fprintf(w, "reset refs/tags/v0.%d\nfrom :%d\n\n", (c+1)/100, cm)
		}
		if (c+1)%250 == 0 {
			tmsg := fmt.Sprintf("release %d\n", (c+1)/250)
			fmt.Fprintf(w, "tag r%d\nfrom :%d\ntagger %s %d +0000\ndata %d\n%s\n", (c+1)/250, cm, ident, when+60, len(tmsg), tmsg)
		}
		// A second branch at 80% of the history.
		if c == C*8/10 {
			fmt.Fprintf(w, "reset refs/heads/release\nfrom :%d\n\n", cm)
		}
	}
	w.WriteString("done\n")
	return w.Flush()
}

// quote returns p as a fast-import path, C-quoted when it needs it.
func quote(p string) string {
	if !strings.ContainsAny(p, "\"\\\n") && !strings.HasPrefix(p, "\"") {
		return p
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range []byte(p) {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(r)
		case '\n':
			b.WriteString("\\n")
		default:
			b.WriteByte(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
