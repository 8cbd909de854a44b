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
//     repos/uploadpack opens them and hands them to repos/packobjects and
//     repos/bitmap for the same fetch.
//   - Loose objects: LoosePath, StatLoose, OpenLoose (loose.go).
//   - Reader (OpenReader), the engine's own object reader: packs through
//     their mapped index, entry headers, delta chains resolved
//     iteratively with one bounded base cache, and loose objects, with
//     every size bounded before it is allocated. repos/indexpack (thin-pack
//     bases, connectivity walks), repos/packobjects (the deltas it must
//     write whole), repos/maintain (the repack's walk) and repos/archive
//     read through it.
package odb
