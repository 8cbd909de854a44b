package main

import (
	"flag"
	"os"
	"time"
)

// DefaultLockWait is how long a push waits for its repository's write
// lock held by another node before it is refused "busy, retry".
const DefaultLockWait = 30 * time.Second

// clusterFlags adds serve's flags for running several nodes on one data
// folder and database (README "Running several nodes").
func clusterFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.NodeName, "node-name", c.NodeName, "this node's name in /healthz (default the host name)")
	fs.DurationVar(&c.LockWait, "lock-wait", c.LockWait, "how long a push waits for its repository's lock held by another node before it is refused (busy, retry)")
}

// defaultNodeName is the host name, or "gatehouse" when it is unknown.
func defaultNodeName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "gatehouse"
}
