#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest half of the power-cut test (selftests/powercut.sh runs it in two
# VM boots over one virtual disk, /dev/vda).
#   cut KO     format the disk, build a layer on it, node A (a netns) seeds
#              it, node B pulls it into a cache file on the disk; a third of
#              the way in, sync; halfway, reset the machine without warning
#   resume KO  mount the disk, seed again, re-attach B with the same cache:
#              chunks that verify are kept, the rest fetched; the bytes match
set -u
phase=${1:?usage: powercut_vm.sh cut|resume hyperbox.ko}
ko=${2:?usage: powercut_vm.sh cut|resume hyperbox.ko}
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
disk=/mnt/hbx-disk

tap_begin
hbx_vm_prepare
insmod "$ko"
tap_result $? "powercut.$phase.module_loads"
modprobe -q ext4 sch_tbf
if [ "$phase" = cut ]; then
	mkfs.ext4 -q -F /dev/vda
	tap_result $? "powercut.cut.format_the_disk"
fi
mkdir -p "$disk" && mount /dev/vda "$disk"
tap_result $? "powercut.$phase.mount_the_disk"

if [ "$phase" = cut ]; then
	mkdir -p "$disk/src"
	cp -a /usr/share/zoneinfo/Europe "$disk/src/"
	head -c 8388608 /dev/urandom > "$disk/src/blob"
	$hbx layer build "$disk/src" -o "$disk/layer.erofs" > "$disk/digest"
	tap_result $? "powercut.cut.build_the_layer_on_the_disk"
fi
digest=$(cat "$disk/digest")

# Node A seeds from the disk's image; node B pulls into the disk's cache.
hbx_veth hbxa 10.79.0.1/24 hbxb 10.79.0.2/24 &&
	seed=$($hbx layer add "$disk/layer.erofs" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p') &&
	ip netns exec hbxa "$hbx" layer export "$seed" &&
	{ ip netns exec hbxa "$hbx" serve --listen 10.79.0.1:7441 --insecure > /tmp/serve.log 2>&1 & } &&
	hbx_wait_listening /tmp/serve.log &&
	peer=$(ip netns exec hbxb "$hbx" peer connect 10.79.0.1:7441 --insecure --timeout-ms 5000)
tap_result $? "powercut.$phase.node_a_seeds_node_b_connects"
total=$(hbx_layer_field "$hbx" "$seed" chunks-total)

if [ "$phase" = cut ]; then
	# Slow enough to cut in the middle on any machine (8 Mbit/s was not,
	# on a host running four VMs: all 131 chunks came before the cut).
	tc -n hbxa qdisc add dev vhbxb root tbf rate 2mbit burst 32kb latency 2s
	b=$(ip netns exec hbxb "$hbx" layer add --remote "$peer" --digest "$digest" \
		--cache "$disk/cache" --prefetch --window 2 -j |
		sed -n 's/.*"index":\([0-9]*\).*/\1/p')
	here() { [ "$(hbx_layer_field "$hbx" "$b" chunks-verified)" -ge "$1" ]; }
	# Halfway means not all: a cut after the pull is done shows nothing.
	hbx_wait_until 60 here $((total / 3)) && sync &&
		hbx_wait_until 60 here $((total / 2)) && ! here "$total"
	tap_result $? "powercut.cut.pulled_halfway"
	echo "# cutting the power with $(hbx_layer_field "$hbx" "$b" chunks-verified) of $total chunks here"
	echo "powercut: cutting power now"
	sleep 0.2
	echo b > /proc/sysrq-trigger
	sleep 10
	echo "powercut: still running after the reset" >&2
	exit 1
fi

good=$(hbx_good_chunks "$disk/cache" "$disk/layer.manifest")
echo "# after the power cut, $good of $total chunks in the cache verify"
tap_check "powercut.resume.the_durable_chunks_survived" test "$good" -gt 0 -a "$good" -lt "$total"
b=$(ip netns exec hbxb "$hbx" layer add --remote "$peer" --digest "$digest" \
	--cache "$disk/cache" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p') &&
	ip netns exec hbxb "$hbx" layer pull "$b" -q
tap_result $? "powercut.resume.reattach_and_pull_complete"
fetched=$(hbx_layer_field "$hbx" "$b" chunks-fetched)
echo "# fetched $fetched, missing were $((total - good))"
tap_check "powercut.resume.fetched_only_what_was_missing" test "$fetched" -eq $((total - good))
tap_check "powercut.resume.cache_is_the_image" cmp -s "$disk/layer.erofs" "$disk/cache"
mkdir -p /tmp/mnt && mount -t erofs -o ro "/dev/hbx$b" /tmp/mnt &&
	diff -r --no-dereference "$disk/src" /tmp/mnt > /dev/null
tap_result $? "powercut.resume.mounted_layer_matches_its_source"
umount /tmp/mnt
$hbx layer del "$b" && $hbx layer del "$seed"
for id in $(ip netns exec hbxb "$hbx" peer list -j | grep -o '"id":[0-9]*' | cut -d: -f2); do
	ip netns exec hbxb "$hbx" peer del "$id"
done
for id in $(ip netns exec hbxa "$hbx" peer list -j | grep -o '"id":[0-9]*' | cut -d: -f2); do
	ip netns exec hbxa "$hbx" peer del "$id"
done
kill %1 2>/dev/null
umount "$disk"
rmmod hyperbox
tap_result $? "powercut.resume.module_unloads"
tap_end
