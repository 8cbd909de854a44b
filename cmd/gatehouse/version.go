package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildInfo returns the commit and build date: the ones stamped by the
// release build, else what go build recorded of the checkout ("unknown"
// when neither says).
func buildInfo() (commit, date string) {
	commit, date = Commit, BuildDate
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && commit == "":
				commit = s.Value
			case s.Key == "vcs.time" && date == "":
				date = s.Value
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	if date == "" {
		date = "unknown"
	}
	return commit, date
}

// printVersion prints the version, commit and build date.
func printVersion(w io.Writer) {
	commit, date := buildInfo()
	fmt.Fprintf(w, "gatehouse %s\ncommit %s\nbuilt %s with %s for %s/%s\n", Version, commit, date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
