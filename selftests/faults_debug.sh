#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault injection on the debug kernel (make check-debug): failslab and
# fail_page_alloc, aimed by their task filter at the module's own paths,
# fail one allocation in ten (sleeping ones included, order 0 up):
#   control  LAYER_ADD, LAYER_DEL, PEER_ADD and PEER_DEL with each of
#            their allocation points failed in turn (selftests/faults_ctl,
#            fail-nth): each works or fails with an errno and changes
#            nothing; nothing is left half made
#   data     the workers that run both ends' socket receivers (client and
#            server; the unbound workqueue's kworkers) fail their
#            allocations while a remote layer is read again and again and
#            pulled: every block read is right or EIO, every pull ends
#   after    faults off: the layer reads whole and right, everything is
#            deleted, no peer socket is held
# The kernel log must stay clean (tools/vm/run) and kmemleak finds nothing
# of ours afterwards (tools/check-debug.sh scans).  Needs
# CONFIG_FAULT_INJECTION_DEBUG_FS; it is not one of the regular selftests.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
work=$(mktemp -d /tmp/hbx-faults.XXXXXX)
pids=
cleanup() {
	faults_off
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	hbx_detach_all "$hbx"
	hbx_forget_peers "$hbx"
	rm -rf "$work"
}
trap cleanup EXIT
dbg=/sys/kernel/debug

# faults_on / faults_off: one allocation in ten fails, for tasks that ask.
faults_on() {
	local d
	for d in $dbg/failslab $dbg/fail_page_alloc; do
		echo 10 > $d/probability
		echo 1 > $d/interval
		echo -1 > $d/times
		echo 0 > $d/space
		echo 0 > $d/verbose
		echo Y > $d/task-filter
		echo N > $d/ignore-gfp-wait
	done
	echo 0 > $dbg/fail_page_alloc/min-order
	echo N > $dbg/fail_page_alloc/ignore-gfp-highmem
}
faults_off() {
	echo 0 > $dbg/failslab/probability 2>/dev/null
	echo 0 > $dbg/fail_page_alloc/probability 2>/dev/null
}

# workers_fail: every unbound kworker there is now (peer sockets' receivers
# run there, on a shared workqueue) fails its allocations; workers made
# later are caught on the next call.  Other unbound work fails some too:
# this is a test VM.
workers_fail() {
	local f
	for f in $(grep -l '^kworker/u\|^hyperbox_clients' /proc/[0-9]*/comm 2>/dev/null); do
		echo 1 > "${f%/comm}/make-it-fail" 2>/dev/null
	done
}

index_of() { sed -n 's/.*"index":\([0-9]*\).*/\1/p'; }

# compare DEV IMAGE: read DEV block by block (64 KiB, direct, failed blocks
# zeroed) and print "ok N eio N wrong N" against IMAGE.
compare() {
	timeout 300 dd if="$1" of="$work/read.out" bs=64K iflag=direct conv=noerror,sync \
		2> /dev/null
	python3 - "$work/read.out" "$2" <<'EOF'
import sys
got, want = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
ok = eio = wrong = 0
for i in range(0, len(want), 65536):
    w = want[i:i + 65536]
    g = got[i:i + len(w)]    # the last block is short: dd padded it
    if g == w: ok += 1
    elif g.count(0) == len(g): eio += 1
    else: wrong += 1
print(f"ok {ok} eio {eio} wrong {wrong}")
EOF
}

tap_begin
if [ ! -w $dbg/failslab/probability ] || [ ! -w $dbg/fail_page_alloc/probability ]; then
	echo "ok 1 faults # SKIP no failslab/fail_page_alloc in this kernel"
	exit 0
fi
ip link set lo up
mkdir -p "$work/src"
head -c 4M /dev/urandom > "$work/src/blob"
digest=$("$hbx" layer build "$work/src" -o "$work/layer.erofs" --chunk-size 64K)
tap_result $? "faults.layer_built"
faults_on

