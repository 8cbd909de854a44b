#!/usr/bin/env bash
# Gatehouse against plain git behind a private OpenSSH sshd, on the same
# repositories, in one run. Prints a table of medians and ratios.
#
#   bench/run.sh                         # SIZES="small medium" N=5
#   SIZES=small N=3 bench/run.sh
#   OPS="clone push" bench/run.sh
#
# Environment (all optional):
#   SIZES     test repositories: tiny small medium large  (default "small medium")
#   N         repetitions per operation; the median counts (default 5)
#   CONC      clones at once in the concurrent operation   (default 50)
#   OPS       ssh clone clone-again noop-fetch ls-remote incr-fetch push
#             concurrent push-refs mirror ls-remote-refs noop-fetch-refs
#             (default: all). clone is a first clone (Gatehouse's
#             full-clone cache emptied before each); clone-again clones
#             tips cloned before (the cache filled by an untimed clone);
#             concurrent is CONC clones of small at once (wall time of all;
#             failed clones are noted; skipped for other sizes).
#             Many refs: push-refs pushes 225 new branches naming commits
#             the server has (no objects); mirror is push --mirror of the
#             SIZE repository plus 20,000 refs into an empty one;
#             ls-remote-refs and noop-fetch-refs (into a --mirror clone)
#             read that 20,000-ref repository
#   PROTO     git protocol version the client asks for     (default 2)
#   SSHD      absolute path of OpenSSH's sshd               (default /usr/sbin/sshd)
#   GH_PORT, SSHD_PORT   listen ports on 127.0.0.1          (default: free ones)
#   GATEHOUSE_BIN        a gatehouse binary to use instead of building ./cmd/gatehouse
#   GATEHOUSE_DB         Gatehouse's database, read by serve and its commands
#             (--db): empty for SQLite in its data folder (the default), or
#             the postgres:// URL of a new, empty database (createdb one per run)
#   VERIFY=0  skip git fsck --full and ref comparisons
#   KEEP=1    keep bench/out/run (repositories, clones) after the run
#   CLEAN_SHELL=0  let the OpenSSH login shell read ~/.bashrc (see below)
#   TIMEOUT   seconds one operation may take before it counts as failed (default 600)
#   SSH_OPTS  extra ssh client options for both servers, e.g.
#             SSH_OPTS="-o KexAlgorithms=curve25519-sha256" (OpenSSH's own
#             default, sntrup761x25519, costs ~50 ms more per connection)
#
# Needs: go, git, ssh, ssh-keygen, sshd. On Debian/Ubuntu:
#   apt-get install -y git openssh-client openssh-server
# Listens on 127.0.0.1 only. Writes only under bench/out (gitignored):
# bench/out/repos/GOVERSION-vN/ caches the generated repositories,
# bench/out/run/ is the scratch space of the last run (logs kept),
# bench/out/results.txt the last table. Progress goes to stderr, the table
# to stdout.
#
# How it measures: each operation runs N times, the two servers taking
# turns. Gatehouse is started afresh for every (size, operation) phase, so
# its VmHWM (peak RSS, from /proc/PID/status) at the end of a phase is the
# peak of that phase. For OpenSSH the server-side git program is run under
# "benchtool rusage" (via --upload-pack / --receive-pack on the client,
# which sshd runs through the login shell); it records the peak RSS of the
# largest process of the git-upload-pack / git-receive-pack tree
# (pack-objects, index-pack included). sshd's own memory is not counted.
#
# CLEAN_SHELL=1 (default) adds "SetEnv SHLVL=1" to the private sshd's
# configuration: bash then does not read ~/.bashrc for the command sshd
# hands it (bash only does that for a top-level shell). A heavy ~/.bashrc
# (pyenv init, ...) would otherwise add its cost to every OpenSSH
# operation; a real git account does not pay it.
set -euo pipefail
export LC_ALL=C

SCRIPT_VERSION=2 # bump when the generated repositories change

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=$BENCH/out
SIZES=${SIZES:-"small medium"}
N=${N:-5}
OPS=${OPS:-"ssh clone clone-again noop-fetch ls-remote incr-fetch push concurrent push-refs mirror ls-remote-refs noop-fetch-refs"}
CONC=${CONC:-50}
PROTO=${PROTO:-2}
SSHD=${SSHD:-/usr/sbin/sshd}
VERIFY=${VERIFY:-1}
KEEP=${KEEP:-0}
CLEAN_SHELL=${CLEAN_SHELL:-1}
TIMEOUT=${TIMEOUT:-600}

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# ---------------------------------------------------------------- checks

[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT must be a positive integer (seconds)"
for s in $SIZES; do
	case $s in tiny | small | medium | large) ;; *) die "unknown size $s (tiny, small, medium, large)" ;; esac
done
for o in $OPS; do
	case $o in ssh | clone | clone-again | noop-fetch | ls-remote | incr-fetch | push | concurrent) ;;
	push-refs | mirror | ls-remote-refs | noop-fetch-refs) ;;
	*) die "unknown operation $o" ;;
	esac
