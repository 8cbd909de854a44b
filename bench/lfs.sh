#!/usr/bin/env bash
# Git LFS over SSH: upload and download throughput of one large object
# through Gatehouse (git-lfs-transfer, driven by the real git-lfs client)
# against `cat` of the same bytes over OpenSSH to /dev/null (a private
# sshd on 127.0.0.1, the same ssh client and options), and Gatehouse's
# peak RSS (VmHWM) during each, for each size in SIZES.
#
#	bench/lfs.sh                     # SIZES="64 1024" (MiB)
#	SIZES=1024 bench/lfs.sh
#
# The ratio is Gatehouse's throughput over cat's: 1.0 would mean LFS costs
# nothing over moving the bytes through SSH. "down raw" is a download
# by hand-written pkt-lines, counted by wc: without git-lfs's hashing
# and writing of what it receives. A fresh Gatehouse serves each
# phase, so its VmHWM is the peak of that phase; if it does not grow with
# the object, the object was streamed. Client-side work counts against
# Gatehouse: git-lfs hashes what it downloads, and reads what it uploads.
#
# Options (environment): SIZES, SSHD (default /usr/sbin/sshd), SSH_OPTS
# (added to every ssh, e.g. "-c aes128-gcm@openssh.com"), KEEP=1 keeps
# the run folder. Needs go, git, git-lfs, ssh, ssh-keygen, sshd.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"64 1024"}
SSHD=${SSHD:-/usr/sbin/sshd}
ME=$(id -un)
RUN=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-lfs-bench.XXXXXX")
log() { echo "lfs.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}
for c in go git git-lfs ssh ssh-keygen "$SSHD"; do command -v "$c" >/dev/null || die "needs $c"; done

free_port() { # FROM: the first port from FROM nobody listens on
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}
GH_PORT=$(free_port 29600)
SSHD_PORT=$(free_port $((GH_PORT + 1)))
GH_PID= SSHD_PID=
cleanup() {
	[[ -n $GH_PID ]] && kill "$GH_PID" 2>/dev/null
	[[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null
	wait 2>/dev/null
	if [[ ${KEEP:-} == 1 ]]; then log "kept $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$RUN/sshd" "$RUN/home"
log "building gatehouse"
go build -o "$RUN/gatehouse" ./cmd/gatehouse
ssh-keygen -q -t ed25519 -N "" -C bench -f "$RUN/key"
SSH="ssh -F /dev/null -i $RUN/key -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=/dev/null \
-o StrictHostKeyChecking=no -o LogLevel=ERROR -o BatchMode=yes ${SSH_OPTS:-}"
export GIT_SSH_COMMAND=$SSH HOME=$RUN/home GIT_CONFIG_NOSYSTEM=1
git config --global user.name bench
git config --global user.email bench@example.com
git config --global lfs.locksverify false
git lfs install --skip-repo >/dev/null

gh_start() {
	rm -f "$RUN/gh.out" # so that the wait below reads this start's output
	"$RUN/gatehouse" serve --data "$RUN/data" --ssh-addr "127.0.0.1:$GH_PORT" --http-addr "" \
		--admin-key "$RUN/key.pub" --max-lfs-object-size $((8 << 30)) >"$RUN/gh.out" 2>"$RUN/gh.err" &
	GH_PID=$!
	for ((i = 0; i < 300; i++)); do
		grep -q 'SSH listening' "$RUN/gh.out" 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$RUN/gh.err" >&2
	die "gatehouse did not start"
}
gh_stop() {
	kill -TERM "$GH_PID"
	wait "$GH_PID" || true
	GH_PID=
}
gh_hwm_mb() { awk '$1=="VmHWM:"{printf "%.0f", $2/1024}' "/proc/$GH_PID/status"; }

sshd_start() {
	local d=$RUN/sshd
	ssh-keygen -q -t ed25519 -N "" -f "$d/host"
	cp "$RUN/key.pub" "$d/authorized_keys"
	[[ $(id -u) == 0 && ! -d /run/sshd ]] && mkdir -m 0755 /run/sshd
	printf '%s\n' "Port $SSHD_PORT" "ListenAddress 127.0.0.1" "HostKey $d/host" "PidFile $d/pid" \
		"AuthorizedKeysFile $d/authorized_keys" "StrictModes no" "UsePAM no" "PasswordAuthentication no" \
		"KbdInteractiveAuthentication no" "AllowUsers $ME" "PermitRootLogin prohibit-password" \
		"PrintMotd no" "UseDNS no" "LogLevel ERROR" "SetEnv SHLVL=1" >"$d/config"
	"$SSHD" -f "$d/config" -D -e 2>"$RUN/sshd.err" &
	SSHD_PID=$!
	for ((i = 0; i < 200; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$RUN/sshd.err" >&2
	die "sshd did not start"
}

secs() { # CMD...: runs it, prints its wall time in seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}
rate() { echo "scale=1; $1 / $2" | bc -l; } # MIB SECONDS: MiB/s
pkt() { printf '%04x%s' $((${#1} + 4)) "$1"; } # TEXT: one pkt-line

# raw_get OID SIZE: the requests of a session that downloads one object
# (no client-side hashing or writing, unlike git-lfs), sent at once.
raw_get() {
	pkt $'version 1\n'
	printf 0000
	pkt "get-object $1"$'\n'
	pkt "size=$2"$'\n'
	printf 0000
	pkt $'quit\n'
	printf 0000
}

sshd_start
# Each size goes to a repository of its own, admin/big-MIB, which the
# upload creates (as a push would).

printf '%-6s %-9s %10s %10s %7s %10s\n' "MiB" "phase" "LFS MiB/s" "cat MiB/s" "ratio" "gh peak MB"
for mib in $SIZES; do
	work=$RUN/work-$mib
	git init -q -b main "$work"
	(cd "$work" && git lfs track '*.bin' >/dev/null)
	head -c $((mib << 20)) /dev/urandom >"$work/blob.bin"
	(cd "$work" && git add . && git commit -q -m "blob $mib")
	oid=$(cd "$work" && git lfs ls-files -l | awk '{print $1}')
	url="ssh://git@127.0.0.1:$GH_PORT/admin/big-$mib.git"

	# Upload: cat of the file to /dev/null over OpenSSH, then git lfs push.
	cat_up=$(secs sh -c "$SSH -p $SSHD_PORT $ME@127.0.0.1 'cat >/dev/null' <'$work/blob.bin'")
	gh_start
	lfs_up=$(secs sh -c "cd '$work' && git lfs push --object-id '$url' $oid 2>/dev/null")
	up_mb=$(gh_hwm_mb)
	(cd "$work" && git push -q "$url" main)
	gh_stop

	# Download: cat of the stored object to /dev/null over OpenSSH, then
	# git lfs fetch into a clone that has none.
	obj=$RUN/data/repos/admin/big-$mib.git/lfs/objects/${oid:0:2}/${oid:2:2}/$oid
	[[ -f $obj ]] || die "object $oid not stored"
	cat_down=$(secs sh -c "$SSH -p $SSHD_PORT $ME@127.0.0.1 'cat $obj' >/dev/null")
	clone=$RUN/clone-$mib
	gh_start
	GIT_LFS_SKIP_SMUDGE=1 git clone -q "$url" "$clone"
	lfs_down=$(secs sh -c "cd '$clone' && git lfs fetch origin main 2>/dev/null")
	raw_get "$oid" $((mib << 20)) >"$RUN/get.req"
	raw_down=$(secs sh -c "$SSH -p $GH_PORT git@127.0.0.1 'git-lfs-transfer admin/big-$mib download' <'$RUN/get.req' | wc -c >'$RUN/get.n'")
	[[ $(cat "$RUN/get.n") -gt $((mib << 20)) ]] || die "raw download too short: $(cat "$RUN/get.n") bytes"
	down_mb=$(gh_hwm_mb)
	gh_stop
	cmp "$clone/.git/lfs/objects/${oid:0:2}/${oid:2:2}/$oid" "$work/blob.bin" || die "downloaded object differs"

	printf '%-6s %-9s %10s %10s %7s %10s\n' "$mib" upload "$(rate "$mib" "$lfs_up")" "$(rate "$mib" "$cat_up")" \
		"$(echo "scale=2; $cat_up / $lfs_up" | bc -l)" "$up_mb"
	printf '%-6s %-9s %10s %10s %7s %10s\n' "$mib" download "$(rate "$mib" "$lfs_down")" "$(rate "$mib" "$cat_down")" \
		"$(echo "scale=2; $cat_down / $lfs_down" | bc -l)" "$down_mb"
	printf '%-6s %-9s %10s %10s %7s %10s\n' "$mib" "down raw" "$(rate "$mib" "$raw_down")" "$(rate "$mib" "$cat_down")" \
		"$(echo "scale=2; $cat_down / $raw_down" | bc -l)" "$down_mb"
	rm -rf "$work" "$clone"
done
echo "machine: nproc=$(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)"