# --- control: requests under faults work or fail cleanly, leave nothing.
"$hbx" serve --listen 127.0.0.1:7620 --insecure > "$work/serve.log" 2>&1 &
pids="$pids $!"
hbx_wait_listening "$work/serve.log"
selftests/faults_ctl "$work/layer.erofs" > "$work/ctl.out"
rc=$?
sed 's/^/# /' "$work/ctl.out"
ctl() { sed -n "s/^$1 //p" "$work/ctl.out"; }
tap_check "control.every_fault_failed_cleanly_or_was_survived" test "$rc" -eq 0
for w in layer_add layer_del peer_add peer_del; do
	tap_check "control.${w}_every_allocation_point_failed_once" test "$(ctl ${w}_points)" -gt 0
done
tap_check "control.no_layer_left_behind" test "$("$hbx" layer list -j)" = "[]"
tap_check "control.no_peer_left_behind" test "$("$hbx" peer list -j)" = "[]"
hbx_wait_until "$(hbx_scaled 30)" hbx_peer_sockets_are "$hbx" eq 0
tap_result $? "control.no_peer_socket_held"

# --- data: both ends' receivers fail allocations while reads go on.
seed=$("$hbx" layer add "$work/layer.erofs" -j | index_of)
"$hbx" layer export "$seed"
"$hbx" peer connect 127.0.0.1:7620 --insecure --connections 2 --timeout-ms 3000 \
	--persist > "$work/persist.out" 2> "$work/persist.err" &
pids="$pids $!"
hbx_wait_until "$(hbx_scaled 10)" test -s "$work/persist.out"
peer=$(head -n 1 "$work/persist.out")
ridx=$("$hbx" layer add --remote "$peer" --digest "$digest" --cache "$work/cache" -j \
	2> "$work/attach.err" | index_of)
tap_check "data.remote_layer_attached" test -n "$ridx"
if [ -z "$ridx" ]; then
	sed 's/^/# /' "$work/attach.err" "$work/persist.err" "$work/serve.log"
	exit 1
fi
(while :; do workers_fail; sleep 0.2; done) &
marker=$!
pids="$pids $marker"
wrong=0 eio=0 ok=0
for pass in 1 2 3; do
	echo 3 > /proc/sys/vm/drop_caches
	set -- $(compare "/dev/hbx$ridx" "$work/layer.erofs") x 0 x 0 x 1
	echo "# pass $pass under faults: $1 $2 $3 $4 $5 $6"
	ok=$((ok + $2)) eio=$((eio + $4)) wrong=$((wrong + $6))
done
tap_check "data.no_wrong_bytes_under_faults" test "$wrong" -eq 0
start=$(date +%s)
timeout 300 "$hbx" layer pull "$ridx" -q > "$work/pull.out" 2>&1
rc=$?
echo "# pull under faults: status $rc after $(($(date +%s) - start)) s: $(tail -n 1 "$work/pull.out")"
tap_check "data.pull_under_faults_ends" test "$rc" -ne 124
kill "$marker"
wait "$marker" 2>/dev/null

# --- after: faults off, everything whole and gone.
faults_off
for f in $(grep -l '^kworker/u\|^hyperbox_clients' /proc/[0-9]*/comm 2>/dev/null); do
	echo 0 > "${f%/comm}/make-it-fail" 2>/dev/null
done
hbx_wait_until "$(hbx_scaled 60)" "$hbx" layer pull "$ridx" -q > /dev/null 2>&1
tap_result $? "after.pull_completes"
echo 3 > /proc/sys/vm/drop_caches
tap_check "after.layer_reads_whole_and_right" cmp -s "/dev/hbx$ridx" "$work/layer.erofs"
tap_check "after.remote_layer_deleted" "$hbx" layer del "$ridx" --force
for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=
hbx_forget_peers "$hbx"
tap_check "after.seed_deleted" "$hbx" layer del "$seed"
hbx_wait_until "$(hbx_scaled 30)" hbx_peer_sockets_are "$hbx" eq 0
tap_result $? "after.no_peer_socket_held"
tap_end
