// Package odb is the engine's object layer: it owns git's object
// formats on disk, and every other package of the engine reads and
// writes them through it.
//
//   - Which packs there are: ListPacks, the one listing rule (pack.go).
//   - Pack indexes, version 2: WriteIndex, ReadIndex, and OpenIndex to map
//     one (idx.go).
//   - A pack opened once and shared: Pack, its mapped index, its file
//     checked against the index, and its reverse index, RevIndex (offset
//     to object, entry ends), built on first use (pack.go, revindex.go).
//   - Pack entries: their headers, read and written (header.go), and
//     their zlib data inflated to exactly the declared size (entry.go).
//   - Deltas: DeltaReader and ApplyDelta, every result size bounded
//     first (delta.go), and BaseCache, the one bounded cache of delta
//     bases (cache.go).
//   - Loose objects: LoosePath, StatLoose, OpenLoose (loose.go).
//   - Object contents: TreeIter, a tree's entries without an allocation
//     each (tree.go); ParseCommit and ParseTag (commit.go); Peel
//     (peel.go).
//   - Reader (OpenReader, OpenSnapshot), the engine's one object reader:
//     packs through their mapped index, delta chains resolved
//     iteratively with one bounded base cache, and loose objects, with
//     every size bounded before it is allocated. Every object the engine
//     reads goes through one: repos/uploadpack (one per conversation,
//     whose packs it hands to repos/packobjects and repos/bitmap),
//     repos/indexpack (thin-pack bases, connectivity walks),
//     repos/packobjects (the deltas it must write whole), repos/maintain
//     (the repack's walk) and repos/archive.
//   - ErrCorrupt, the one sentinel for damaged data (corrupt.go), which
//     the other packages' own corruption errors also match.
package odb
