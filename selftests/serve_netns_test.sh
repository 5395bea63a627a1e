#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Exports belong to the network namespace they were made in: two nodes share
# this kernel as namespaces joined by veth; node A exports a layer and serves
# it over kTLS; node B fetches it across the veth; B's own server, with
# nothing exported in B, refuses the same digest; each node sees only its
# own peers.  Runs inside the VM with hyperbox.ko loaded.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
fetch=$PWD/tests/stoq_fetch
work=$(mktemp -d /tmp/hbx-netns.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	hbx_forget_peers "$hbx" hbxa hbxb
	hbx_unmount_all "$work/mnt"
	hbx_detach_all "$hbx"
	ip netns del hbxa 2>/dev/null
	ip netns del hbxb 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

tap_begin
modprobe -q tls veth 2>/dev/null
ip netns add hbxa && ip netns add hbxb &&
	ip link add va netns hbxa type veth peer name vb netns hbxb &&
	ip -n hbxa addr add 10.77.0.1/24 dev va && ip -n hbxa link set va up &&
	ip -n hbxb addr add 10.77.0.2/24 dev vb && ip -n hbxb link set vb up &&
	ip -n hbxa link set lo up && ip -n hbxb link set lo up
tap_result $? "netns.two_nodes_joined_by_veth"

$hbx cert init --dir "$work/ca" --name test-cluster > /dev/null &&
	$hbx cert issue node-a --san dns:node-a,ip:10.77.0.1 --dir "$work/ca" --out "$work/a" > /dev/null &&
	$hbx cert issue node-b --san dns:node-b,ip:10.77.0.2 --dir "$work/ca" --out "$work/b" > /dev/null
tap_result $? "netns.certificates"

mkdir -p "$work/src"
head -c 524288 /dev/urandom > "$work/src/blob"
digest=$($hbx layer build "$work/src" -o "$work/layer.erofs")
index=$($hbx layer add "$work/layer.erofs" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
ip netns exec hbxa "$hbx" layer export "$index"
tap_result $? "netns.node_a_exports_the_layer"

serve() {	# serve NS ADDR CERT: a TLS server in that namespace
	ip netns exec "$1" "$hbx" serve --listen "$2:7411" --cert "$3.crt" \
		--key "$3.key" --ca "$work/ca/ca.crt" > "$work/serve-$1.log" 2>&1 &
	pids="$pids $!"
	hbx_wait_listening "$work/serve-$1.log"
}
serve hbxa 10.77.0.1 "$work/a" && serve hbxb 10.77.0.2 "$work/b"
tap_result $? "netns.both_nodes_serve"

from() {	# from NS ADDR NAME CERT OUT: fetch the layer from ADDR
	ip netns exec "$1" "$fetch" "$2:7411" --digest "$digest" -o "$5" \
		--ca "$work/ca/ca.crt" --cert "$4.crt" --key "$4.key" --name "$3"
}
from hbxb 10.77.0.1 node-a "$work/b" "$work/fetched" > "$work/fetch.log" 2>&1 &&
	cmp -s "$work/layer.erofs" "$work/fetched"
tap_result $? "netns.node_b_fetches_from_node_a_over_veth"

! from hbxa 10.77.0.2 node-b "$work/a" "$work/x" > "$work/refused.log" 2>&1 &&
	grep -q "unknown layer" "$work/refused.log"
tap_result $? "netns.node_b_does_not_serve_what_node_a_exported"

# Node B attaches the layer remotely from node A over the veth and mounts it.
peer=$(ip netns exec hbxb "$hbx" peer connect 10.77.0.1:7411 --cert "$work/b.crt" \
	--key "$work/b.key" --ca "$work/ca/ca.crt" --name node-a --timeout-ms 5000)
tap_result $? "netns.node_b_connects_a_client_peer_to_node_a"
# (ip netns exec runs in its own mount namespace: attach there, mount here.)
mkdir -p "$work/mnt"
ip netns exec hbxb "$hbx" layer add --remote "$peer" --digest "$digest" \
	--cache "$work/cache" > "$work/add.out"
remote=$(sed -n 's|^/dev/hbx\([0-9]*\) .*|\1|p' "$work/add.out")
mount -t erofs -o ro "/dev/hbx$remote" "$work/mnt" &&
	diff -r --no-dereference "$work/src" "$work/mnt" > /dev/null
tap_result $? "netns.node_b_mounts_the_remote_layer_and_it_matches"
umount "$work/mnt" 2>/dev/null
[ -n "$remote" ] && $hbx layer del "$remote"
! $hbx layer add --remote "$peer" --digest "$digest" --cache "$work/cache" 2> "$work/err" &&
	grep -q "no client peer with that id in this network namespace" "$work/err"
tap_result $? "netns.another_namespace_cannot_use_node_bs_peer"

tap_check "netns.each_node_lists_only_its_own_peers" \
	test "$(ip netns exec hbxa "$hbx" peer list -j | grep -o '"name":"node-b"' | wc -l)" = 2 -a \
	     "$(ip netns exec hbxb "$hbx" peer list -j | grep -o '"name":"node-a"' | wc -l)" = 2 -a \
	     "$(ip netns exec hbxa "$hbx" peer list -j | grep -o '"name":"node-a"' | wc -l)" = 0
tap_check "netns.init_namespace_sees_no_peers" test "$($hbx peer list -j)" = "[]"

tap_end
