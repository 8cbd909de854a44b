package receivepack_test

import (
	"crypto/rand"
	"strconv"
	"strings"
	"testing"
)

const caps = "report-status delete-refs side-band-64k quiet atomic push-options ofs-delta object-format=sha1 agent=gatehouse-test/1withspaces"

func TestAdvertisement(t *testing.T) {
	w := newWorld(t)
	out, err, hr := w.serveRaw(pkt(""))
	if err != nil {
		t.Fatalf("%v %+v", err, hr)
	}
	want := string(pkt(zero+" capabilities^{}\x00"+caps+"\n", ""))
	if string(out) != want {
		t.Errorf("empty repository:\n got %q\nwant %q", out, want)
	}
	// Hanging up without a word is fine too (ls-remote does).
	if _, err, _ := w.serveRaw(nil); err != nil {
		t.Errorf("hang-up: %v", err)
	}

	c := w.commit("first", "a", "1\n")
	w.mustPush("main", "main:refs/heads/b", "main:refs/tags/v1")
	out, err, _ = w.serveRaw(pkt(""))
	if err != nil {
		t.Fatal(err)
	}
	want = string(pkt(c+" refs/heads/b\x00"+caps+"\n", c+" refs/heads/main\n", c+" refs/tags/v1\n", ""))
	if string(out) != want {
		t.Errorf("advertisement:\n got %q\nwant %q", out, want)
	}
}

