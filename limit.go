package gatehouse

import "errors"

// ErrLimit: a configured bound (repositories per user, sessions, push
// size...) was reached. Nothing was changed; the message says which bound
// and is safe to show to the caller it concerns.
var ErrLimit = errors.New("limit reached")

// AuditLimit is the audit action for a request refused by a limit; the
// detail names the limit.
const AuditLimit = "limit"
