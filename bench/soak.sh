#!/usr/bin/env bash
# The soak: the real gatehouse binary under concurrent pushes (own
# branches, a race for one branch, a killed 20 MB push), clones and fetches
# (protocol v2 and v0), `gatehouse repo gc` every few seconds and a
# SIGTERM or SIGKILL restart every ~30 s, on 127.0.0.1 only. It fails on
# any read or push that failed while the server was up, an acknowledged
# push lost, a repository not fsck-clean, a SIGTERM exit not 0 within the
# grace period, leftovers after a restart, or an ERROR logged for a client
# going away. The driver is TestSoak in cmd/gatehouse/soak_test.go (its
# header says what is checked and how operations are counted).
#
#   bench/soak.sh            # 90s, as .ci/run runs it
#   bench/soak.sh 10m        # longer (30s to 1h; a number, then s, m or h)
#
# Prints the table of operations, failures and the peak RSS of each server
# lifetime, and keeps it with the server log in $GATEHOUSE_ARTIFACTS/soak
# (default artifacts/soak). Needs go, git, ssh and ssh-keygen.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-90s}
case $dur in
*s) secs=${dur%s} ;;
*m) secs=$((${dur%m} * 60)) ;;
*h) secs=$((${dur%h} * 3600)) ;;
*) secs=x ;;
esac
[[ $secs =~ ^[0-9]+$ ]] || {
	echo "soak.sh: duration $dur: want a number followed by s, m or h" >&2
	exit 2
}
# Bounded: the soak, then up to 90s for running operations to end, the
# checks and the builds.
GATEHOUSE_SOAK=$dur exec go test -count=1 -v -timeout "$((secs + 600))s" -run '^TestSoak$' ./cmd/gatehouse/
