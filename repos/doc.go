// Package repos keeps repositories: their metadata (through a RepoStore),
// their bare Git directories under one root folder, the access decision
// applied to them, and the Git protocol served from them by the engine in
// its sub-packages, on go-git's plumbing:
//
//	push ──► receivepack ──► indexpack ─────► refs ──────────► maintenance
//	         commands,       quarantine,      compare-and-swap  trigger
//	         report-status   sizes bounded,   (.lock per ref,   (maybeRepack)
//	                         deltas resolved, atomic: all or        │
//	                         connectivity     none)                 ▼
//	                                                            maintain
//	fetch ─► uploadpack ───► packobjects                        repack ─► odb (.idx)
//	         advertisement,  stored entries                            ─► bitmap
//	         negotiation,    copied, delta                             ─► commitgraph
//	         shallow,        headers rewritten                  Sweep (lockfile)
//	         filters ◄────── bitmap, commitgraph
//
//	archive ─► odb.Reader     receivepack, uploadpack, archive ─► pktline
//	browse ──► odb.Reader     (the panel's code pages: log, trees, files, diffs)
//
// A push (ReceivePack) holds the repository's push lock while it runs.
// receivepack reads the ref commands and hands the pack to indexpack, which
// does index-pack's job: the pack streams into a locked quarantine
// directory, every size and count from the wire is bounded before it is
// allocated, deltas are resolved (thin packs completed from the
// repository), and the new tips are checked to be connected, against what
// the refs reached before the push. Only then is the pack installed, and
// the refs move by compare-and-swap on their old ids (package refs);
// an atomic push moves all of them or none. Before that, outside the ref
// lock, the server's pre-receive and update hooks (package hooks) may
// refuse updates, reading the pushed objects in the quarantine (an object
// directory git can read); post-receive runs once the refs moved. After a
// push a background repack starts if Service.Maintenance says one is
// needed.
//
// A fetch or clone (UploadPack) goes to uploadpack: ref advertisement
// (protocol v0 or v2), negotiation over the client's haves, shallow and
// deepen requests, partial-clone filters. Reachability is answered from
// the pack bitmap and the commit-graph where they exist. The pack is then
// written by packobjects, which does pack-objects' job the cheap way: entries
// stored in the repository's packs are copied, not recompressed.
//
// maintain repacks everything into one pack with its index (odb.WriteIndex),
// reachability bitmap and commit-graph, leaving the old packs for a grace
// period. Its Sweep removes what dead pushes and repacks left behind
// (quarantines, lock files, temporary files), telling dead from live by
// locks that die with their holder (lockfile), never by age.
//
// odb is the object layer under all of them: it lists the packs (one
// rule), maps and writes their indexes, opens each pack once with its
// reverse index (uploadpack hands its packs to bitmap and packobjects),
// and reads loose objects. odb.Reader, the engine's own bounded object
// reader, reads every object the engine reads: for uploadpack (one Reader
// per conversation, whose packs it hands to bitmap and packobjects),
// indexpack (thin-pack bases, connectivity), packobjects (deltas written
// whole), maintain (the repack's walk) and archive (UploadArchive, `git
// archive --remote`). pktline frames every exchange and multiplexes the
// side-band channels; indexpack/packtest builds the hostile packs and
// pushes the tests send.
package repos
