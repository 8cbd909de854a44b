// Package backup takes consistent backups of a Gatehouse data folder while
// the server runs and takes pushes, checks them, and restores them.
//
// A backup is a folder DEST holding snapshots, each a data folder of its
// own (gatehouse.db, host keys, key-blocklist, hooks/, repos/) with
// manifest.json, which lists every file with its size and SHA-256 and
// every repository with the refs it was taken at. DEST/latest is a
// symbolic link to the newest complete snapshot; it moves only once a
// new one is whole (written as .partial-* first), so an interrupted
// backup leaves the previous one as it was. Older snapshots are removed.
//
// What a snapshot holds, and why it is consistent:
//
//   - the database, by SQLite's VACUUM INTO (keys.DB.Snapshot): one
//     commit's state, taken first. Its repositories are the backup's;
//     one created after it is left out, folder and all;
//   - each repository's refs, read while no push runs
//     (maintain.StopPushes), so each is a state the repository really had,
//     and the objects they reach: the packs and loose objects there after
//     the refs were read (a push installs its pack before it moves a ref),
//     kept from a repack's deletion meanwhile by maintain.HoldPacks, which
//     is taken before the refs are read. The copy's connectivity is then
//     walked (as git fsck --connectivity-only), so a snapshot is never
//     written with a ref to a missing object;
//   - a repository in the database snapshot whose folder is gone by the
//     time it is copied was removed during the backup (or its creation
//     had not reached the disk): its row is deleted from the copy of the
//     database too, so rows and folders always agree. One renamed during
//     the backup is copied from its new folder under its old name (found
//     by its id in the live database), as the database snapshot has it;
//   - each repository's LFS objects (lfs/objects/OID[0:2]/OID[2:4]/OID),
//     copied after its refs are read: git-lfs uploads an object before it
//     pushes the commit that points at it. The uploads still being
//     written (lfs/incoming) are not. An object is named by the SHA-256
//     of its content, which is checked: a damaged one is left out (and
//     reported), and verify and restore check each against its name;
//   - the server hooks: DATA/hooks and each repository's hooks/, with
//     their permission bits (a hook reached through a symbolic link is
//     copied as the file it leads to).
//
// Incremental: a pack, index, loose object or LFS object already in the
// previous snapshot (same path, size and trailing bytes: the names of
// these files are their contents' hashes) is hard-linked from it, not
// copied; on the data folder's file system they are hard-linked from the
// data folder itself (packs and LFS objects are never written in place).
// Everything else (refs, configuration, hooks, bitmaps, commit-graph, the
// database, keys) is copied each time.
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/repos"
	"gatehouse/repos/lockfile"
	"gatehouse/repos/maintain"
	"gatehouse/repos/refs"
)

// Names in DEST and in a snapshot.
const (
	ManifestName = "manifest.json"
	LatestName   = "latest"
	snapPrefix   = "snap-"
	partialPref  = ".partial-"
	destLockName = ".lock"
	dbName       = "gatehouse.db"
	// Format is the manifest's format version.
	Format = 1
)

// ErrDamaged reports a backup whose files or repositories do not match
// its manifest.
var ErrDamaged = errors.New("backup damaged")

// DefaultPushWait bounds how long a backup waits for the running pushes
// of one repository to end before it reads its refs.
const DefaultPushWait = 5 * time.Minute

// Manifest records what a snapshot holds.
type Manifest struct {
	Format   int       `json:"format"`
	Version  string    `json:"version"` // of the Gatehouse that took it
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Repos    []Repo    `json:"repos"`
	// LeftOut lists the repositories of the database snapshot whose folder
	// was gone: their rows were deleted from the copy.
	LeftOut []string `json:"left_out"`
	Files   []File   `json:"files"`
}

// Repo is one repository of a snapshot.
type Repo struct {
	Name string            `json:"name"` // OWNER/NAME
	Path string            `json:"path"` // repos/OWNER/NAME.git
	Head string            `json:"head"` // HEAD's target ref, or an id when detached
	Refs map[string]string `json:"refs"` // every ref under refs/, name to id
	// Objects counts the objects the refs reach, all checked present.
	Objects int `json:"objects"`
	// RenamedTo is the name the repository had on disk when copied, when
	// it was renamed during the backup.
	RenamedTo string `json:"renamed_to,omitempty"`
}

