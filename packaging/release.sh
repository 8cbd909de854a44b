#!/usr/bin/env bash
# Builds release binaries of gatehouse, stamped with their version, commit
# and build date (`gatehouse version` prints them), with a SHA256SUMS:
#
#	packaging/release.sh [VERSION]        # into dist/
#
# VERSION defaults to `git describe --tags --always --dirty`. OUT sets the
# output folder. PLATFORMS lists GOOS/GOARCH pairs (default: this machine's);
# SQLite needs cgo, so another platform needs its C cross compiler as CC.
# SOURCE_DATE_EPOCH, when set, is the build date (reproducible builds).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
else
	date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fi
out=${OUT:-dist}
platforms=${PLATFORMS:-$(go env GOOS)/$(go env GOARCH)}
mkdir -p "$out"

for p in $platforms; do
	os=${p%/*}
	arch=${p#*/}
	bin="$out/gatehouse-$version-$os-$arch"
	echo "release.sh: building $bin" >&2
	CGO_ENABLED=1 GOOS=$os GOARCH=$arch go build -trimpath \
		-ldflags "-s -w -X main.Version=$version -X main.Commit=$commit -X main.BuildDate=$date" \
		-o "$bin" ./cmd/gatehouse
done
(cd "$out" && sha256sum gatehouse-"$version"-* >SHA256SUMS)
echo "release.sh: $version ($commit, $date) in $out" >&2