// TestWire drives the helper by hand, for what real git will not send.
func TestWire(t *testing.T) {
	// Every case gets the same fresh world: fixed dates make the ids equal.
	setup := func(t *testing.T) (w *world, c1, c2 string) {
		w = newWorld(t)
		c1 = w.commit("first", "a", "1\n")
		w.mustPush("main")
		c2 = w.commit("second", "a", "2\n")
		return w, c1, c2
	}
	w, c1, c2 := setup(t)
	tree2 := w.git(w.work, "rev-parse", c2+"^{tree}")
	full := w.packOf(c2 + "\n^" + c1 + "\n")
	commitOnly := w.packOf(c2 + "\n^" + c2 + "^{tree}\n^" + c1 + "\n")
	treeOnly := w.packOf(tree2 + "\n^" + c1 + "^{tree}\n")
	corrupt := append([]byte(nil), full...)
	corrupt[len(corrupt)/2] ^= 0xff

	type tc struct {
		name   string
		stdin  []byte
		env    []string
		report []string // packets after the advertisement
		errSub string   // in the helper's error; "" for none
		main   string   // refs/heads/main afterwards
	}
	tests := []tc{
		{
			name:   "plain report",
			stdin:  append(pkt(c1+" "+c2+" refs/heads/main\x00report-status", ""), full...),
			report: []string{"unpack ok\n", "ok refs/heads/main\n", ""},
			main:   c2,
		},
		{
			name:   "no report asked",
			stdin:  append(pkt(c1+" "+c2+" refs/heads/main\x00 quiet", ""), full...),
			report: nil,
			main:   c2,
		},
		{
			name: "per-ref refusals",
			stdin: append(pkt(
				c1+" "+c2+" refs/heads/main\x00report-status",
				zero+" "+c1+" HEAD",
				c1+" "+zero+" refs/heads/nope",
				zero+" "+tree2+" refs/heads/tree",
				zero+" "+tree2+" refs/tags/tree",
				zero+" "+c2+" refs/heads/dup",
				zero+" "+c2+" refs/heads/dup",
				zero+" "+zero+" refs/heads/nothing",
				""), full...),
			report: []string{
				"unpack ok\n", "ok refs/heads/main\n", "ng HEAD funny refname\n",
				"ng refs/heads/nope no such ref to delete\n", "ng refs/heads/tree non-commit object to a branch\n",
				"ok refs/tags/tree\n", "ng refs/heads/dup duplicate ref update\n", "ng refs/heads/dup duplicate ref update\n",
				"ng refs/heads/nothing invalid update\n", "",
			},
			main: c2,
		},
		{
			name:   "missing objects",
			stdin:  append(pkt(c1+" "+c2+" refs/heads/main\x00report-status", ""), commitOnly...),
			report: []string{"unpack ok\n", "ng refs/heads/main missing necessary objects\n", ""},
			main:   c1,
		},
		{
			name:   "missing objects, others present",
			stdin:  append(pkt(zero+" "+tree2+" refs/tags/t\x00report-status", ""), treeOnly...),
			report: []string{"unpack ok\n", "ok refs/tags/t\n", ""},
			main:   c1,
		},
		{
			name:   "stale old id",
			stdin:  append(pkt(c2+" "+c2+" refs/heads/main\x00report-status", ""), full...),
			report: []string{"unpack ok\n", "ng refs/heads/main stale info\n", ""},
			main:   c1,
		},
		{
			name:   "truncated pack",
			stdin:  append(pkt(c1+" "+c2+" refs/heads/main\x00report-status", ""), full[:len(full)-30]...),
			report: []string{"unpack corrupt pack: cut short at " + strconv.Itoa(len(full)-30) + " bytes\n", "ng refs/heads/main unpacker error\n", ""},
			errSub: "cut short",
			main:   c1,
		},
		{
			name:   "corrupt pack",
			stdin:  append(pkt(c1+" "+c2+" refs/heads/main\x00report-status", ""), corrupt...),
			errSub: "corrupt pack",
			main:   c1,
		},
		{
			name:   "garbage pack",
			stdin:  append(pkt(c1+" "+c2+" refs/heads/main\x00report-status", ""), "this is not a pack, just some words"...),
			report: []string{"unpack corrupt pack: no PACK signature\n", "ng refs/heads/main unpacker error\n", ""},
			errSub: "no PACK signature",
			main:   c1,
		},
		{
			name:   "too large",
			stdin:  append(pkt(c1+" "+c2+" refs/heads/main\x00report-status", ""), full...),
			env:    []string{"GATEHOUSE_TEST_MAXPACK=100"},
			report: []string{"unpack pack too large: more than 100 bytes\n", "ng refs/heads/main unpacker error\n", ""},
			errSub: "too large",
			main:   c1,
		},
		{
			name:   "garbage commands",
			stdin:  []byte("GET / HTTP/1.1\r\n\r\n"),
			errSub: "protocol error",
			main:   c1,
		},
		{
			name:   "bad command",
			stdin:  pkt(c1+" "+c2+"refs/heads/main\x00report-status", ""),
			report: []string{"ERR protocol error: expected old/new/ref, got \"" + c1 + " " + c2 + "refs/heads/main\"\n"},
			errSub: "protocol error",
			main:   c1,
		},
		{
			name:  "too many commands",
			stdin: pkt(c1+" "+zero+" refs/heads/a\x00report-status side-band-64k", c1+" "+zero+" refs/heads/b", c1+" "+zero+" refs/heads/c", ""),
			env:   []string{"GATEHOUSE_TEST_MAXCMDS=2"},
			// Refused whole, with no pack to wait for: all deletes.
			report: []string{"\x01" + string(pkt("ERR push has more than 2 ref updates (--max-ref-updates)\n")), ""},
			errSub: "more than 2 ref updates",
			main:   c1,
		},
		{
			name:  "delete only, side-band",
			stdin: pkt(c1+" "+zero+" refs/heads/main\x00report-status side-band-64k", ""),
			// The report rides inside channel 1, then a flush ends it.
			report: []string{"\x01" + string(pkt("unpack ok\n", "ok refs/heads/main\n", "")), ""},
			main:   "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _, _ := setup(t)
			before := w.objects()
			out, err, hr := w.serveRaw(tt.stdin, tt.env...)
			got := afterAdvertisement(out)
			if tt.report != nil || tt.name == "no report asked" {
				if strings.Join(got, "|") != strings.Join(tt.report, "|") {
					t.Errorf("report:\n got %q\nwant %q", got, tt.report)
				}
			}
			if tt.errSub == "" && (err != nil || hr.Err != "") {
				t.Errorf("helper failed: %v %s", err, hr.Err)
			}
			if tt.errSub != "" && !strings.Contains(hr.Err, tt.errSub) {
				t.Errorf("helper error = %q, want %q", hr.Err, tt.errSub)
			}
			if m := w.ref("refs/heads/main"); m != tt.main {
				t.Errorf("main = %s, want %s", m, tt.main)
			}
			if tt.main == c1 && !strings.Contains(tt.name, "present") && !strings.Contains(tt.name, "delete") {
				if after := w.objects(); strings.Join(after, " ") != strings.Join(before, " ") {
					t.Errorf("objects changed: %v -> %v", before, after)
				}
			}
			w.fsck()
		})
	}
}

func TestPushOversize(t *testing.T) {
	w := newWorld(t)
	w.commit("first", "a", "1\n")
	w.mustPush("main")
	blob := make([]byte, 200<<10)
	rand.Read(blob)
	w.commit("big", "random.bin", string(blob))
	before, refsBefore := w.objects(), w.allRefs()
	out, err, hr := w.push("", []string{"GATEHOUSE_TEST_MAXPACK=65536"}, "main")
	if err == nil {
		t.Fatalf("oversize push succeeded:\n%s", out)
	}
	t.Logf("client output:\n%s", out)
	if !strings.Contains(hr.Err, "too large") {
		t.Errorf("helper error = %q\n%s", hr.Err, out)
	}
	if after := w.objects(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("objects changed: %v -> %v", before, after)
	}
	if w.allRefs() != refsBefore {
		t.Error("refs changed")
	}
	w.fsck()
}
