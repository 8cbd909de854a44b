#!/usr/bin/env bash
# The test suite: checks that the clients the tests drive are installed,
# installs what is missing with apt (as root, or through sudo), or says
# exactly what to install and exits 1, then runs
#
#	go test -race -count=1 ./...
#
# with any arguments given before the package list, e.g.
# ./test.sh -timeout 25m, ./test.sh -run TestPush.
#
# The end-to-end tests drive real clients: git, git-lfs and OpenSSH, libgit2
# (pygit2), dulwich and JGit for interoperability, ssh-audit for the
# algorithm policy, headless Chromium for the web panel, systemd-analyze
# for the service unit, and mount/unshare for a small disk to fill. A test never
# skips because one is missing; it fails, so check first.
#
# GATEHOUSE_NO_INSTALL=1 only reports what is missing.
set -euo pipefail
cd "$(dirname "$0")"

# need CHECK PACKAGE...: CHECK is a shell test that succeeds when the
# tool is there; PACKAGE the Debian packages that provide it.
missing=()
need() {
	local check=$1
	shift
	if ! eval "$check" >/dev/null 2>&1; then
		missing+=("$@")
	fi
}
have() { command -v "$1"; }
if ! command -v go >/dev/null; then
	echo "test.sh: Go is not on PATH; install Go $(sed -n 's/^go //p' go.mod) or later from https://go.dev/dl/" >&2
	exit 1
fi
need 'have gcc' gcc
need 'have git' git
need 'have git-lfs' git-lfs
need 'have ssh && have ssh-keygen && have ssh-keyscan' openssh-client
need 'have ps' procps
need 'have systemd-analyze' systemd
need 'have unshare && have mount && have umount' util-linux mount
# Debian's Python modules live in the system Python, which a pyenv or
# venv python3 on PATH may hide; the tests try both, so does this.
pyimport() { /usr/bin/python3 -c "import $1" || python3 -c "import $1"; }
need 'pyimport pygit2' python3 python3-pygit2
need 'pyimport dulwich' python3 python3-dulwich
need 'have jgit && have java' jgit-cli default-jre-headless
need 'have ssh-audit' ssh-audit
need 'have chromium || have chromium-browser || have google-chrome || [ -n "${GATEHOUSE_CHROMIUM:-}" ]' \
	chromium fonts-dejavu-core ca-certificates

if [ ${#missing[@]} -gt 0 ]; then
	pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	if [ "${GATEHOUSE_NO_INSTALL:-}" != 1 ] && command -v apt-get >/dev/null &&
		{ [ -z "$sudo" ] || sudo -n true 2>/dev/null; }; then
		echo "test.sh: installing $pkgs" >&2
		export DEBIAN_FRONTEND=noninteractive
		$sudo apt-get update -q
		# shellcheck disable=SC2086
		$sudo apt-get install -y -q --no-install-recommends $pkgs
	else
		echo "test.sh: the tests need these packages (Debian/Ubuntu names):" >&2
		echo "    sudo apt-get install -y --no-install-recommends $pkgs" >&2
		echo "(elsewhere: the same tools from your package manager; Chromium may be" >&2
		echo "given as GATEHOUSE_CHROMIUM=/path/to/chrome)" >&2
		exit 1
	fi
fi

exec go test -race -count=1 "$@" ./...
