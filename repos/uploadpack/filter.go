package uploadpack

import (
	"fmt"
	"strconv"
	"strings"

	"gatehouse/repos/pktline"
)

// filterKind is a partial clone filter, as git's list-objects-filter
// names them. Only the kinds below are served; the others ("sparse:oid",
// "combine:", "object:type") are refused with a message.
type filterKind int

const (
	filterNone      filterKind = iota
	filterBlobNone             // blob:none: no blobs
	filterBlobLimit            // blob:limit=N: no blobs of N bytes or more
	filterTreeDepth            // tree:N: no trees or blobs N or more levels below a root tree
)

// maxFilterSpec bounds the filter text quoted back in an error.
const maxFilterSpec = 100

// filter is one parsed filter spec. Objects the client named in a want
// are sent whatever the filter says, as git does (the lazy fetch of a
// missing blob asks for it by id under "blob:none").
type filter struct {
	kind  filterKind
	limit int64 // bytes for blob:limit, depth for tree:
}

// parseFilter reads a filter spec as `git clone --filter` writes it.
func parseFilter(spec string) (filter, error) {
	switch {
	case spec == "blob:none":
		return filter{kind: filterBlobNone}, nil
	case strings.HasPrefix(spec, "blob:limit="):
		n, ok := parseSize(spec[len("blob:limit="):])
		if !ok {
			return filter{}, fmt.Errorf("invalid filter-spec '%s'", pktline.Clip(spec))
		}
		return filter{kind: filterBlobLimit, limit: n}, nil
	case strings.HasPrefix(spec, "tree:"):
		n, err := strconv.ParseInt(spec[len("tree:"):], 10, 64)
		if err != nil || n < 0 {
			return filter{}, fmt.Errorf("invalid filter-spec '%s'", pktline.Clip(spec))
		}
		return filter{kind: filterTreeDepth, limit: n}, nil
	}
	return filter{}, fmt.Errorf("filter '%s' not supported (use blob:none, blob:limit=N or tree:N)", pktline.Clip(spec))
}

// parseSize reads a byte count with git's optional k, m or g suffix.
func parseSize(s string) (int64, bool) {
	mul := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mul = 1 << 10
		case 'm', 'M':
			mul = 1 << 20
		case 'g', 'G':
			mul = 1 << 30
		}
		if mul > 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mul {
		return 0, false
	}
	return n * mul, true
}