// File is one file of a snapshot.
type File struct {
	Path   string      `json:"path"` // slash-separated, relative to the snapshot
	Size   int64       `json:"size"`
	Mode   fs.FileMode `json:"mode"` // permission bits
	SHA256 string      `json:"sha256"`
}

// Stats says what a backup or restore moved.
type Stats struct {
	Snapshot string `json:"snapshot"` // the snapshot folder (backup) or data folder (restore)
	Archive  string `json:"archive,omitempty"`
	Repos    int    `json:"repos"`
	Files    int    `json:"files"`
	Bytes    int64  `json:"bytes"`  // of all the files
	Copied   int64  `json:"copied"` // bytes written
	// Linked: bytes hard-linked from the data folder; Reused: from the
	// previous snapshot. Neither was written again.
	Linked       int64         `json:"linked"`
	Reused       int64         `json:"reused"`
	ArchiveBytes int64         `json:"archive_bytes,omitempty"`
	Duration     time.Duration `json:"duration_ns"`
}

// Options configure Take.
type Options struct {
	Data  string         // the data folder
	DB    *keys.DB       // its open database
	Repos *repos.Service // its repositories: the live metadata and their folders
	Dest  string         // the backup folder
	// Archive, when set, is also written: the snapshot as one .tar.zst.
	Archive string
	// Progress, when set, gets a line per repository and per step.
	Progress io.Writer
	Version  string // recorded in the manifest
	// PushWait bounds the wait for a repository's running pushes;
	// 0 means DefaultPushWait.
	PushWait time.Duration
}

// testHookRefsRead, when set, runs after a repository's refs are read
// and before its objects are copied.
var testHookRefsRead func(gitDir string)

