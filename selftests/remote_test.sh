#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Remote layers: a node attaches a layer that another node exports, over
# kTLS sockets from hbx peer connect; chunks are fetched on first read,
# verified, written to a cache file and served; re-attaching with the same
# cache fetches nothing that is already there; a torn chunk in the cache is
# fetched again; with the server gone, reads fail with EIO, never hang.
# Runs inside the VM with hyperbox.ko loaded.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
work=$(mktemp -d /tmp/hbx-remote.XXXXXX)
pids=
cleanup() {
	hbx_unmount_all "$work"/mnt*
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	hbx_detach_all "$hbx"
	hbx_forget_peers "$hbx"
	rm -rf "$work"
}
trap cleanup EXIT

# layer_field INDEX KEY: one number from hbx layer list -j.
layer_field() {
	$hbx layer list -j | python3 -c '
import json, sys
l = [x for x in json.load(sys.stdin) if x["index"] == int(sys.argv[1])][0]
print(l[sys.argv[2]])' "$1" "$2"
}

tap_begin
modprobe -q tls 2>/dev/null

$hbx cert init --dir "$work/ca" --name test-cluster > /dev/null &&
	$hbx cert issue server --san dns:server,ip:127.0.0.1 --dir "$work/ca" --out "$work/server" > /dev/null &&
	$hbx cert issue client --dir "$work/ca" --out "$work/client" > /dev/null
tap_result $? "remote.certificates"

mkdir -p "$work/src"
cp -a /usr/share/zoneinfo/Europe /usr/share/zoneinfo/America "$work/src/" 2>/dev/null
head -c 2097152 /dev/urandom > "$work/src/blob"
digest=$($hbx layer build "$work/src" -o "$work/layer.erofs" --chunk-size 64K)
seed=$($hbx layer add "$work/layer.erofs" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
$hbx layer export "$seed"
$hbx serve --listen 127.0.0.1:7421 --cert "$work/server.crt" --key "$work/server.key" \
	--ca "$work/ca/ca.crt" > "$work/serve.log" 2>&1 &
pids="$pids $!"
hbx_wait_listening "$work/serve.log"

peer=$($hbx peer connect 127.0.0.1:7421 --cert "$work/client.crt" --key "$work/client.key" \
	--ca "$work/ca/ca.crt" --name server --connections 2 --timeout-ms 5000)
tap_result $? "remote.peer_connect_hands_two_ktls_sockets_to_the_module"

mkdir -p "$work/mnt"
$hbx layer mount --remote "$peer" --digest "$digest" --cache "$work/cache" "$work/mnt" > "$work/mount.out"
tap_result $? "remote.attach_fetches_and_checks_the_manifest"
idx=$(sed -n 's|^/dev/hbx\([0-9]*\) .*|\1|p' "$work/mount.out")
total=$(layer_field "$idx" chunks-total)
tap_check "remote.attached_before_the_data_is_here" test "$(layer_field "$idx" chunks-fetched)" -lt "$total"

diff -r --no-dereference "$work/src" "$work/mnt" > /dev/null
tap_result $? "remote.mounted_layer_matches_its_source"
cmp -s "$work/layer.erofs" "/dev/hbx$idx"
tap_result $? "remote.whole_device_reads_the_image_bytes"
fetched=$(layer_field "$idx" chunks-fetched)
tap_check "remote.every_chunk_fetched_once" test "$fetched" = "$total"
$hbx layer umount "$work/mnt"

# Resume: the same cache, nothing to fetch.
cached=$($hbx layer add --remote "$peer" --digest "$digest" --cache "$work/cache" -j |
	sed -n 's/.*"index":\([0-9]*\).*/\1/p')
cmp -s "$work/layer.erofs" "/dev/hbx$cached"
tap_result $? "resume.reattached_layer_reads_right"
tap_check "resume.nothing_fetched_again" test "$(layer_field "$cached" chunks-fetched)" = 0
$hbx layer del "$cached"

# A torn chunk in the cache is never trusted: fetched again.
printf 'torn' | dd of="$work/cache" bs=1 seek=70000 conv=notrunc 2> /dev/null
torn=$($hbx layer add --remote "$peer" --digest "$digest" --cache "$work/cache" -j |
	sed -n 's/.*"index":\([0-9]*\).*/\1/p')
cmp -s "$work/layer.erofs" "/dev/hbx$torn"
tap_result $? "resume.torn_cache_still_reads_right"
tap_check "resume.only_the_torn_chunk_is_fetched" test "$(layer_field "$torn" chunks-fetched)" = 1
$hbx layer del "$torn"

$hbx peer list -j | grep -q '"role":"client"'
tap_result $? "remote.client_peer_listed"

# The server goes away: reads of missing chunks fail fast with EIO.
fresh=$($hbx layer add --remote "$peer" --digest "$digest" --cache "$work/cache2" -j |
	sed -n 's/.*"index":\([0-9]*\).*/\1/p')
for id in $($hbx peer list -j | python3 -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if p["role"] == "server"))'); do
	$hbx peer del "$id"
done
start=$(date +%s)
! dd if="/dev/hbx$fresh" of=/dev/null bs=4096 count=1 iflag=direct 2> "$work/dd.err"
tap_result $? "down.read_of_a_missing_chunk_fails"
grep -q "Input/output error" "$work/dd.err"
tap_result $? "down.the_error_is_eio"
tap_check "down.within_the_timeout" test $(( $(date +%s) - start )) -le 10
$hbx peer list -j | python3 -c '
import json, sys
c = [p for p in json.load(sys.stdin) if p["role"] == "client"][0]
assert c["state"] == "down" and c["sockets-up"] == 0, c'
tap_result $? "down.client_peer_shows_down"
$hbx layer del "$fresh"

# --persist: when the server drops our sockets, hbx peer connect reconnects
# and hands new ones to the same peer; a read waiting for a chunk completes.
del_server_peers() {
	for id in $($hbx peer list -j | python3 -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if p["role"] == "server"))'); do
		$hbx peer del "$id"
	done
}
$hbx peer connect 127.0.0.1:7421 --cert "$work/client.crt" --key "$work/client.key" \
	--ca "$work/ca/ca.crt" --name server --timeout-ms 15000 --persist \
	> "$work/persist.out" 2> "$work/persist.err" &
pids="$pids $!"
for _ in $(seq 100); do [ -s "$work/persist.out" ] && break; sleep 0.1; done
kept=$(head -n 1 "$work/persist.out")
tap_check "persist.connects" test -n "$kept"
later=$($hbx layer add --remote "$kept" --digest "$digest" --cache "$work/cache3" -j |
	sed -n 's/.*"index":\([0-9]*\).*/\1/p')
del_server_peers
cmp -s "$work/layer.erofs" "/dev/hbx$later"
tap_result $? "persist.reads_complete_across_the_reconnect"
grep -q "reconnected" "$work/persist.err"
tap_result $? "persist.reconnected_to_the_same_peer"
$hbx peer list -j | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin) if p["id"] == int(sys.argv[1])][0]
assert p["state"] == "up", p' "$kept"
tap_result $? "persist.peer_is_up_again"
$hbx layer del "$later"

tap_end
