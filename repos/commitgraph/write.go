package commitgraph

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
)

// Write replaces gitDir's objects/info/commit-graph with a single file
// describing commits, in the order given or any other. It reads each
// commit's ID, Tree, Parents and When; it computes Generation itself and
// ignores CorrectedDate, writing no GDA2 chunk, so git falls back to the
// topological levels.
//
// The file is written to a temporary file beside it, synced and renamed
// into place read-only, so readers see the old graph or the new one.
// A split chain, if any, is left alone; git prefers the single file.
//
// Write fails, leaving the old graph, when commits is empty, holds an id
// twice, names a parent not in commits (a graph must be closed under
// parents), has a cycle, or a time outside git's 34 bits.
func Write(gitDir string, commits []Commit) error {
	data, err := encode(commits)
	if err != nil {
		return err
	}
	// Only objects/info may be missing: creating more would bring back a
	// repository removed meanwhile.
	dir := filepath.Join(gitDir, "objects", "info")
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.CreateTemp(dir, "tmp_graph_")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o444); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "commit-graph")); err != nil {
		return err
	}
	// Make the rename itself durable.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// encode builds the file: header, chunk table, OIDF, OIDL, CDAT, EDGE
// (only for octopus merges) and the checksum.
func encode(commits []Commit) ([]byte, error) {
	n := len(commits)
	if n == 0 {
		return nil, errors.New("commitgraph: no commits to write")
	}
	if n > maxCommits {
		return nil, fmt.Errorf("commitgraph: %d commits is more than a graph holds", n)
	}

	// order[pos] is the index in commits of the commit at position pos.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return bytes.Compare(commits[a].ID[:], commits[b].ID[:])
	})
	for pos := 1; pos < n; pos++ {
		if commits[order[pos]].ID == commits[order[pos-1]].ID {
			return nil, fmt.Errorf("commitgraph: commit %s given twice", commits[order[pos]].ID)
		}
	}
	position := func(id plumbing.Hash) (uint32, bool) {
		pos, ok := slices.BinarySearchFunc(order, id, func(i int, id plumbing.Hash) int {
			return bytes.Compare(commits[i].ID[:], id[:])
		})
		return uint32(pos), ok
	}

	// Parent positions, flat: those of the commit at pos are
	// parents[start[pos]:start[pos+1]].
	start := make([]uint32, n+1)
	var parents []uint32
	for pos, i := range order {
		c := &commits[i]
		if c.When < 0 || c.When >= 1<<34 {
			return nil, fmt.Errorf("commitgraph: commit %s: time %d out of range", c.ID, c.When)
		}
		for _, p := range c.Parents {
			pp, ok := position(p)
			if !ok {
				return nil, fmt.Errorf("commitgraph: commit %s: parent %s not in the graph", c.ID, p)
			}
			parents = append(parents, pp)
		}
		start[pos+1] = uint32(len(parents))
	}
	gens, err := levels(order, commits, start, parents)
	if err != nil {
		return nil, err
	}

	// Octopus merges list their second and later parents in EDGE.
	var edges []byte
	cdat := make([]byte, 0, n*cdatSize)
	for pos, i := range order {
		c := &commits[i]
		ps := parents[start[pos]:start[pos+1]]
		p1, p2 := uint32(parentNone), uint32(parentNone)
		switch {
		case len(ps) == 0:
		case len(ps) <= 2:
			p1 = ps[0]
			if len(ps) == 2 {
				p2 = ps[1]
			}
		default:
			p1, p2 = ps[0], extraEdges|uint32(len(edges)/4)
			for k, p := range ps[1:] {
				if k == len(ps)-2 {
					p |= lastEdge
				}
				edges = binary.BigEndian.AppendUint32(edges, p)
			}
		}
		cdat = append(cdat, c.Tree[:]...)
		cdat = binary.BigEndian.AppendUint32(cdat, p1)
		cdat = binary.BigEndian.AppendUint32(cdat, p2)
		cdat = binary.BigEndian.AppendUint32(cdat, gens[pos]<<2|uint32(c.When>>32))
		cdat = binary.BigEndian.AppendUint32(cdat, uint32(c.When))
	}
	if len(edges)/4 >= extraEdges {
		return nil, errors.New("commitgraph: too many octopus parents")
	}

	var fanout [256 * 4]byte
	var counts [256]uint32
	oidl := make([]byte, 0, n*hashSize)
	for _, i := range order {
		id := commits[i].ID
		oidl = append(oidl, id[:]...)
		counts[id[0]]++
	}
	sum := uint32(0)
	for b, k := range counts {
		sum += k
		binary.BigEndian.PutUint32(fanout[4*b:], sum)
	}

	type chunk struct {
		id   uint32
		body []byte
	}
	chunks := []chunk{{chunkFanout, fanout[:]}, {chunkLookup, oidl}, {chunkData, cdat}}
	if len(edges) > 0 {
		chunks = append(chunks, chunk{chunkEdges, edges})
	}
	size := headerSize + (len(chunks)+1)*tocEntry
	for _, c := range chunks {
		size += len(c.body)
	}
	out := make([]byte, 0, size+hashSize)
	// Version 1, SHA-1, no base graphs.
	out = append(out, 'C', 'G', 'P', 'H', 1, 1, byte(len(chunks)), 0)
	off := uint64(headerSize + (len(chunks)+1)*tocEntry)
	for _, c := range chunks {
		out = binary.BigEndian.AppendUint32(out, c.id)
		out = binary.BigEndian.AppendUint64(out, off)
		off += uint64(len(c.body))
	}
	out = binary.BigEndian.AppendUint32(out, 0)
	out = binary.BigEndian.AppendUint64(out, off)
	for _, c := range chunks {
		out = append(out, c.body...)
	}
	check := sha1.Sum(out)
	return append(out, check[:]...), nil
}

// levels computes the topological level of every position: 1 for a
// root, else one more than its highest parent, capped at genV1Max. The
// walk keeps its own stack, as histories can be deeper than Go's.
func levels(order []int, commits []Commit, start, parents []uint32) ([]uint32, error) {
	const (
		unseen = iota
		open   // its parents are being levelled
		done
	)
	n := len(order)
	gens := make([]uint32, n)
	state := make([]uint8, n)
	var stack []uint32
	for root := range n {
		if state[root] == done {
			continue
		}
		stack = append(stack[:0], uint32(root))
		for len(stack) > 0 {
			pos := stack[len(stack)-1]
			ps := parents[start[pos]:start[pos+1]]
			switch state[pos] {
			case unseen:
				state[pos] = open
				for _, p := range ps {
					switch state[p] {
					case unseen:
						stack = append(stack, p)
					case open:
						// An open commit is a descendant of pos.
						return nil, fmt.Errorf("commitgraph: commit %s is its own ancestor", commits[order[p]].ID)
					}
				}
			case open:
				g := uint32(0)
				for _, p := range ps {
					g = max(g, gens[p])
				}
				gens[pos] = min(g+1, genV1Max)
				state[pos] = done
				stack = stack[:len(stack)-1]
			default:
				stack = stack[:len(stack)-1]
			}
		}
	}
	return gens, nil
}