done
missing=()
for c in go git ssh ssh-keygen; do command -v "$c" >/dev/null || missing+=("$c"); done
[[ $SSHD == /* ]] || die "SSHD must be an absolute path (sshd refuses to re-exec otherwise)"
[[ -x $SSHD ]] || missing+=("$SSHD")
if ((${#missing[@]})); then
	die "missing: ${missing[*]}; on Debian/Ubuntu: apt-get install -y git openssh-client openssh-server (and Go from go.dev)"
fi
if [[ $(id -u) == 0 && ! -d /run/sshd ]]; then
	# sshd started as root insists on its privilege separation directory,
	# which the package only creates when the system service starts.
	log "creating /run/sshd (sshd's privilege separation directory)"
	mkdir -m 0755 /run/sshd
fi

read -ra size_list <<<"$SIZES"
FIRST_SIZE=${size_list[0]:-}
[[ -n $FIRST_SIZE ]] || die "SIZES is empty"
GOVER=$(go env GOVERSION)
GOSRC=$(go env GOROOT)/src
CACHE=$OUT/repos/$GOVER-v$SCRIPT_VERSION
RUN=$OUT/run
BIN=$OUT/bin
TOOL=$BIN/benchtool
mkdir -p "$BIN" "$CACHE"

# A private git configuration for everything this script runs.
rm -rf "$RUN"
mkdir -p "$RUN/logs" "$RUN/rss" "$RUN/work" "$RUN/ossh" "$RUN/sshd"
cat >"$RUN/gitconfig" <<EOF
[user]
	name = Bench Client
	email = client@example.com
[init]
	defaultBranch = main
[gc]
	auto = 0
[maintenance]
	auto = false
[protocol]
	version = $PROTO
[advice]
	detachedHead = false
EOF
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$RUN/gitconfig GIT_TERMINAL_PROMPT=0
unset SSH_AUTH_SOCK GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES

# ---------------------------------------------------------------- build

# Never the URL itself: it may hold a password.
GH_DB_KIND="SQLite in its data folder"
[[ -z ${GATEHOUSE_DB:-} ]] || GH_DB_KIND="PostgreSQL (GATEHOUSE_DB)"
log "gatehouse database: $GH_DB_KIND"

log "building gatehouse and benchtool"
if [[ -n ${GATEHOUSE_BIN:-} ]]; then
	GH=$GATEHOUSE_BIN
else
	GH=$BIN/gatehouse
	(cd "$ROOT" && go build -o "$GH" ./cmd/gatehouse) || die "gatehouse does not build (GATEHOUSE_BIN=path uses a binary you built)"
fi
(cd "$BENCH" && go build -o "$TOOL" benchtool.go) || die "benchtool does not build"

# ---------------------------------------------------------------- repositories

size_args() {
	case $1 in
	tiny) echo "-dirs strings,bytes -commits 40 -versions 2" ;;
	small) echo "-dirs bufio,bytes,container,encoding,errors,fmt,io,path,regexp,sort,strconv,strings,text,unicode -commits 300 -versions 3" ;;
	medium) echo "-commits 1500 -versions 3" ;;
	large) echo "-commits 24000 -versions 12 -assets 216" ;;
	esac
}

# build_repo SIZE: the cached bare repository for SIZE, generated from
# GOROOT/src by fast-import, then "git gc" (one pack, bitmap, commit-graph,
# packed refs: what a maintained server repository looks like).
build_repo() {
	local size=$1 dest=$CACHE/$1.git tmp
	[[ -f $CACHE/$size.ready ]] && return 0
	log "generating the $size repository from $GOSRC (cached in $CACHE)"
	tmp=$CACHE/$size.tmp.$$
	rm -rf "$dest" "$tmp"
	git init -q --bare -b main "$tmp"
	# shellcheck disable=SC2046 # size_args is a word list on purpose
	"$TOOL" gen -root "$GOSRC" $(size_args "$size") | git -C "$tmp" fast-import --quiet
	git -C "$tmp" gc -q
	mv "$tmp" "$dest"
	git -C "$dest" rev-parse refs/heads/main >"$CACHE/$size.ready"
}

# build_refs_repo SIZE: the cached SIZE repository plus 20,000 refs over
# its commits, as a mirror of a busy project has: 10,000 pull-request
# refs (refs/pull/N/head), 5,000 branches (refs/heads/feature/fN) and
# 5,000 annotated tags (refs/tags/rN), then "git gc" like the others.
build_refs_repo() {
	local size=$1 dest=$CACHE/$1-refs.git tmp
	[[ -f $CACHE/$size-refs.ready ]] && return 0
	log "generating the $size repository with 20,000 refs (cached in $CACHE)"
	tmp=$CACHE/$size-refs.tmp.$$
	rm -rf "$dest" "$tmp"
	git clone -q --mirror "$CACHE/$size.git" "$tmp"
	git -C "$tmp" rev-list refs/heads/main | awk '{ c[NR - 1] = $1 } END {
		for (i = 0; i < 10000; i++) printf "reset refs/pull/%d/head\nfrom %s\n\n", i, c[i % NR]
		for (i = 0; i < 5000; i++) printf "reset refs/heads/feature/f%d\nfrom %s\n\n", i, c[(3 * i) % NR]
		for (i = 0; i < 5000; i++) {
			msg = sprintf("release r%d\n", i)
			printf "tag r%d\nfrom %s\ntagger Bench Tagger <tagger@example.com> %d +0000\ndata %d\n%s\n", i, c[(7 * i) % NR], 1700000000 + i, length(msg), msg
		}
	}' | git -C "$tmp" fast-import --quiet
	git -C "$tmp" gc -q
	mv "$tmp" "$dest"
	git -C "$dest" for-each-ref --format=x | wc -l >"$CACHE/$size-refs.ready"
}

repo_stats() { # SIZE -> "C commits, O objects, P MiB packed"
	local d=$CACHE/$1.git
	printf '%s commits on main, %s objects, %s packed' \
		"$(git -C "$d" rev-list --count refs/heads/main)" \
		"$(git -C "$d" count-objects -v | awk '$1=="in-pack:"{print $2}')" \
		"$(du -sh "$d/objects/pack" | cut -f1)"
}

# ---------------------------------------------------------------- servers

free_port() { # START: first port from START that nothing listens on
	local p
	for ((p = $1; p < $1 + 500; p++)); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

GH_PORT=${GH_PORT:-$(free_port 29400)}
SSHD_PORT=${SSHD_PORT:-$(free_port $((GH_PORT + 1)))}
GH_DATA=$RUN/gatehouse-data
GH_PID=
GH_IDLE_KB=
SSHD_PID=
ME=$(id -un)

cleanup() {
	local rc=$?
	[[ -n $GH_PID ]] && kill -TERM "$GH_PID" 2>/dev/null && wait "$GH_PID" 2>/dev/null
	[[ -n $SSHD_PID ]] && kill -TERM "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
	if [[ $KEEP != 1 && -d $RUN ]]; then
		rm -rf "$RUN/work" "$RUN/ossh" "$GH_DATA/repos"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ssh-keygen -q -t ed25519 -N "" -C bench-client -f "$RUN/client_key"
export GIT_SSH_COMMAND="ssh -F /dev/null -i '$RUN/client_key' -o IdentitiesOnly=yes -o IdentityAgent=none \
-o UserKnownHostsFile='$RUN/known_hosts' -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=accept-new \
-o ControlMaster=no -o ControlPath=none -o BatchMode=yes -o LogLevel=ERROR ${SSH_OPTS:-}"

run_ssh() { eval "$GIT_SSH_COMMAND" '"$@"'; } # ssh as git runs it

gh_start() { # TAG: start gatehouse; its output goes to logs/gatehouse-TAG.*
	local out=$RUN/logs/gatehouse-$1.out i
	"$GH" serve --data "$GH_DATA" --ssh-addr "127.0.0.1:$GH_PORT" --http-addr "" \
		--admin-key "$RUN/client_key.pub" --shutdown-grace 10s \
		--max-conns-per-addr 200 --max-sessions-per-user 200 --max-sessions 400 \
		>"$out" 2>"$RUN/logs/gatehouse-$1.err" &
	GH_PID=$!
	for ((i = 0; i < 300; i++)); do
		grep -q 'SSH listening' "$out" 2>/dev/null && return 0
		kill -0 "$GH_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$RUN/logs/gatehouse-$1.err" >&2
	die "gatehouse did not start (logs in $RUN/logs)"
}

gh_stop() {
	kill -TERM "$GH_PID" 2>/dev/null || true
	wait "$GH_PID" 2>/dev/null || log "gatehouse exited with status $? on SIGTERM"
	GH_PID=
}

gh_hwm_kb() { awk '$1=="VmHWM:"{print $2}' "/proc/$GH_PID/status" 2>/dev/null || true; }
gh_rss_kb() { awk '$1=="VmRSS:"{print $2}' "/proc/$GH_PID/status" 2>/dev/null || true; }

sshd_start() {
	local d=$RUN/sshd i
	ssh-keygen -q -t ed25519 -N "" -C bench-sshd -f "$d/host_ed25519"
	cp "$RUN/client_key.pub" "$d/authorized_keys"
	{
		echo "Port $SSHD_PORT"
		echo "ListenAddress 127.0.0.1"
		echo "HostKey $d/host_ed25519"
		echo "PidFile $d/sshd.pid"
		echo "AuthorizedKeysFile $d/authorized_keys"
		echo "StrictModes no"
		echo "UsePAM no"
		echo "PubkeyAuthentication yes"
		echo "PasswordAuthentication no"
		echo "KbdInteractiveAuthentication no"
		echo "AllowUsers $ME"
		echo "AcceptEnv GIT_PROTOCOL"
		echo "X11Forwarding no"
		echo "AllowTcpForwarding no"
		echo "PrintMotd no"
		echo "PrintLastLog no"
		echo "UseDNS no"
		echo "LogLevel ERROR"
		# Every client comes from 127.0.0.1: let the concurrent phase in
		# (both servers get the same allowance).
		echo "MaxStartups 200"
		if [[ $CLEAN_SHELL == 1 ]]; then echo "SetEnv SHLVL=1"; fi
		if [[ $(id -u) == 0 ]]; then echo "PermitRootLogin prohibit-password"; fi
	} >"$d/sshd_config"
	"$SSHD" -f "$d/sshd_config" -D -e 2>"$RUN/logs/sshd.err" &
	SSHD_PID=$!
	for ((i = 0; i < 200; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null; then return 0; fi
		kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$RUN/logs/sshd.err" >&2
	die "sshd did not start"
}

url() { # SERVER NAME
	case $1 in
	gh) echo "ssh://git@127.0.0.1:$GH_PORT/admin/$2.git" ;;
	ossh) echo "ssh://$ME@127.0.0.1:$SSHD_PORT$RUN/ossh/$2.git" ;;
	esac
}

# Server-side program options: for OpenSSH, git-upload-pack and
# git-receive-pack run under benchtool rusage, which writes the peak RSS to
# rss/TAG. Sets the array SRVARGS.
srv_args() { # SERVER KIND(upload|receive) TAG
	SRVARGS=()
	[[ $1 == ossh ]] || return 0
	SRVARGS=("--$2-pack='$TOOL' rusage '$RUN/rss/$3' git-$2-pack")
}

# ---------------------------------------------------------------- measuring

declare -A TIMES RSS NOTES_FAIL
NOTES=()

note() {
	NOTES+=("$*")
	log "$*"
}

# timed LOG CMD...: runs CMD (output to LOG), prints seconds or FAIL.
timed() {
	local logf=$1 t0 t1
	shift
	t0=$EPOCHREALTIME
	if timeout -k 5 "$TIMEOUT" "$@" >>"$logf" 2>&1; then
		t1=$EPOCHREALTIME
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }'
	else
		echo FAIL
	fi
}

record() { # OP SIZE SERVER SECONDS|FAIL
	TIMES["$1|$2|$3"]+="$4 "
	if [[ $4 == FAIL ]]; then
		NOTES_FAIL["$1|$2|$3"]=$((${NOTES_FAIL["$1|$2|$3"]:-0} + 1))
		log "  $3 $1 ($2) FAILED, see $RUN/logs/$2-$1-$3.log"
	fi
}

median() { # "VALUES..." (FAIL ignored) -> median or FAIL
	tr ' ' '\n' <<<"$1" | awk '$1 != "" && $1 != "FAIL"' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) { print "FAIL"; exit }
			if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

max_rss_kb() { # TAG-PREFIX: the largest value of rss/PREFIX*
	cat "$RUN/rss/$1"* 2>/dev/null | sort -n | tail -1 || true
}

order() { # REP: the servers in the order this repetition runs them
	if (($1 % 2)); then echo "gh ossh"; else echo "ossh gh"; fi
}

# Refs as "oid name", heads and tags, from a bare repository or a clone;
# every ref, from a bare repository.
refs_bare() { git -C "$1" for-each-ref --format='%(objectname) %(refname)' refs/heads refs/tags | sort; }
refs_all() { git -C "$1" for-each-ref --format='%(objectname) %(refname)' | sort; }
refs_clone() {
	git -C "$1" for-each-ref --format='%(objectname) %(refname)' refs/remotes/origin refs/tags |
		sed 's# refs/remotes/origin/# refs/heads/#' | grep -v ' refs/heads/HEAD$' | sort
}

check() { # LABEL DIR EXPECTED-REFS-FILE bare|clone|all
	[[ $VERIFY == 1 ]] || return 0
	local got=$RUN/work/refs.got
	case $4 in
	bare) refs_bare "$2" >"$got" ;;
	all) refs_all "$2" >"$got" ;;
	*) refs_clone "$2" >"$got" ;;
	esac
	if ! cmp -s "$got" "$3"; then
		note "VERIFY FAILED: $1: refs differ from the source"
		diff "$3" "$got" | head -5 >&2 || true
	elif ! git -C "$2" fsck --full --no-progress >"$RUN/logs/fsck.log" 2>&1; then
		note "VERIFY FAILED: $1: git fsck --full (see below)"
		head -5 "$RUN/logs/fsck.log" >&2
	else
		log "  verified $1: fsck clean, $(wc -l <"$got") refs as expected"
	fi
}

# ---------------------------------------------------------------- phases

base_dir() { echo "$RUN/work/$1-base-$2"; } # SIZE SERVER: the reference clone

# serve_copy SOURCE NAME: a copy of the bare repository SOURCE as NAME on
# both servers (for Gatehouse, registered, then its contents replaced).
serve_copy() {
	"$GH" repo create "admin/$2" --data "$GH_DATA" >/dev/null
	rm -rf "$GH_DATA/repos/admin/$2.git"
	cp -a "$1" "$GH_DATA/repos/admin/$2.git"
	cp -a "$1" "$RUN/ossh/$2.git"
}

# ensure_refs_bases SIZE: --mirror clones of SIZE-refs from both servers
# (untimed, on a Gatehouse of their own), for noop-fetch-refs.
ensure_refs_bases() {
	local srv b
	[[ -d $(base_dir "$1-refs" gh) && -d $(base_dir "$1-refs" ossh) ]] && return 0
	gh_start "$1-refs-base"
	for srv in gh ossh; do
		b=$(base_dir "$1-refs" "$srv")
		srv_args "$srv" upload "$1-refs-base"
		if git clone -q --mirror "${SRVARGS[@]}" "$(url "$srv" "$1-refs")" "$b" >>"$RUN/logs/$1-refs-base-$srv.log" 2>&1; then
			check "$srv mirror clone of $1-refs" "$b" "$RUN/work/$1-refs.refs" all
		else
			note "$srv: mirror clone of $1-refs failed; noop-fetch-refs will fail too"
		fi
	done
	gh_stop
}

ensure_base() { # SIZE SERVER
	local b
	b=$(base_dir "$1" "$2")
	[[ -d $b ]] && return 0
	srv_args "$2" upload "$1-base"
	git clone -q --no-checkout "${SRVARGS[@]}" "$(url "$2" "$1")" "$b" >>"$RUN/logs/$1-base-$2.log" 2>&1 ||
		{
			note "$2: clone of $1 failed; fetch operations will fail too"
			return 0
		}
	verify_base "$1" "$2"
}

# ensure_bases SIZE: reference clones from both servers, made (untimed,
# on a Gatehouse of their own) when the clone phase did not make them.
ensure_bases() {
	[[ -d $(base_dir "$1" gh) && -d $(base_dir "$1" ossh) ]] && return 0
	gh_start "$1-base"
	ensure_base "$1" gh
	ensure_base "$1" ossh
	gh_stop
}

verify_base() { # SIZE SERVER
	local b h
	b=$(base_dir "$1" "$2")
	check "$2 clone of $1" "$b" "$RUN/work/$1.refs" clone
	if [[ $VERIFY == 1 ]]; then
		h=$(git -C "$b" symbolic-ref -q refs/remotes/origin/HEAD || echo none)
		[[ $h == refs/remotes/origin/main ]] || note "$2: clone of $1: origin/HEAD is $h, want refs/remotes/origin/main"
	fi
}

phase() { # OP SIZE
	local op=$1 size=$2 r srv t logf dir name fails src want kind args
	log "$op ($size) x$N"
	gh_start "$size-$op"
	RSS["$op|$size|gh0"]=$(gh_rss_kb)
	[[ -n $GH_IDLE_KB ]] || GH_IDLE_KB=${RSS["$op|$size|gh0"]}
	if [[ $op == clone-again ]]; then # one untimed clone each: the tips have been cloned before
		for srv in gh ossh; do
			srv_args "$srv" upload "warm"
			rm -rf "$RUN/work/$size-warm-$srv"
			git clone -q --no-checkout "${SRVARGS[@]}" "$(url "$srv" "$size")" "$RUN/work/$size-warm-$srv" >/dev/null 2>&1 || true
			rm -rf "$RUN/work/$size-warm-$srv"
		done
	fi
	if [[ $op == noop-fetch ]]; then # one untimed fetch: from here on nothing is new
		for srv in gh ossh; do
			srv_args "$srv" upload "warm"
			git -C "$(base_dir "$size" "$srv")" fetch -q "${SRVARGS[@]}" origin >/dev/null 2>&1 || true
		done
	fi
	for ((r = 1; r <= N; r++)); do
		for srv in $(order "$r"); do
			logf=$RUN/logs/$size-$op-$srv.log
			echo "== rep $r" >>"$logf"
			case $op in
			ssh)
				# A session that runs nothing git: the cost of SSH itself.
				if [[ $srv == gh ]]; then
					t=$(timed "$logf" sh -c "$GIT_SSH_COMMAND"' "$@"' ssh -p "$GH_PORT" git@127.0.0.1 whoami)
				else
					t=$(timed "$logf" sh -c "$GIT_SSH_COMMAND"' "$@"' ssh -p "$SSHD_PORT" "$ME@127.0.0.1" true)
				fi
				;;
			clone | clone-again)
				dir=$RUN/work/$size-clone-$srv
				rm -rf "$dir"
				# A first clone: nothing cached from an earlier one.
				[[ $op == clone-again || $srv != gh ]] || rm -rf "$GH_DATA/repos/admin/$size.git/gatehouse-cache"
				srv_args "$srv" upload "$size-$op-$r"
				t=$(timed "$logf" git clone -q --no-checkout "${SRVARGS[@]}" "$(url "$srv" "$size")" "$dir")
				if [[ $t != FAIL && ! -d $(base_dir "$size" "$srv") ]]; then
					mv "$dir" "$(base_dir "$size" "$srv")"
					verify_base "$size" "$srv"
				elif [[ $t != FAIL && $r == 1 ]]; then
					check "$srv $op of $size" "$dir" "$RUN/work/$size.refs" clone
				fi
				rm -rf "$dir"
				;;
			concurrent)
				# CONC clones at once; the time is that of the slowest,
				# a failure of any one fails the repetition.
				dir=$RUN/work/$size-conc-$srv
				rm -rf "$dir"
				mkdir -p "$dir"
				srv_args "$srv" upload "$size-$op-$r"
				t=$(timed "$logf" bash -c 'dir=$1 url=$2 n=$3; shift 3
					pids=(); for ((i = 0; i < n; i++)); do git clone -q --no-checkout "$@" "$url" "$dir/c$i" & pids+=($!); done
					fails=0; for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
					echo "$fails of $n clones failed"' conc "$dir" "$(url "$srv" "$size")" "$CONC" "${SRVARGS[@]}")
				fails=$(awk '/ clones failed$/ { f = $1 } END { print f + 0 }' "$logf")
				((fails == 0)) || note "$srv: $op ($size) rep $r: $fails of $CONC clones failed"
				if [[ $t != FAIL && $r == 1 ]]; then
					check "$srv $op clone of $size" "$dir/c0" "$RUN/work/$size-pusher.refs" clone
				fi
				rm -rf "$dir"
				;;
			noop-fetch)
				srv_args "$srv" upload "$size-$op-$r"
				t=$(timed "$logf" git -C "$(base_dir "$size" "$srv")" fetch -q "${SRVARGS[@]}" origin)
				;;
			ls-remote)
				srv_args "$srv" upload "$size-$op-$r"
				t=$(timed "$logf" git ls-remote "${SRVARGS[@]}" "$(url "$srv" "$size")")
				;;
			ls-remote-refs)
				srv_args "$srv" upload "$size-$op-$r"
				t=$(timed "$logf" git ls-remote "${SRVARGS[@]}" "$(url "$srv" "$size-refs")")
				;;
			noop-fetch-refs)
				srv_args "$srv" upload "$size-$op-$r"
				t=$(timed "$logf" git -C "$(base_dir "$size-refs" "$srv")" fetch -q "${SRVARGS[@]}" origin)
				;;
			push-refs)
				# 225 new branches naming commits the server has.
				srv_args "$srv" receive "$size-$op-$r"
				t=$(timed "$logf" git -C "$RUN/work/$size-pusher.git" push -q "${SRVARGS[@]}" \
					"$(url "$srv" "$size-pr")" "refs/bench-refs/*:refs/heads/pr$r/*")
				if [[ $t != FAIL && $r == 1 && $VERIFY == 1 ]]; then
					if [[ $srv == gh ]]; then dir=$GH_DATA/repos/admin/$size-pr.git; else dir=$RUN/ossh/$size-pr.git; fi
					name=$(git -C "$dir" for-each-ref --format=x "refs/heads/pr$r/" | wc -l)
					if [[ $name == 225 ]]; then
						log "  verified $srv push-refs of $size: 225 refs"
					else
						note "VERIFY FAILED: $srv push-refs of $size: $name of 225 refs on the server"
					fi
				fi
				;;
			incr-fetch)
				dir=$RUN/work/$size-incr-$srv
				rm -rf "$dir"
				cp -a "$(base_dir "$size" "$srv")" "$dir"
				srv_args "$srv" upload "$size-$op-$r"
				t=$(timed "$logf" git -C "$dir" fetch -q "${SRVARGS[@]}" origin)
				# Not having fetched the 10 commits is a failure, whatever git says.
				if [[ $t != FAIL && $(git -C "$dir" rev-parse refs/remotes/origin/main) != "$(cat "$RUN/work/$size.incr")" ]]; then
					echo "origin/main is not the pushed commit $(cat "$RUN/work/$size.incr")" >>"$logf"
					t=FAIL
				fi
				if [[ $t != FAIL && $r == 1 ]]; then
					check "$srv incremental fetch of $size" "$dir" "$RUN/work/$size-incr.refs" clone
				fi
				rm -rf "$dir"
				;;
			push | mirror)
				# Into a new repository: created on push for Gatehouse,
				# "git init --bare" for OpenSSH. push: the branches and tags
				# of SIZE; mirror: every ref of SIZE-refs.
				name=$op-$size-$r
				if [[ $srv == gh ]]; then
					dir=$GH_DATA/repos/admin/$name.git
				else
					dir=$RUN/ossh/$name.git
					git init -q --bare "$dir"
				fi
				if [[ $op == push ]]; then
					src=$RUN/work/$size-pusher.git want=$RUN/work/$size-pusher.refs kind=bare
					args=("$(url "$srv" "$name")" 'refs/heads/*:refs/heads/*' 'refs/tags/*:refs/tags/*')
				else
					src=$RUN/work/$size-refs.git want=$RUN/work/$size-refs.refs kind=all
					args=(--mirror "$(url "$srv" "$name")")
				fi
				srv_args "$srv" receive "$size-$op-$r"
				t=$(timed "$logf" git -C "$src" push -q "${SRVARGS[@]}" "${args[@]}")
				if [[ $t != FAIL && $r == 1 ]]; then
					check "$srv $op of $size (server side)" "$dir" "$want" "$kind"
				fi
				if [[ $srv == gh ]]; then
					"$GH" repo rm "admin/$name" --data "$GH_DATA" >>"$logf" 2>&1 || log "  gatehouse repo rm admin/$name failed"
				fi
				rm -rf "$dir"
				;;
			esac
			record "$op" "$size" "$srv" "$t"
		done
	done
	RSS["$op|$size|gh"]=$(gh_hwm_kb)
	RSS["$op|$size|ossh"]=$(max_rss_kb "$size-$op-")
	gh_stop
}

# incr_setup SIZE: 10 new commits on main in the pusher repository (fixed
# dates, so the same ids every run), pushed to both servers by that
# separate client; the servers then have what the reference clones lack.
incr_setup() {
	local size=$1 p=$RUN/work/$1-pusher.git parent victim mode i b1 b2 tree c
	export GIT_INDEX_FILE=$RUN/work/incr.index
	parent=$(git -C "$p" rev-parse refs/heads/main)
	git -C "$p" read-tree "$parent"
	read -r mode _ _ victim < <(git -C "$p" ls-files -s | grep '\.go$' | head -1)
	for ((i = 1; i <= 10; i++)); do
		b1=$(seq -f "incremental change $i, line %g: the quick brown fox jumps over the lazy dog" 1 $((40 * i)) |
			git -C "$p" hash-object -w --stdin)
		b2=$({
			git -C "$p" cat-file blob ":$victim"
			echo "// incremental change $i"
		} | git -C "$p" hash-object -w --stdin)
		git -C "$p" update-index --add --cacheinfo "100644,$b1,bench/incr-$i.txt"
		git -C "$p" update-index --cacheinfo "$mode,$b2,$victim"
		tree=$(git -C "$p" write-tree)
		c=$(GIT_AUTHOR_DATE="1700000000 +0000" GIT_COMMITTER_DATE="$((1700000000 + 60 * i)) +0000" \
			GIT_AUTHOR_NAME="Bench Pusher" GIT_AUTHOR_EMAIL=pusher@example.com \
			GIT_COMMITTER_NAME="Bench Pusher" GIT_COMMITTER_EMAIL=pusher@example.com \
			git -C "$p" commit-tree "$tree" -p "$parent" -m "bench: incremental change $i")
		parent=$c
	done
	unset GIT_INDEX_FILE
	git -C "$p" update-ref refs/heads/main "$c"
	echo "$c" >"$RUN/work/$size.incr"
	refs_bare "$p" >"$RUN/work/$size-incr.refs"
	gh_start "$size-incr-setup"
	for srv in gh ossh; do
		srv_args "$srv" receive "setup"
		git -C "$p" push -q "${SRVARGS[@]}" "$(url "$srv" "$size")" "$c:refs/heads/main" >>"$RUN/logs/$size-incr-setup.log" 2>&1 ||
			note "$srv: pushing the 10 incremental commits to $size failed (incr-fetch will show it)"
	done
	gh_stop
}

# ---------------------------------------------------------------- main

T_START=$EPOCHREALTIME
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
REFS_OPS=0
for op in $OPS; do case $op in mirror | ls-remote-refs | noop-fetch-refs) REFS_OPS=1 ;; esac; done
for size in $SIZES; do
	build_repo "$size"
	((REFS_OPS == 0)) || build_refs_repo "$size"
done

log "starting gatehouse on 127.0.0.1:$GH_PORT and sshd on 127.0.0.1:$SSHD_PORT"
gh_start first
gh_stop
sshd_start
srv_args ossh upload check
git ls-remote "${SRVARGS[@]}" "ssh://$ME@127.0.0.1:$SSHD_PORT$CACHE/$FIRST_SIZE.git" >/dev/null 2>"$RUN/logs/sshd-check.log" ||
	{
		cat "$RUN/logs/sshd-check.log" >&2
		die "git over the private sshd does not work"
	}

# What each server negotiates with this client.
kex_of() { run_ssh -v "$@" 2>&1 | awk '/kex: algorithm:/ { k = $NF } /kex: server->client cipher:/ { c = $5 } END { print k " " c }'; }
gh_start kex
KEX_GH=$(kex_of -p "$GH_PORT" git@127.0.0.1 whoami)
gh_stop
KEX_OSSH=$(kex_of -p "$SSHD_PORT" "$ME@127.0.0.1" true)

for size in $SIZES; do
	log "== $size: $(repo_stats "$size")"
	serve_copy "$CACHE/$size.git" "$size"
	if ((REFS_OPS)); then
		serve_copy "$CACHE/$size-refs.git" "$size-refs"
		git clone -q --mirror "$CACHE/$size-refs.git" "$RUN/work/$size-refs.git"
		refs_all "$CACHE/$size-refs.git" >"$RUN/work/$size-refs.refs"
	fi
	# The separate client that pushes: a local clone of the source.
	git clone -q --bare "$CACHE/$size.git" "$RUN/work/$size-pusher.git"
	refs_bare "$CACHE/$size.git" >"$RUN/work/$size.refs"
	for op in $OPS; do
		case $op in
		concurrent)
			# The servers hold what the pusher has (incr-fetch may have
			# pushed to them before).
			refs_bare "$RUN/work/$size-pusher.git" >"$RUN/work/$size-pusher.refs"
			[[ $size == small ]] && phase "$op" "$size"
			;;
		noop-fetch)
			ensure_bases "$size"
			phase "$op" "$size"
			;;
		incr-fetch)
			ensure_bases "$size"
			incr_setup "$size"
			refs_bare "$RUN/work/$size-pusher.git" >"$RUN/work/$size-pusher.refs"
			phase "$op" "$size"
			;;
		push)
			refs_bare "$RUN/work/$size-pusher.git" >"$RUN/work/$size-pusher.refs"
			phase "$op" "$size"
			;;
		push-refs)
			# Into a copy of the repository of its own, so that the other
			# operations see the refs they expect.
			serve_copy "$CACHE/$size.git" "$size-pr"
			git -C "$RUN/work/$size-pusher.git" rev-list refs/heads/main |
				awk '{ c[NR - 1] = $1 } END { for (i = 0; i < 225; i++) printf "create refs/bench-refs/b%d %s\n", i, c[i % NR] }' |
				git -C "$RUN/work/$size-pusher.git" update-ref --stdin
			phase "$op" "$size"
			;;
		noop-fetch-refs)
			ensure_refs_bases "$size"
			phase "$op" "$size"
			;;
		*) phase "$op" "$size" ;;
		esac
	done
	[[ $KEEP == 1 ]] || rm -rf "$RUN/work/$size-"*
done

# ---------------------------------------------------------------- report

mb() { [[ -n ${1:-} ]] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }' || echo "-"; }

{
	echo "Gatehouse vs OpenSSH+git, $(date -u +'%Y-%m-%d %H:%M UTC')"
	echo "machine: nproc=$(nproc), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
	echo "$("$GH" version), $(git version), $(ssh -V 2>&1 | cut -d, -f1), $GOVER; client protocol v$PROTO; N=$N (median)"
	echo "load average at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the numbers)"
	echo "ssh kex and cipher: gatehouse $KEX_GH; openssh $KEX_OSSH"
	for size in $SIZES; do
		echo "$size: $(repo_stats "$size")"
		((REFS_OPS == 0)) || echo "$size-refs: $(cat "$CACHE/$size-refs.ready") refs (mirror, ls-remote-refs, noop-fetch-refs)"
	done
	echo
	printf '%-15s %-7s %12s %12s %7s %11s %8s %11s\n' operation size "gatehouse s" "openssh s" ratio "gh RSS MB" "gh +MB" "git RSS MB"
	for size in $SIZES; do
		for op in $OPS; do
			[[ $op != concurrent || $size == small ]] || continue
			g=$(median "${TIMES["$op|$size|gh"]:-}")
			o=$(median "${TIMES["$op|$size|ossh"]:-}")
			ratio=-
			if [[ $g != FAIL && $o != FAIL ]]; then ratio=$(awk -v g="$g" -v o="$o" 'BEGIN { printf "%.2f", g / o }'); fi
			fg=${NOTES_FAIL["$op|$size|gh"]:-0} fo=${NOTES_FAIL["$op|$size|ossh"]:-0}
			[[ $fg == 0 || $g == FAIL ]] || g="$g!"
			[[ $fo == 0 || $o == FAIL ]] || o="$o!"
			og=$(mb "${RSS["$op|$size|ossh"]:-}")
			[[ $op == ssh ]] && og="-"
			grow=-
			if [[ -n ${RSS["$op|$size|gh"]:-} && -n ${RSS["$op|$size|gh0"]:-} ]]; then
				grow=$(mb $((${RSS["$op|$size|gh"]} - ${RSS["$op|$size|gh0"]})))
			fi
			printf '%-15s %-7s %12s %12s %7s %11s %8s %11s\n' "$op" "$size" "$g" "$o" "$ratio" \
				"$(mb "${RSS["$op|$size|gh"]:-}")" "$grow" "$og"
		done
	done
	echo
	echo "ratio = gatehouse / openssh (below 1: gatehouse faster). '!' = some repetitions failed (median of the rest)."
	echo "gatehouse database: $GH_DB_KIND"
	echo "gh RSS = gatehouse server VmHWM over the phase (a fresh server per phase; just started: $(mb "$GH_IDLE_KB") MB);"
	echo "gh +MB = that VmHWM less the VmRSS of the phase's server just after it started: what the operation added;"
	echo "git RSS = largest process of git-upload-pack/git-receive-pack and children, over the phase (sshd not counted)."
	for k in "${!NOTES_FAIL[@]}"; do
		IFS='|' read -r op size srv <<<"$k"
		echo "failed: $srv $op ($size) ${NOTES_FAIL[$k]} of $N times, see $RUN/logs/$size-$op-$srv.log"
	done
	for n in "${NOTES[@]}"; do echo "note: $n"; done
	# (The readiness probe's bare connection leaves one kex_exchange_identification line.)
	n=$(grep -vc kex_exchange_identification "$RUN/logs/sshd.err" 2>/dev/null || true)
	[[ ${n:-0} == 0 ]] || echo "sshd log: $n lines in $RUN/logs/sshd.err"
	errs=$(cat "$RUN"/logs/gatehouse-*.err 2>/dev/null | grep -c 'level=ERROR' || true)
	warns=$(cat "$RUN"/logs/gatehouse-*.err 2>/dev/null | grep -c 'level=WARN' || true)
	echo "gatehouse log: $errs ERROR, $warns WARN lines (logs in $RUN/logs)"
	echo "total time: $(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f s", b - a }')"
} | tee "$OUT/results.txt"

# Every measurement, for whoever wants more than medians.
{
	printf 'operation\tsize\tserver\tseconds...\n'
	for k in "${!TIMES[@]}"; do
		IFS='|' read -r op size srv <<<"$k"
		printf '%s\t%s\t%s\t%s\n' "$op" "$size" "$srv" "${TIMES[$k]% }"
	done | sort
} >"$OUT/results.tsv"
log "table in $OUT/results.txt, every measurement in $OUT/results.tsv"
