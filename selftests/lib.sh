# SPDX-License-Identifier: GPL-2.0
# Shared by the scripts that run inside the VM.

# No udev in the VM: load by hand what the kernel would have autoloaded,
# the accelerated crypto drivers first so every path uses them.
hbx_vm_prepare() {
	for m in aesni_intel ghash_clmulni_intel sha256_ssse3 \
		 chacha_x86_64 poly1305_x86_64 chacha20poly1305 \
		 erofs overlay loop dm_verity tls veth nbd; do
		modprobe -q "$m" 2>/dev/null || true
	done
	# Fail a stuck task loudly rather than sit in D state for 120 s.
	echo 30 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
	return 0
}

# TAP for shell tests: tap_check NAME COMMAND... runs COMMAND and reports it.
tap_n=0
tap_failed=0
tap_begin() {
	echo "TAP version 13"
}
tap_result() {	# tap_result STATUS NAME
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n $2"
	else
		echo "not ok $tap_n $2"
		tap_failed=$((tap_failed + 1))
	fi
}
tap_check() {	# tap_check NAME COMMAND...
	local name=$1
	shift
	"$@"
	tap_result $? "$name"
}
tap_end() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}

# Time limits here are for Debian's kernels.  A debug kernel under TCG
# (make check-debug) runs several times slower, so tools/check-debug.sh sets
# HBX_TIME_SCALE.  A test scales a limit together with the timeout it is
# measured against (hbx_scaled), so a check keeps its meaning: "well under
# the peer's timeout" stays so.  1 everywhere else.
HBX_TIME_SCALE=${HBX_TIME_SCALE:-1}
hbx_scaled() {	# hbx_scaled N: N times the scale
	echo $(($1 * HBX_TIME_SCALE))
}

# hbx_scaled_rate KBIT: a link rate for tc, KBIT kbit/s over the scale (a
# slower kernel gets a slower link, so a transfer still spans the checks).
hbx_scaled_rate() {
	echo "$(($1 / HBX_TIME_SCALE))kbit"
}

# hbx_fill_cache DEV: drop the caches, then read DEV whole into its page
# cache (a layer checks what comes in).  A block device's page cache goes
# with its last close: the caller holds DEV open for as long as it counts.
hbx_fill_cache() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
	dd if="$1" of=/dev/null bs=1M 2>/dev/null
}

# hbx_wait_until SECONDS COMMAND...: poll COMMAND every 0.1 s until it
# succeeds, for at most SECONDS of wall time.
hbx_wait_until() {
	_end=$(($(date +%s) + $1))
	shift
	while ! "$@" 2>/dev/null; do
		[ "$(date +%s)" -lt $_end ] || return 1
		sleep 0.1
	done
}

# hbx_wait_listening LOG [SECONDS]: wait (SECONDS, default 30, times the
# scale) until a server started in the background with its output in LOG
# says it listens: "serving on" (hbx serve) or "lying on" (stoq_liar).  If
# it does not, LOG's last lines go out as TAP comments (a server that never
# came up says why there) and it fails.  The default is generous: on the
# debug kernel, with three other VMs on the host, hbx serve once took 40 s.
hbx_wait_listening() {
	local limit
	limit=$(hbx_scaled "${2:-30}")
	hbx_wait_until "$limit" grep -Eq "^(serving|lying) on" "$1" && return 0
	echo "# no \"serving on\" or \"lying on\" in $1 after $limit s; its last lines:"
	tail -n 5 "$1" 2>&1 | sed 's/^/#   /'
	return 1
}

# hbx_peer_sockets HBX: how many sockets all peers on the host hold.
hbx_peer_sockets() {
	"$1" info -j | python3 -c 'import json, sys; print(json.load(sys.stdin)["peer-sockets"])'
}
# hbx_peer_sockets_are HBX OP N: whether that count is -OP N (eq, ge, le).
# A command for hbx_wait_until, which runs it again each time: a count
# taken once as its argument ("$(...)") would never change.
hbx_peer_sockets_are() {
	[ "$(hbx_peer_sockets "$1")" "-$2" "$3" ]
}

