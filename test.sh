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
# The store's tests also run against PostgreSQL (Debian's postgresql): unless
# GATEHOUSE_TEST_POSTGRES names a server already (a postgres:// URL of a role
# that may CREATE DATABASE), this starts a throwaway cluster listening only on
# 127.0.0.1 (trust auth for loopback, data in a temporary folder, stopped at
# exit) and exports GATEHOUSE_TEST_POSTGRES for the tests.
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
# initdb and pg_ctl are on PATH or in Debian's versioned folder.
pgbin() {
	local d
	for d in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")" /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}
[ -n "${GATEHOUSE_TEST_POSTGRES:-}" ] || need pgbin postgresql
need 'have haproxy || [ -x /usr/sbin/haproxy ]' haproxy
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

# start_postgres starts the throwaway cluster described at the top. The
# server refuses to run as root, so as root it runs as the postgres user the
# package created.
start_postgres() {
	local port
	pg_bin=$(pgbin)
	pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-pg.XXXXXX")
	pg_as=()
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$pg_dir"
		pg_as=(runuser -u postgres --)
	fi
	# A free port: bind port 0 and read what the kernel chose.
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"${pg_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -E UTF8 --locale=C \
		--auth-local=trust --auth-host=trust >"$pg_dir/initdb.log" 2>&1 ||
		{ cat "$pg_dir/initdb.log" >&2; return 1; }
	# listen_addresses=127.0.0.1: trust auth is for loopback only; the
	# socket goes in the temporary folder, not /run/postgresql. Durability
	# is off: the server and its data last as long as the tests.
	"${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -s \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start || { cat "$pg_dir/server.log" >&2; return 1; }
	trap stop_postgres EXIT
	export GATEHOUSE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	echo "test.sh: PostgreSQL on 127.0.0.1:$port (data in $pg_dir)" >&2
}
stop_postgres() {
	"${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -s stop || true
	rm -rf "$pg_dir"
}
if [ -z "${GATEHOUSE_TEST_POSTGRES:-}" ]; then
	start_postgres
fi

# Not exec: the trap above stops PostgreSQL when the tests end.
go test -race -count=1 "$@" ./...
