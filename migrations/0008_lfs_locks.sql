-- Git LFS file locks. A lock belongs to a repository (by id, so it
-- follows a rename and goes with the repository); one lock per path.
-- owner is who took it, as the audit log names actors. refname is the
-- ref the client named, '' for none. The id is the lock id clients see
-- and the cursor of a listing.

CREATE TABLE lfs_locks (
	id         INTEGER PRIMARY KEY,
	repo_id    INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	path       TEXT NOT NULL CHECK (path <> ''),
	refname    TEXT NOT NULL DEFAULT '',
	owner      TEXT NOT NULL,
	created_at TEXT NOT NULL,
	UNIQUE (repo_id, path)
);
