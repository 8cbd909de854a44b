// Package commitgraph reads and writes git's commit-graph file
// (objects/info/commit-graph, or the split chain under
// objects/info/commit-graphs), which holds for every commit its tree,
// parents, commit time and generation number, so that history can be
// walked without inflating commit objects.
//
// A graph lists its commits sorted by id behind a 256-entry fanout; a
// commit's parents are positions in that list, and the parents of octopus
// merges beyond the first spill into a separate edge list. A split chain
// is a stack of such files, each numbering its commits after those of the
// files below it. See git's Documentation/gitformat-commit-graph.txt.
package commitgraph

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// ErrNone reports that the repository has no usable commit-graph: none
// at all, or one in a version or hash this package does not read.
var ErrNone = errors.New("commitgraph: no commit-graph")

// ErrCorrupt reports a damaged commit-graph file or chain; it matches
// odb.ErrCorrupt too.
var ErrCorrupt = odb.CorruptKind("commitgraph: corrupt")

const (
	hashSize   = 20
	headerSize = 8
	tocEntry   = 12
	cdatSize   = hashSize + 16

	parentNone = 0x70000000 // no parent in this slot
	extraEdges = 0x80000000 // second slot indexes the edge list
	lastEdge   = 0x80000000 // marks an octopus merge's final parent
	overflow   = 0x80000000 // GDA2 entry indexes GDO2

	// genV1Max is the largest topological level the file can hold;
	// deeper commits are all stored with it.
	genV1Max = 0x3fffffff

	// maxCommits keeps every position below parentNone.
	maxCommits = 1<<30 + 1<<29 + 1<<28 - 1
)

// Chunk ids.
const (
	chunkFanout   = 'O'<<24 | 'I'<<16 | 'D'<<8 | 'F'
	chunkLookup   = 'O'<<24 | 'I'<<16 | 'D'<<8 | 'L'
	chunkData     = 'C'<<24 | 'D'<<16 | 'A'<<8 | 'T'
	chunkEdges    = 'E'<<24 | 'D'<<16 | 'G'<<8 | 'E'
	chunkGenData  = 'G'<<24 | 'D'<<16 | 'A'<<8 | '2'
	chunkGenOver  = 'G'<<24 | 'D'<<16 | 'O'<<8 | '2'
	chunkBaseList = 'B'<<24 | 'A'<<16 | 'S'<<8 | 'E'
)

// Commit is one commit as a commit-graph records it.
type Commit struct {
	ID      plumbing.Hash
	Tree    plumbing.Hash
	Parents []plumbing.Hash
	// When is the committer time in Unix seconds (34 bits in the file).
	When int64
	// Generation is the topological level: 1 for a root commit, else one
	// more than the highest level among the parents, capped at 2^30-1.
	// Files written by git before 2.19 hold 0.
	Generation uint32
	// CorrectedDate is the corrected commit date (generation number v2)
	// when every file of the graph carries one, else 0.
	CorrectedDate int64
}

// Graph is a commit-graph read whole into memory: the files plus a few
// words per file. It is read-only once opened, so its methods may be
// called from any number of goroutines.
type Graph struct {
	layers []layer // base first
	n      uint32  // commits in all layers
	genV2  bool    // every layer has GDA2
}

// layer is one commit-graph file. Its chunks are subslices of data,
// bounds-checked by parseLayer so that lookups need no checks.
type layer struct {
	base   uint32 // position of its first commit in the whole graph
	n      uint32
	fanout []byte
	oidl   []byte
	cdat   []byte
	edges  []byte
	gda2   []byte
	gdo2   []byte
}

// unsupportedError is a well-formed file this package does not read;
// Open reports it as ErrNone rather than ErrCorrupt.
type unsupportedError string

func (e unsupportedError) Error() string { return string(e) }

// Open reads gitDir's commit-graph: objects/info/commit-graph if present
// (as git prefers it), else the split chain named by
// objects/info/commit-graphs/commit-graph-chain. Like git, Open uses the
// layers of a chain below the first one whose file is missing.
//
// It fails with ErrNone when there is no graph, or one of another version
// or hash function; with ErrCorrupt when a file's checksum, header or any
// chunk's bounds or contents are wrong, or a chain's files do not fit
// together; and with the I/O error when a file cannot be read.
func Open(gitDir string) (*Graph, error) {
	info := filepath.Join(gitDir, "objects", "info")
	d, err := os.ReadFile(filepath.Join(info, "commit-graph"))
	if errors.Is(err, fs.ErrNotExist) {
		return openChain(filepath.Join(info, "commit-graphs"))
	}
	if err != nil {
		return nil, err
	}
	return parseFile(d)
}

