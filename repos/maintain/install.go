package maintain

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// install renames the new files into place, pack first and bitmap last,
// removes every other bitmap, and records the old packs as superseded.
func (r *repack) install(sum plumbing.Hash, packPath, idxPath, bmPath string, old []packFile) error {
	name := "pack-" + sum.String()
	base := filepath.Join(r.packDir, name)
	if _, err := os.Stat(base + ".idx"); err == nil {
		// The same pack is there already (nothing changed since the
		// last repack): only its bitmap is replaced.
		if err := os.Rename(bmPath, base+".bitmap"); err != nil {
			return fmt.Errorf("maintain: install: %w", err)
		}
	} else {
		if err := os.Rename(packPath, base+".pack"); err != nil {
			return fmt.Errorf("maintain: install: %w", err)
		}
		if err := os.Rename(idxPath, base+".idx"); err != nil {
			os.Remove(base + ".pack")
			return fmt.Errorf("maintain: install: %w", err)
		}
		if err := os.Rename(bmPath, base+".bitmap"); err != nil {
			return fmt.Errorf("maintain: install: %w", err)
		}
	}
	if infos, err := odb.ListPacks(r.gitDir); err == nil {
		for _, info := range infos {
			if info.Bitmap && info.Name != name {
				os.Remove(info.Base() + ".bitmap")
			}
		}
	}
	syncDir(r.packDir)
	r.stats.Pack = name

	var names []string
	for _, p := range old {
		if p.name != name {
			names = append(names, p.name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	recs, err := readSuperseded(r.packDir)
	if err != nil {
		return err
	}
	for i := range recs {
		// A pack written again is live again.
		recs[i].packs = slices.DeleteFunc(recs[i].packs, func(p string) bool { return p == name })
	}
	recs = append(recs, superseded{at: time.Now(), by: name, packs: names})
	return writeSuperseded(r.packDir, recs)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// superseded records one repack: when, its pack, the packs it replaced.
// The file holds one line per record: "UNIX-TIME NEW OLD...".
type superseded struct {
	at    time.Time
	by    string
	packs []string
}

// replaced returns the superseded packs whose superseding pack is still
// there: it holds all their objects, so they need no repacking.
func replaced(packDir string, recs []superseded) map[string]bool {
	m := make(map[string]bool)
	for _, rec := range recs {
		if _, err := os.Stat(filepath.Join(packDir, rec.by+".idx")); err != nil {
			continue
		}
		for _, p := range rec.packs {
			m[p] = true
		}
	}
	return m
}

func readSuperseded(packDir string) ([]superseded, error) {
	data, err := os.ReadFile(filepath.Join(packDir, supersededName))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maintain: %w", err)
	}
	var recs []superseded
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		t, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || !validPackName(f[1]) {
			continue
		}
		rec := superseded{at: time.Unix(t, 0), by: f[1]}
		for _, p := range f[2:] {
			if validPackName(p) {
				rec.packs = append(rec.packs, p)
			}
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// validPackName accepts "pack-" and 40 hex digits only, so a damaged
// record cannot name another file.
func validPackName(s string) bool {
	h, ok := strings.CutPrefix(s, "pack-")
	return ok && len(h) == 40 && isHex(h)
}

func writeSuperseded(packDir string, recs []superseded) error {
	path := filepath.Join(packDir, supersededName)
	if len(recs) == 0 {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("maintain: %w", err)
		}
		return nil
	}
	var b strings.Builder
	for _, rec := range recs {
		fmt.Fprintf(&b, "%d %s %s\n", rec.at.Unix(), rec.by, strings.Join(rec.packs, " "))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("maintain: %w", err)
	}
	return nil
}
