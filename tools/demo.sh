#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: runs inside the VM.  Three nodes, each a network namespace of
# this kernel, with certificates from hbx cert.  A builds a layer and serves
# it; B attaches it lazily from A, mounts it and re-serves it; C attaches it
# from B and reads a file long before the pull is done; hbx layer list shows
# the progress; C's pull completes and diff -r finds nothing.  Last, a peer
# that lies is caught.
#   usage: tools/demo.sh HYPERBOX.KO
set -eu
cd "$(dirname "$0")/.."
. selftests/lib.sh
ko=${1:-kmod/hyperbox.ko}
hbx=$PWD/tools/hbx/hbx
work=$(mktemp -d /tmp/hbx-demo.XXXXXX)
export PATH=$PATH:$PWD/tools/hbx

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
on() { local n=$1; shift; printf '\n\033[1m%s$ %s\033[0m\n' "$n" "$*" >&2; ip netns exec "hbx$n" "$@"; }
say() { printf '\n# %s\n' "$*"; }
index_of() { sed -n 's|^/dev/hbx\([0-9]*\) .*|\1|p'; }

hbx_vm_prepare
modprobe -q sch_tbf
step insmod "$ko"
step hbx version

say "Three nodes joined by veth: A (10.80.0.1) - B (10.80.0.2, 10.80.1.2) - C (10.80.1.3)."
hbx_veth hbxa 10.80.0.1/24 hbxb 10.80.0.2/24
hbx_veth hbxb 10.80.1.2/24 hbxc 10.80.1.3/24
say "The A-B link is held to 64 Mbit/s, so the pull is slow enough to watch."
tc -n hbxa qdisc add dev vhbxb root tbf rate 64mbit burst 64kb latency 2s

say "A cluster CA and a certificate per node (ECDSA P-256, mutual TLS)."
step hbx cert init --dir "$work/ca" --name demo-cluster
step hbx cert issue node-a --san dns:node-a,ip:10.80.0.1 --dir "$work/ca" --out "$work/a"
step hbx cert issue node-b --san dns:node-b,ip:10.80.0.2,ip:10.80.1.2 --dir "$work/ca" --out "$work/b"
step hbx cert issue node-c --san dns:node-c,ip:10.80.1.3 --dir "$work/ca" --out "$work/c"

say "A builds a layer: Python's json and email packages, the zoneinfo database and 48 MiB of model weights."
mkdir -p "$work/tree"
cp -a /usr/lib/python3.11/json /usr/lib/python3.11/email /usr/share/zoneinfo "$work/tree/"
head -c 50331648 /dev/urandom > "$work/tree/weights.bin"
digest=$(hbx layer build "$work/tree" -o "$work/layer.erofs")
echo "$digest  ($(find "$work/tree" -type f | wc -l) files, $(du -sh "$work/layer.erofs" | cut -f1))"
seed=$(hbx layer add "$work/layer.erofs" | index_of)
on a hbx layer export "$seed"

serve() {	# serve NODE ADDR
	ip netns exec "hbx$1" "$hbx" serve --listen "$2:7400" --cert "$work/$1.crt" \
		--key "$work/$1.key" --ca "$work/ca/ca.crt" > "$work/serve-$1.log" 2>&1 &
	hbx_wait_listening "$work/serve-$1.log"
	echo "node $1: $(cat "$work/serve-$1.log")"
}
say "A and B serve over kTLS: hbx serve does the handshake and hands each socket to the module."
serve a 10.80.0.1
serve b 10.80.1.2

say "B connects to A and attaches the layer lazily, prefetching in the background."
pa=$(on b hbx peer connect 10.80.0.1:7400 --cert "$work/b.crt" --key "$work/b.key" \
	--ca "$work/ca/ca.crt" --name node-a --connections 2 | tail -n 1)
b=$(on b hbx layer add --remote "$pa" --digest "$digest" --cache "$work/b.cache" --prefetch | tee /dev/stderr | index_of)
on b hbx layer export "$b"
mkdir -p "$work/b-mnt" "$work/c-mnt"
step mount -t erofs -o ro "/dev/hbx$b" "$work/b-mnt"

say "C connects to B (not to A) and mounts the layer from B, which is still pulling it."
pb=$(on c hbx peer connect 10.80.1.2:7400 --cert "$work/c.crt" --key "$work/c.key" \
	--ca "$work/ca/ca.crt" --name node-b --connections 2 | tail -n 1)
c=$(on c hbx layer add --remote "$pb" --digest "$digest" --cache "$work/c.cache" | tee /dev/stderr | index_of)
step mount -t erofs -o ro "/dev/hbx$c" "$work/c-mnt"
say "C reads a file now:"
start=$(date +%s%N)
step head -n 4 "$work/c-mnt/json/__init__.py"
echo "read in $(( ($(date +%s%N) - start) / 1000000 )) ms, with $(hbx_layer_field "$hbx" "$c" chunks-verified) of $(hbx_layer_field "$hbx" "$c" chunks-total) chunks on C and $(hbx_layer_field "$hbx" "$b" chunks-verified) on B"
step hbx layer list

say "C pulls the rest in the foreground (B fetches from A what it does not have yet):"
on c hbx layer pull "$c"
step diff -r "$work/tree" "$work/c-mnt"
say "diff -r found no difference."
on b hbx layer pull "$b"
step hbx layer list
on b hbx peer list
on a hbx peer list

say "Last: a peer that sends corrupt chunks (one byte flipped in each)."
tc -n hbxa qdisc del dev vhbxb root
ip netns exec hbxa tests/stoq_liar 10.80.0.1:7499 "$work/layer.erofs" "$work/layer.manifest" > "$work/liar.log" 2>&1 &
hbx_wait_listening "$work/liar.log"
pl=$(on b hbx peer connect 10.80.0.1:7499 --insecure | tail -n 1)
d=$(on b hbx layer add --remote "$pl,$pa" --digest "$digest" --cache "$work/d.cache" | index_of)
step dd if="/dev/hbx$d" of="$work/d.read" bs=1M count=4 status=none
step cmp -n 4194304 "$work/layer.erofs" "$work/d.read"
say "The bytes are right: the liar's chunk failed its SHA-256, was counted, and came from A instead."
on b hbx peer list
step hbx layer list

# The servers first: each runs in a mount namespace of its own (ip netns
# exec), holding copies of the mounts made before it started.
kill $(jobs -p) 2>/dev/null || true
wait 2>/dev/null || true
# The liar's per-connection children die with it, but not synchronously.
liar_gone() { ! pgrep -x stoq_liar > /dev/null; }
hbx_wait_until 10 liar_gone
umount "$work/c-mnt" "$work/b-mnt"
for i in "$d" "$c" "$b" "$seed"; do hbx layer del "$i"; done
hbx_forget_peers "$hbx" hbxa hbxb hbxc
step rmmod hyperbox
say "demo: done"
rm -rf "$work"