// Take writes a new snapshot of the data folder into opts.Dest (created
// if missing), incremental against the latest one there, and moves
// DEST/latest to it. The server may run and take pushes meanwhile.
//
// Errors: gatehouse.ErrConflict when another backup into Dest runs;
// gatehouse.ErrInvalid for a Dest inside the data folder; the database's,
// I/O errors, ErrDamaged when a copy is not connected, ctx.Err(). After
// an error the previous snapshot is still DEST/latest.
func Take(ctx context.Context, opts Options) (*Manifest, *Stats, error) {
	start := time.Now()
	if opts.PushWait <= 0 {
		opts.PushWait = DefaultPushWait
	}
	if inside(opts.Data, opts.Dest) {
		return nil, nil, fmt.Errorf("backup folder %s is inside the data folder: %w", opts.Dest, gatehouse.ErrInvalid)
	}
	if err := os.MkdirAll(opts.Dest, 0o700); err != nil {
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	lock, err := lockfile.TryLockFile(filepath.Join(opts.Dest, destLockName))
	if errors.Is(err, lockfile.ErrBusy) {
		return nil, nil, fmt.Errorf("another backup into %s is running: %w", opts.Dest, gatehouse.ErrConflict)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	defer lock.Release()
	// Under the lock, a partial snapshot is one a dead backup left.
	removeAll(opts.Dest, func(name string) bool { return strings.HasPrefix(name, partialPref) })

	name := snapPrefix + start.UTC().Format("20060102T150405.000000000Z")
	t := &taker{opts: opts, ctx: ctx,
		snap:  filepath.Join(opts.Dest, partialPref+name),
		stats: &Stats{},
		m:     &Manifest{Format: Format, Version: opts.Version, Started: start.UTC(), Repos: []Repo{}, LeftOut: []string{}}}
	if prevDir, prev, err := readLatest(opts.Dest); err == nil {
		t.prevDir, t.prev = prevDir, make(map[string]File, len(prev.Files))
		t.prevObjects = make(map[string]int)
		for _, f := range prev.Files {
			t.prev[f.Path] = f
			if repo, _, ok := strings.Cut(f.Path, ".git/objects/"); ok && isObjectFile(f.Path) {
				t.prevObjects[repo+".git"]++
			}
		}
		t.prevRepos = make(map[string]Repo, len(prev.Repos))
		for _, r := range prev.Repos {
			t.prevRepos[r.Path] = r
		}
	}
	if err := os.Mkdir(t.snap, 0o700); err != nil {
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	if err := t.run(); err != nil {
		os.RemoveAll(t.snap)
		return nil, nil, err
	}
	final := filepath.Join(opts.Dest, name)
	if err := os.Rename(t.snap, final); err != nil {
		os.RemoveAll(t.snap)
		return nil, nil, fmt.Errorf("backup: %w", err)
	}
	syncDir(opts.Dest)
	if err := setLatest(opts.Dest, name); err != nil {
		return nil, nil, err
	}
	removeAll(opts.Dest, func(n string) bool { return strings.HasPrefix(n, snapPrefix) && n != name })
	t.stats.Snapshot = final
	if opts.Archive != "" {
		t.progress("archive %s", opts.Archive)
		n, err := writeArchive(ctx, opts.Archive, final, t.m)
		if err != nil {
			return t.m, nil, err
		}
		t.stats.Archive, t.stats.ArchiveBytes = opts.Archive, n
	}
	t.stats.Duration = time.Since(start)
	return t.m, t.stats, nil
}

// taker is one Take.
type taker struct {
	ctx     context.Context
	opts    Options
	snap    string // the snapshot being written
	prevDir string // the previous snapshot, "" if none
	prev    map[string]File
	// prevRepos are the previous snapshot's repositories, by path.
	prevRepos map[string]Repo
	// prevObjects counts their object files, by repository path.
	prevObjects map[string]int
	// objectFiles and reusedObjects count the packs, indexes and loose
	// objects of the repository being copied, and those reused.
	objectFiles, reusedObjects int
	m                          *Manifest
	stats                      *Stats
}

func (t *taker) progress(format string, args ...any) {
	if t.opts.Progress != nil {
		fmt.Fprintf(t.opts.Progress, "backup: "+format+"\n", args...)
	}
}

func (t *taker) run() error {
	ctx := t.ctx
	t.progress("database")
	dbCopy := filepath.Join(t.snap, dbName)
	if err := t.opts.DB.Snapshot(ctx, dbCopy); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := t.repos(dbCopy); err != nil {
		return err
	}
	if err := t.record(dbName); err != nil {
		return err
	}
	if err := t.dataFiles(); err != nil {
		return err
	}
	t.m.Finished = time.Now().UTC()
	data, err := json.MarshalIndent(t.m, "", " ")
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(t.snap, ManifestName), data, 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	t.progress("%d repositories, %d files, %d bytes: %d copied, %d linked from the data folder, %d reused",
		t.stats.Repos, t.stats.Files, t.stats.Bytes, t.stats.Copied, t.stats.Linked, t.stats.Reused)
	return nil
}

// repos copies the repositories of the database snapshot at dbCopy, and
// deletes from it the rows of those whose folder is gone.
func (t *taker) repos(dbCopy string) (err error) {
	sdb, err := keys.Open(dbCopy)
	if err != nil {
		return fmt.Errorf("backup: database copy: %w", err)
	}
	defer func() {
		if cerr := sdb.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("backup: database copy: %w", cerr)
		}
	}()
	snapRepos := keys.NewRepoStore(sdb)
	rows, err := snapRepos.FindRepos(t.ctx, gatehouse.RepoFilter{})
	if err != nil {
		return fmt.Errorf("backup: database copy: %w", err)
	}
	for _, r := range rows {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		rel := "repos/" + r.Owner + "/" + r.Name + ".git"
		// A folder removed or renamed while it is copied fails the copy:
		// what was copied goes, and the repository is looked for again.
		var rep *Repo
		for try := 0; rep == nil; try++ {
			src, renamed, err := t.find(r)
			if err != nil {
				return err
			}
			if src == "" {
				t.progress("%s: removed during the backup, left out", r.FullName())
				if err := snapRepos.DeleteRepo(t.ctx, r.Owner, r.Name); err != nil {
					return fmt.Errorf("backup: database copy: %w", err)
				}
				t.m.LeftOut = append(t.m.LeftOut, r.FullName())
				break
			}
			mark := len(t.m.Files)
			if rep, err = t.repo(src, rel); err != nil {
				if exists(src) || try == 2 || t.ctx.Err() != nil {
					return fmt.Errorf("backup %s: %w", r.FullName(), err)
				}
				t.drop(rel, mark)
				continue
			}
			rep.Name, rep.RenamedTo = r.FullName(), renamed
			t.m.Repos = append(t.m.Repos, *rep)
			t.stats.Repos++
		}
	}
	return nil
}

// find returns the folder of the database copy's repository r: its own,
// or, when it was renamed since, the folder of its new name (which is
// returned too). "" when it is gone.
func (t *taker) find(r *gatehouse.Repo) (src, renamed string, err error) {
	src, err = t.opts.Repos.Dir(r.Owner, r.Name)
	if err != nil || exists(src) {
		return src, "", err
	}
	live, err := t.opts.Repos.FindRepos(t.ctx, gatehouse.RepoFilter{})
	if err != nil {
		return "", "", fmt.Errorf("backup: %w", err)
	}
	for _, now := range live {
		if now.ID == r.ID && now.FullName() != r.FullName() {
			if dir, err := t.opts.Repos.Dir(now.Owner, now.Name); err == nil && exists(dir) {
				return dir, now.FullName(), nil
			}
		}
	}
	return "", "", nil
}

// drop removes what a failed copy of a repository put in the snapshot:
// its folder, and the files recorded from mark on.
func (t *taker) drop(rel string, mark int) {
	os.RemoveAll(filepath.Join(t.snap, filepath.FromSlash(rel)))
	for _, f := range t.m.Files[mark:] {
		t.stats.Files--
		t.stats.Bytes -= f.Size
	}
	t.m.Files = t.m.Files[:mark]
}

// repo copies one repository from src to rel in the snapshot.
func (t *taker) repo(src, rel string) (*Repo, error) {
	before := *t.stats
	// Held first: nothing the refs about to be read reach can be deleted.
	hold, err := maintain.HoldPacks(src)
	if err != nil {
		return nil, err
	}
	defer hold.Release()
	if err := t.refs(src, rel); err != nil {
		return nil, err
	}
	dst := filepath.Join(t.snap, filepath.FromSlash(rel))
	head, err := refs.ReadHead(dst)
	if err != nil {
		return nil, err
	}
	rs, err := refs.List(dst)
	if err != nil {
		return nil, err
	}
	rep := &Repo{Path: rel, Head: head.Target, Refs: make(map[string]string, len(rs))}
	if head.Target == "" {
		rep.Head = head.ID
	}
	for _, r := range rs {
		rep.Refs[r.Name] = r.ID
	}
	if testHookRefsRead != nil {
		testHookRefsRead(src)
	}
	t.objectFiles, t.reusedObjects = 0, 0
	if err := t.objects(src, rel); err != nil {
		return nil, err
	}
	for _, d := range repoDirs {
		if err := os.MkdirAll(filepath.Join(dst, d), 0o755); err != nil {
			return nil, err
		}
	}
	hold.Release()
	// The LFS objects after the hold: repacks need not wait for their copy.
	if err := t.lfsObjects(src, rel); err != nil {
		return nil, err
	}
	if prev, ok := t.prevRepos[rel]; ok && t.unchanged(prev, rep) {
		// The same refs over the same object files as a snapshot whose
		// walk passed: the walk would find the same.
		rep.Objects = prev.Objects
	} else if rep.Objects, err = checkConnected(t.ctx, dst); err != nil {
		return nil, err
	}
	t.progress("%s: %d refs, %d objects, %d files, %d bytes, %d copied",
		strings.TrimSuffix(strings.TrimPrefix(rel, "repos/"), ".git"), len(rs), rep.Objects,
		t.stats.Files-before.Files, t.stats.Bytes-before.Bytes, t.stats.Copied-before.Copied)
	return rep, nil
}

// unchanged says whether rep, just copied, has the refs of prev and only
// object files reused from it, all of them.
func (t *taker) unchanged(prev Repo, rep *Repo) bool {
	if prev.Head != rep.Head || len(prev.Refs) != len(rep.Refs) || t.reusedObjects != t.objectFiles {
		return false
	}
	for name, id := range rep.Refs {
		if prev.Refs[name] != id {
			return false
		}
	}
	return t.prevObjects[prev.Path] == t.objectFiles
}

// isObjectFile says whether the snapshot path names a pack, an index or
// a loose object.
func isObjectFile(p string) bool {
	return strings.HasSuffix(p, ".pack") || strings.HasSuffix(p, ".idx") || isHex(path.Base(p), 38)
}

// repoDirs are the directories git needs in a repository, made in the
// snapshot and at restore even when empty.
var repoDirs = []string{"refs/heads", "refs/tags", "objects/pack", "objects/info"}

// refs copies HEAD, packed-refs and the loose refs of src while no push
// runs.
func (t *taker) refs(src, rel string) error {
	ctx, cancel := context.WithTimeout(t.ctx, t.opts.PushWait)
	defer cancel()
	stop, err := maintain.StopPushes(ctx, src)
	if err != nil {
		return err
	}
	defer stop.Release()
	// Loose refs before packed-refs, as git reads them: a repack packing
	// refs meanwhile writes packed-refs before it removes the loose ones.
	if err := t.tree(src, rel, "refs", func(name string) bool { return !strings.HasSuffix(name, ".lock") }); err != nil {
		return err
	}
	for _, name := range []string{"packed-refs", "HEAD"} {
		if err := t.copyIf(filepath.Join(src, name), rel+"/"+name, false); err != nil {
			return err
		}
	}
	return nil
}

// objects copies what else the repository holds: its configuration and
// hooks, the commit-graph (before the packs: every commit it names is in
// a pack installed before it was written), the packs and loose objects.
func (t *taker) objects(src, rel string) error {
	for _, name := range []string{"config", "description", "objects/info/commit-graph"} {
		if err := t.copyIf(filepath.Join(src, filepath.FromSlash(name)), rel+"/"+name, false); err != nil {
			return err
		}
	}
	if err := t.hooks(src, rel); err != nil {
		return err
	}
	if err := t.tree(src, rel, "info", func(string) bool { return true }); err != nil {
		return err
	}
	packs, err := listPacks(src)
	if err != nil {
		return err
	}
	for _, p := range packs {
		for _, ext := range []string{".pack", ".idx"} {
			if err := t.copy(filepath.Join(src, "objects", "pack", p+ext), rel+"/objects/pack/"+p+ext, true); err != nil {
				return err
			}
		}
		// A repack replaces a pack's bitmap and removes the others.
		for _, ext := range []string{".bitmap", ".rev", ".keep"} {
			if err := t.copyIf(filepath.Join(src, "objects", "pack", p+ext), rel+"/objects/pack/"+p+ext, false); err != nil {
				return err
			}
		}
	}
	loose, err := listLoose(src)
	if err != nil {
		return err
	}
	for _, l := range loose {
		if err := t.copy(filepath.Join(src, "objects", filepath.FromSlash(l)), rel+"/objects/"+l, true); err != nil {
			return err
		}
	}
	return nil
}

// lfsObjects copies the LFS objects of the repository at src, reused or
// linked like packs since each is named by its content's SHA-256. One
// whose content is not its name was damaged on disk: it is left out,
// and reported, rather than make the snapshot fail its own checks.
// Anything else there (a stray file) is not an object and not copied,
// nor is lfs/incoming, which holds uploads being written.
func (t *taker) lfsObjects(src, rel string) error {
	return t.walk(src, rel, "lfs/objects", false, func(path, r string) error {
		oid, ok := lfsOID(r)
		if !ok {
			return nil
		}
		mark, before := len(t.m.Files), *t.stats
		if err := t.copyIf(path, r, true); err != nil {
			return err
		}
		if len(t.m.Files) > mark && t.m.Files[mark].SHA256 != oid {
			t.progress("%s: LFS object %s is damaged (its content hashes to %s), left out", strings.TrimPrefix(rel, "repos/"), oid, t.m.Files[mark].SHA256)
			t.drop(r, mark)
			*t.stats = before
		}
		return nil
	})
}

// lfsOID returns the object id of a snapshot path that names an LFS
// object, repos/OWNER/NAME.git/lfs/objects/OID[0:2]/OID[2:4]/OID.
func lfsOID(p string) (string, bool) {
	parts := strings.Split(p, "/")
	if len(parts) != 8 || parts[0] != "repos" || !strings.HasSuffix(parts[2], ".git") || parts[3] != "lfs" || parts[4] != "objects" {
		return "", false
	}
	oid := parts[7]
	if !isHex(oid, 64) || parts[5] != oid[0:2] || parts[6] != oid[2:4] {
		return "", false
	}
	return oid, true
}

// dataFiles copies the host keys, the key blocklist and the server-wide
// hooks.
func (t *taker) dataFiles() error {
	keys, err := filepath.Glob(filepath.Join(t.opts.Data, "ssh_host_*"))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := t.copyIf(k, filepath.Base(k), false); err != nil {
			return err
		}
	}
	if err := t.copyIf(filepath.Join(t.opts.Data, "key-blocklist"), "key-blocklist", false); err != nil {
		return err
	}
	t.progress("server hooks")
	return t.hooks(t.opts.Data, "")
}

// hooks copies the hooks folder of src (the data folder, or a
// repository) to rel/hooks, with the files' permission bits. A hook may
// be installed as a symbolic link (package hooks runs what it leads
// to): the file it leads to is copied in its place, so that restore
// brings back a hook that runs.
func (t *taker) hooks(src, rel string) error {
	return t.walk(src, rel, "hooks", true, func(path, r string) error {
		return t.copyIf(path, r, false)
	})
}

// tree copies the regular files under src/dir that keep accepts (by
// name) to rel/dir, always copied; a missing dir has none.
func (t *taker) tree(src, rel, dir string, keep func(name string) bool) error {
	return t.walk(src, rel, dir, false, func(path, r string) error {
		if !keep(filepath.Base(path)) {
			return nil
		}
		return t.copyIf(path, r, false)
	})
}

// walk calls fn for each regular file under src/dir, with its path in
// the snapshot (rel/dir/...); links also takes the symbolic links that
// lead to a regular file.
func (t *taker) walk(src, rel, dir string, links bool, fn func(path, rel string) error) error {
	root := filepath.Join(src, dir)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone meanwhile (a ref packed), or no such folder
		}
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && !(links && d.Type()&fs.ModeSymlink != 0 && isRegular(path)) {
			return nil
		}
		r, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		r = filepath.ToSlash(r)
		if rel != "" {
			r = rel + "/" + r
		}
		return fn(path, r)
	})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// readLatest reads the manifest of DEST/latest.
func readLatest(dest string) (string, *Manifest, error) {
	target, err := os.Readlink(filepath.Join(dest, LatestName))
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(dest, filepath.Base(target))
	m, err := readManifest(dir)
	return dir, m, err
}

// setLatest points DEST/latest at the snapshot name, atomically.
func setLatest(dest, name string) error {
	tmp := filepath.Join(dest, ".latest.tmp")
	os.Remove(tmp)
	if err := os.Symlink(name, tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dest, LatestName)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	syncDir(dest)
	return nil
}

// removeAll removes the entries of dir whose names match.
func removeAll(dir string, match func(name string) bool) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if match(e.Name()) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// inside says whether path is dir or lies under it.
func inside(dir, path string) bool {
	a, err1 := filepath.Abs(dir)
	b, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	r, err := filepath.Rel(a, b)
	return err == nil && (r == "." || filepath.IsLocal(r))
}

// isRegular says whether path is, or leads to, a regular file.
func isRegular(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
