package refs

// PackedCreates lets tests lower how many creates send a batch to
// packed-refs.
var PackedCreates = &packedCreates
