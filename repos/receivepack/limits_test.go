package receivepack_test

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/indexpack/packtest"
)

// TestPushDeltaBomb: a pack of under 200 bytes whose one delta would
// build a 512 MiB blob is refused, and the client is told why.
func TestPushDeltaBomb(t *testing.T) {
	w := newWorld(t)
	c1 := w.commit("first", "a", "1\n")
	w.mustPush("main")
	var ops []packtest.Op
	for range 8192 {
		ops = append(ops, packtest.Copy(0, 64<<10))
	}
	bomb := packtest.New(
		packtest.Whole(plumbing.BlobObject, make([]byte, 64<<10)),
		packtest.OFS(0, packtest.Delta(64<<10, 512<<20, ops...)),
	).Bytes()
	before := w.objects()
	out, err, hr := w.serveRaw(packtest.PushRequest("report-status", []packtest.Command{{Old: c1, New: strings.Repeat("1", 40), Ref: "refs/heads/main"}}, bomb))
	if err == nil {
		t.Fatalf("helper succeeded: %+v", hr)
	}
	got := afterAdvertisement(out)
	if len(got) != 3 || !strings.HasPrefix(got[0], "unpack object too large: delta at offset ") ||
		!strings.HasSuffix(got[0], " builds an object of 512 MiB, over the 100 MiB limit\n") ||
		got[1] != "ng refs/heads/main unpacker error\n" {
		t.Errorf("report = %q", got)
	}
	if after := w.objects(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("objects changed: %v -> %v", before, after)
	}
	if m := w.ref("refs/heads/main"); m != c1 {
		t.Errorf("main = %s", m)
	}
	w.fsck()
}

// TestPushObjectOverLimit: real git pushing a file over MaxObjectSize is
// refused with the limit in the message.
func TestPushObjectOverLimit(t *testing.T) {
	w := newWorld(t)
	w.commit("first", "a", "1\n")
	w.mustPush("main")
	blob := make([]byte, 200<<10)
	rand.Read(blob)
	w.commit("big", "random.bin", string(blob))
	before, refsBefore := w.objects(), w.allRefs()
	out, err, hr := w.push("", []string{"GATEHOUSE_TEST_MAXOBJ=65536"}, "main")
	if err == nil {
		t.Fatalf("push succeeded:\n%s", out)
	}
	if !strings.Contains(out, "object too large: blob at offset") || !strings.Contains(out, "is 200 KiB, over the 64 KiB limit") {
		t.Errorf("client output:\n%s\nhelper: %s", out, hr.Err)
	}
	if after := w.objects(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("objects changed: %v -> %v", before, after)
	}
	if w.allRefs() != refsBefore {
		t.Error("refs changed")
	}
	w.fsck()
}
