package sshd

// Observer is told of connections, logins and limit refusals as they
// happen: the metrics hook. It is called at the event itself, whatever
// the audit log keeps of it; audit entries are throttled in a flood, and
// what is counted must not be. Its methods must be quick and safe for
// concurrent use.
type Observer interface {
	// Connection is a TCP connection accepted, before any check.
	Connection()
	// LoginAccepted is a session whose actor was identified.
	LoginAccepted()
	// LoginRefused is a key refused at login; why says why.
	LoginRefused(why string)
	// LimitRefused is a connection or session refused by a limit, or an
	// address banned by one; limit names it.
	LimitRefused(limit string)
}

// noObserver is the Observer of a Server that was given none.
type noObserver struct{}

func (noObserver) Connection()         {}
func (noObserver) LoginAccepted()      {}
func (noObserver) LoginRefused(string) {}
func (noObserver) LimitRefused(string) {}