# hbx_layer_field HBX INDEX KEY[.KEY]: one field of a layer (hbx layer list -j).
hbx_layer_field() {
	"$1" layer list -j | python3 -c '
import json, sys
v = [x for x in json.load(sys.stdin) if x["index"] == int(sys.argv[1])][0]
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$2" "$3"
}

# hbx_good_chunks CACHE MANIFEST: chunks of CACHE holding data that matches
# the (version 2) manifest: a chunk's digest is sha256 of its 4 KiB blocks'
# sha256s.  A chunk that is all hole counts as missing, as the module sees
# it (it never hashes holes).
hbx_good_chunks() {
	python3 - "$1" "$2" <<'PY'
import hashlib, os, struct, sys
m = open(sys.argv[2], 'rb').read()
assert struct.unpack_from('<H', m, 4)[0] == 2, "manifest version 1: rebuild the layer with hbx layer build"
shift, size, count = m[7], *struct.unpack_from('<QQ', m, 8)
def digest(b):
    return hashlib.sha256(b''.join(hashlib.sha256(b[o:o + 4096]).digest()
                                   for o in range(0, len(b), 4096))).digest()
fd, good = os.open(sys.argv[1], os.O_RDONLY), 0
for i in range(count):
    off, n = i << shift, min(1 << shift, size - (i << shift))
    try:
        if os.lseek(fd, off, os.SEEK_DATA) >= off + n:
            continue
    except OSError:
        continue
    if digest(os.pread(fd, n, off)) == m[32 + 32 * i:64 + 32 * i]:
        good += 1
print(good)
PY
}

# hbx_veth NS1 ADDR1 NS2 ADDR2: the namespaces (created if need be) joined
# by a veth pair named after them, addresses given as A.B.C.D/N, links up.
hbx_veth() {
	for _ns in "$1" "$3"; do
		[ -e "/run/netns/$_ns" ] || ip netns add "$_ns" || return 1
		ip -n "$_ns" link set lo up || return 1
	done
	ip link add "v$3" netns "$1" type veth peer name "v$1" netns "$3" &&
		ip -n "$1" addr add "$2" dev "v$3" && ip -n "$1" link set "v$3" up &&
		ip -n "$3" addr add "$4" dev "v$1" && ip -n "$3" link set "v$1" up
}

# hbx_unmount_all DIR...: unmount whichever of DIR... is a mount point.
hbx_unmount_all() {
	for _m in "$@"; do
		mountpoint -q "$_m" 2>/dev/null && umount "$_m"
	done
	return 0
}

# hbx_detach_all HBX: force-delete every attached layer (test cleanup).
hbx_detach_all() {
	for _i in $("$1" layer list -j 2>/dev/null | grep -o '"index":[0-9]*' | cut -d: -f2); do
		"$1" layer del "$_i" --force 2>/dev/null
	done
	return 0
}

# hbx_forget_peers HBX [NS...]: delete every peer of each network namespace
# NS (or of this one).
hbx_forget_peers() {
	_hbx=$1
	shift
	for _ns in "${@:-}"; do
		for _id in $(${_ns:+ip netns exec "$_ns"} "$_hbx" peer list -j 2>/dev/null |
			     grep -o '"id":[0-9]*' | cut -d: -f2); do
			${_ns:+ip netns exec "$_ns"} "$_hbx" peer del "$_id"
		done
	done
	return 0
}

# Busy CPU time of the whole machine so far, in seconds summed over CPUs
# (user, nice, system, irq, softirq; not idle, iowait or steal).  Benches
# take the difference around a run to say where a CPU-bound figure went.
hbx_cpu_busy() {
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz }' /proc/stat
}