// parseFile reads a single-file graph d.
func parseFile(d []byte) (*Graph, error) {
	g := &Graph{}
	if err := g.add(d, nil); err != nil {
		return nil, fileError("commit-graph", err)
	}
	g.finish()
	return g, nil
}

// openChain reads a split commit-graph, base layer first.
func openChain(dir string) (*Graph, error) {
	text, err := os.ReadFile(filepath.Join(dir, "commit-graph-chain"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNone
	}
	if err != nil {
		return nil, err
	}
	names := strings.Fields(string(text))
	// The header's base count is one byte.
	if len(names) > 256 {
		return nil, fmt.Errorf("%w: commit-graph-chain: %d layers", ErrCorrupt, len(names))
	}
	g := &Graph{}
	var bases []plumbing.Hash
	for _, name := range names {
		b, err := hex.DecodeString(name)
		if err != nil || len(b) != hashSize {
			return nil, fmt.Errorf("%w: commit-graph-chain: bad line %q", ErrCorrupt, name)
		}
		h := plumbing.Hash(b)
		file := "graph-" + name + ".graph"
		d, err := os.ReadFile(filepath.Join(dir, file))
		if errors.Is(err, fs.ErrNotExist) {
			// A concurrent rewrite may have removed the upper layers;
			// those below still form a graph closed under parents.
			break
		}
		if err != nil {
			return nil, err
		}
		if err := g.add(d, bases); err != nil {
			return nil, fileError(file, err)
		}
		if !bytes.Equal(d[len(d)-hashSize:], h[:]) {
			return nil, fmt.Errorf("%w: %s: checksum does not match its name", ErrCorrupt, file)
		}
		bases = append(bases, h)
	}
	if len(g.layers) == 0 {
		return nil, ErrNone
	}
	g.finish()
	return g, nil
}

func fileError(file string, err error) error {
	var u unsupportedError
	if errors.As(err, &u) {
		return fmt.Errorf("%w: %s: %v", ErrNone, file, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, file, err)
}

// finish decides whether corrected dates are usable: as in git, only if
// every layer has them, since a walk mixing the two generation kinds
// would cut off commits wrongly.
func (g *Graph) finish() {
	g.genV2 = true
	for i := range g.layers {
		if g.layers[i].gda2 == nil {
			g.genV2 = false
		}
	}
}

// add checks one file d whose base graphs are bases (checksums, base
// first) and stacks it on g.
func (g *Graph) add(d []byte, bases []plumbing.Hash) error {
	if len(d) < headerSize+tocEntry+hashSize || string(d[:4]) != "CGPH" {
		return errors.New("bad signature")
	}
	end := len(d) - hashSize
	sum := sha1.Sum(d[:end])
	if !bytes.Equal(sum[:], d[end:]) {
		return errors.New("checksum mismatch")
	}
	if d[4] != 1 {
		return unsupportedError(fmt.Sprintf("version %d", d[4]))
	}
	if d[5] != 1 {
		return unsupportedError(fmt.Sprintf("hash version %d", d[5]))
	}
	if int(d[7]) != len(bases) {
		return fmt.Errorf("%d base graphs, chain has %d", d[7], len(bases))
	}

	// The table of contents: C entries and a terminating label, whose
	// offset ends the last chunk.
	nChunks := int(d[6])
	tocEnd := headerSize + (nChunks+1)*tocEntry
	if tocEnd > end {
		return errors.New("chunk table truncated")
	}
	l := layer{base: g.n}
	var baseList []byte
	for i := range nChunks {
		e := d[headerSize+i*tocEntry:]
		id := binary.BigEndian.Uint32(e)
		off := binary.BigEndian.Uint64(e[4:])
		next := binary.BigEndian.Uint64(e[tocEntry+4:])
		if id == 0 {
			return fmt.Errorf("chunk %d has id 0", i)
		}
		if off < uint64(tocEnd) || next < off || next > uint64(end) {
			return fmt.Errorf("chunk %s out of bounds", chunkName(id))
		}
		for j := range i {
			if binary.BigEndian.Uint32(d[headerSize+j*tocEntry:]) == id {
				return fmt.Errorf("chunk %s twice", chunkName(id))
			}
		}
		body := d[off:next:next]
		switch id {
		case chunkFanout:
			l.fanout = body
		case chunkLookup:
			l.oidl = body
		case chunkData:
			l.cdat = body
		case chunkEdges:
			l.edges = body
		case chunkGenData:
			l.gda2 = body
		case chunkGenOver:
			l.gdo2 = body
		case chunkBaseList:
			baseList = body
		}
	}
	if binary.BigEndian.Uint32(d[headerSize+nChunks*tocEntry:]) != 0 {
		return errors.New("chunk table not terminated")
	}

	if len(l.fanout) != 256*4 {
		return errors.New("missing or short OIDF chunk")
	}
	n := binary.BigEndian.Uint32(l.fanout[255*4:])
	if uint64(g.n)+uint64(n) > maxCommits {
		return fmt.Errorf("%d commits", uint64(g.n)+uint64(n))
	}
	l.n = n
	if uint64(len(l.oidl)) != uint64(n)*hashSize {
		return errors.New("OIDL chunk does not match the fanout")
	}
	if uint64(len(l.cdat)) != uint64(n)*cdatSize {
		return errors.New("CDAT chunk does not match the fanout")
	}
	if err := l.checkIDs(); err != nil {
		return err
	}
	if len(bases) > 0 {
		if len(baseList) != len(bases)*hashSize {
			return errors.New("BASE chunk does not match the header")
		}
		for i, h := range bases {
			if !bytes.Equal(baseList[i*hashSize:(i+1)*hashSize], h[:]) {
				return fmt.Errorf("base graph %d is not the chain's", i)
			}
		}
	}
	if err := l.checkEdges(g.n + n); err != nil {
		return err
	}
	if err := l.checkData(g.n + n); err != nil {
		return err
	}
	if err := l.checkGenData(); err != nil {
		return err
	}
	g.layers = append(g.layers, l)
	g.n += n
	return nil
}

// checkIDs checks that the ids are strictly ascending and that each lies
// in its fanout bucket, which is what binary search in find relies on.
func (l *layer) checkIDs() error {
	i := uint32(0)
	for b := range 256 {
		hi := binary.BigEndian.Uint32(l.fanout[4*b:])
		if hi < i || hi > l.n {
			return fmt.Errorf("fanout entry %d out of order", b)
		}
		for ; i < hi; i++ {
			id := l.oidl[hashSize*i : hashSize*(i+1)]
			if int(id[0]) != b {
				return fmt.Errorf("commit %d outside its fanout bucket", i)
			}
			if i > 0 && bytes.Compare(l.oidl[hashSize*(i-1):hashSize*i], id) >= 0 {
				return fmt.Errorf("commit %d out of order", i)
			}
		}
	}
	return nil
}

// checkEdges checks that every edge names a commit of the graph so far
// (total of them) and that the list ends an octopus, so that walking an
// octopus's edges from any index stops inside the chunk.
func (l *layer) checkEdges(total uint32) error {
	if len(l.edges)%4 != 0 {
		return errors.New("EDGE chunk size not a multiple of 4")
	}
	for j := 0; j < len(l.edges); j += 4 {
		if binary.BigEndian.Uint32(l.edges[j:])&^lastEdge >= total {
			return fmt.Errorf("edge %d out of range", j/4)
		}
	}
	if len(l.edges) > 0 && binary.BigEndian.Uint32(l.edges[len(l.edges)-4:])&lastEdge == 0 {
		return errors.New("EDGE chunk does not end an octopus")
	}
	return nil
}

// checkData checks every commit's parent positions.
func (l *layer) checkData(total uint32) error {
	nEdges := uint32(len(l.edges) / 4)
	for i := uint32(0); i < l.n; i++ {
		e := l.cdat[cdatSize*i:]
		p1 := binary.BigEndian.Uint32(e[hashSize:])
		p2 := binary.BigEndian.Uint32(e[hashSize+4:])
		switch {
		case p1 == parentNone:
			if p2 != parentNone {
				return fmt.Errorf("commit %d: second parent without a first", i)
			}
		case p1 >= total:
			return fmt.Errorf("commit %d: parent out of range", i)
		case p2 == parentNone:
		case p2&extraEdges != 0:
			if p2&^extraEdges >= nEdges {
				return fmt.Errorf("commit %d: edge index out of range", i)
			}
		case p2 >= total:
			return fmt.Errorf("commit %d: parent out of range", i)
		}
	}
	return nil
}

// checkGenData checks the corrected commit date chunks, if present.
func (l *layer) checkGenData() error {
	if l.gda2 == nil {
		return nil
	}
	if uint64(len(l.gda2)) != uint64(l.n)*4 {
		return errors.New("GDA2 chunk does not match the fanout")
	}
	if len(l.gdo2)%8 != 0 {
		return errors.New("GDO2 chunk size not a multiple of 8")
	}
	nOver := uint32(len(l.gdo2) / 8)
	for j := 0; j < len(l.gda2); j += 4 {
		v := binary.BigEndian.Uint32(l.gda2[j:])
		if v&overflow != 0 && v&^overflow >= nOver {
			return fmt.Errorf("commit %d: GDO2 index out of range", j/4)
		}
	}
	return nil
}

func chunkName(id uint32) string {
	b := binary.BigEndian.AppendUint32(nil, id)
	for _, c := range b {
		if c < ' ' || c > '~' {
			return fmt.Sprintf("%#08x", id)
		}
	}
	return string(b)
}

// Len is the number of commits in the graph.
func (g *Graph) Len() int { return int(g.n) }

// GenerationV2 reports whether commits carry corrected commit dates.
func (g *Graph) GenerationV2() bool { return g.genV2 }

// Lookup returns the commit id, or false if the graph lacks it (it is
// not a commit, or newer than the graph).
func (g *Graph) Lookup(id plumbing.Hash) (Commit, bool) {
	var c Commit
	ok := g.LookupInto(id, &c)
	return c, ok
}

// LookupInto is Lookup filling c, reusing c.Parents' storage, so that a
// walk can look up commits without allocating. c is unchanged when
// LookupInto returns false.
func (g *Graph) LookupInto(id plumbing.Hash, c *Commit) bool {
	// Split layers hold disjoint commits; the newest are the likelier.
	for k := len(g.layers) - 1; k >= 0; k-- {
		l := &g.layers[k]
		if i, ok := l.find(id); ok {
			g.fill(l, i, c)
			return true
		}
	}
	return false
}

// find returns id's position in l, by binary search in its fanout bucket.
func (l *layer) find(id plumbing.Hash) (uint32, bool) {
	lo := uint32(0)
	if id[0] > 0 {
		lo = binary.BigEndian.Uint32(l.fanout[4*(int(id[0])-1):])
	}
	hi := binary.BigEndian.Uint32(l.fanout[4*int(id[0]):])
	for lo < hi {
		m := lo + (hi-lo)/2
		switch c := bytes.Compare(l.oidl[hashSize*m:hashSize*(m+1)], id[:]); {
		case c == 0:
			return m, true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0, false
}

// fill decodes l's commit at position i.
func (g *Graph) fill(l *layer, i uint32, c *Commit) {
	copy(c.ID[:], l.oidl[hashSize*i:])
	e := l.cdat[cdatSize*i : cdatSize*(i+1)]
	copy(c.Tree[:], e)
	p1 := binary.BigEndian.Uint32(e[hashSize:])
	p2 := binary.BigEndian.Uint32(e[hashSize+4:])
	gen := binary.BigEndian.Uint32(e[hashSize+8:])
	c.Generation = gen >> 2
	c.When = int64(gen&3)<<32 | int64(binary.BigEndian.Uint32(e[hashSize+12:]))

	c.Parents = c.Parents[:0]
	if p1 != parentNone {
		c.Parents = append(c.Parents, g.hashAt(p1))
		switch {
		case p2 == parentNone:
		case p2&extraEdges != 0:
			// checkEdges guarantees a last-edge mark before the end.
			for j := p2 &^ extraEdges; ; j++ {
				v := binary.BigEndian.Uint32(l.edges[4*j:])
				c.Parents = append(c.Parents, g.hashAt(v&^lastEdge))
				if v&lastEdge != 0 {
					break
				}
			}
		default:
			c.Parents = append(c.Parents, g.hashAt(p2))
		}
	}

	c.CorrectedDate = 0
	if g.genV2 {
		v := binary.BigEndian.Uint32(l.gda2[4*i:])
		if v&overflow != 0 {
			c.CorrectedDate = c.When + int64(binary.BigEndian.Uint64(l.gdo2[8*(v&^overflow):]))
		} else {
			c.CorrectedDate = c.When + int64(v)
		}
	}
}

// hashAt returns the id at position pos of the whole graph. The callers'
// positions were checked against the layers they come from.
func (g *Graph) hashAt(pos uint32) plumbing.Hash {
	k := len(g.layers) - 1
	for k > 0 && pos < g.layers[k].base {
		k--
	}
	l := &g.layers[k]
	var h plumbing.Hash
	copy(h[:], l.oidl[hashSize*(pos-l.base):])
	return h
}

// All yields every commit of the graph, layer by layer in id order.
// Each Commit is freshly allocated.
func (g *Graph) All() iter.Seq[Commit] {
	return func(yield func(Commit) bool) {
		for k := range g.layers {
			l := &g.layers[k]
			for i := range l.n {
				var c Commit
				g.fill(l, i, &c)
				if !yield(c) {
					return
				}
			}
		}
	}
}
