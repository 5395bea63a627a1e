#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM: read throughput of a 256 MiB layer through hyperbox
# against a loop device and loop + dm-verity on the same image, all in this
# one boot: cold (caches dropped) with verify always (the default: every
# block read from storage checked) and verify once (checked on first read,
# then trusted), and warm (the device's page cache holds it) against warm
# loop.  Then a container start: a Python standard library in a layer,
# imported cold through each path.  Runs alternate case by case over ROUNDS
# rounds; medians are reported.
#   usage: tools/bench/layers.sh HYPERBOX.KO
set -u
cd "$(dirname "$0")/../.." || exit 1
. selftests/lib.sh
ko=${1:?usage: layers.sh hyperbox.ko}
rounds=${HBX_BENCH_ROUNDS:-3}		# sequential runs take seconds each
rand_rounds=${HBX_BENCH_RAND_ROUNDS:-5}	# random runs are cheap: more of them
start_rounds=${HBX_BENCH_START_ROUNDS:-21}	# a start is seconds under TCG: noisy
rand_ios=${HBX_BENCH_RAND_IOS:-5000}
# Warm sequential reads: each warm-up sets a level (where TCG finds the
# cached pages) that its samples share, so the median wants many warm-ups.
warm_rounds=${HBX_BENCH_WARM_ROUNDS:-15}
warm_passes=${HBX_BENCH_WARM_PASSES:-2}
warm_samples=${HBX_BENCH_WARM_SAMPLES:-3}
hbx=$PWD/tools/hbx/hbx
rb=$PWD/tools/bench/readbench

hbx_vm_prepare
grep -q "^hyperbox " /proc/modules || insmod "$ko" || exit 1
work=$(mktemp -d /tmp/hbx-bench.XXXXXX)
trap 'umount "$work/mnt" "$work/pyfs" 2>/dev/null; veritysetup close hbxbench 2>/dev/null; veritysetup close hbxbenchpy 2>/dev/null; losetup -D; rm -rf "$work"' EXIT

mkdir "$work/src"
head -c $((256 << 20)) /dev/urandom > "$work/src/blob"
$hbx layer build "$work/src" -o "$work/image.erofs" > /dev/null || exit 1
rm -rf "$work/src"
img=$work/image.erofs
echo "# image: $(stat -c %s "$img") bytes; sha256 driver: $(grep -A3 '^name *: sha256$' /proc/crypto | sed -n 's/^driver *: //p' | head -n1)"

# Read-only loop devices only: hyperbox refuses an image someone may write.
loopdev=$(losetup -f --show -r "$img")
verityloop=$(losetup -f --show -r "$img")
roothash=$(veritysetup format "$img" "$work/hash" | sed -n 's/^Root hash:[[:space:]]*//p')
veritysetup open "$verityloop" hbxbench "$work/hash" "$roothash" || exit 1
veritydev=/dev/mapper/hbxbench

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
mbps() { sed -n 's/.*"mb_per_s":\([0-9.]*\).*/\1/p'; }
iops() { sed -n 's/.*"iops":\([0-9.]*\).*/\1/p'; }

# layer_add [ARGS...]: attach the image; prints its device.
layer_add() { $hbx layer add "$img" "$@" -j | sed -n 's/.*"device":"\([^"]*\)".*/\/dev\/\1/p'; }
layer_del() { $hbx layer del "$1"; }

# Reads the block device completed (its first field in /sys/block/X/stat).
device_reads() { awk '{ print $1 }' "/sys/block/$(basename "$(readlink -f "$1")")/stat"; }

# measure CASE PATTERN: one run, printed as a number (MB/s or IOPS).
measure() {
	local dev out
	case $1 in
	loop|loop-warm)	dev=$loopdev ;;
	verity)		dev=$veritydev ;;
	hbx-cold)	dev=$(layer_add) ;;
	hbx-once-cold)	dev=$(layer_add --verify once) ;;
	hbx-warm)	dev=$(layer_add) ;;
	esac
	drop_caches
	# Warm: buffered reads, the whole device read once first, so every
	# measured read hits the device's page cache.
	# A block device's page cache goes with its last close: hold it open.
	# The fill runs on one CPU, whatever the device: a reader that moves
	# between CPUs while it fills takes its pages from each CPU's free list
	# in turn, so they lie in runs of some 40 instead of hundreds, and under
	# TCG a hit on such pages copies some 15 % slower (the profile of the
	# hits is the same: the copy, nothing of the device's).  hyperbox's
	# cold fill left its pages scattered where loop's were not (likely as
	# its hashing takes a CPU and the reader wakes on the other), so this
	# bench compared page layouts, not page-cache hits.  The hits
	# themselves run unpinned.
	local buffered=
	case $1 in
	*-warm)	buffered=1
		exec 9< "$dev"
		READBENCH_BUFFERED=1 taskset -c 0 $rb seq "$dev" > /dev/null ;;
	esac
	if [ "$2" = seq ] && [ -n "$buffered" ]; then
		# A warm pass is a fraction of a second, and one process may read
		# the same cached pages at half the next one's speed (TCG and the
		# host, whatever the device): several runs of several passes, each
		# a sample of the median.  The reads that reach the device during
		# them are counted: none should (all are page-cache hits).
		local reads0
		reads0=$(device_reads "$dev")
		out=
		for _ in $(seq "$warm_samples"); do
			out="$out $(READBENCH_BUFFERED=1 READBENCH_PASSES=$warm_passes \
				$rb seq "$dev" $((1 << 20)) | mbps)"
		done
		echo "$1 $(( $(device_reads "$dev") - reads0 ))" >> "$work/warm-reads"
	elif [ "$2" = seq ]; then
		out=$($rb seq "$dev" $((1 << 20)) | mbps)
	else
		out=$(READBENCH_BUFFERED=$buffered $rb rand "$dev" "$rand_ios" | iops)
	fi
	[ -n "$buffered" ] && exec 9<&-
	case $1 in hbx-*) layer_del "$dev" ;; esac
	echo "$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

cases="loop verity hbx-cold hbx-once-cold loop-warm hbx-warm"
declare -A runs
for pattern in seq rand; do
	n=$rounds
	[ "$pattern" = rand ] && n=$rand_rounds
	[ "$pattern" = seq ] && [ "$warm_rounds" -gt "$n" ] && n=$warm_rounds
	for r in $(seq "$n"); do
		# Rotate the order each round so no case always runs first.
		set -- $cases
		for _ in $(seq $(( (r - 1) % 6 ))); do set -- "$@" "$1"; shift; done
		for c in "$@"; do
			# Past the rounds of the others, only the warm cases go on.
			case $pattern.$c in seq.*-warm) ;; seq.*) [ "$r" -gt "$rounds" ] && continue ;; esac
			v=$(measure "$c" "$pattern")
			echo "# round $r $pattern $c: $v"
			runs[$pattern.$c]="${runs[$pattern.$c]:-} $v"
		done
	done
done

declare -A med
for k in "${!runs[@]}"; do
	med[$k]=$(echo "${runs[$k]}" | tr ' ' '\n' | grep . | median)
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

printf '\n%-14s %14s %16s\n' "path" "seq 1M MB/s" "rand 4K IOPS"
for c in $cases; do
	printf '%-14s %14s %16s\n' "$c" "${med[seq.$c]}" "${med[rand.$c]}"
done
printf '\nhbx always cold / loop + dm-verity:  seq %s (target >= 1.5)  rand %s (target >= 1.0)\n' \
	"$(ratio "${med[seq.hbx-cold]}" "${med[seq.verity]}")" \
	"$(ratio "${med[rand.hbx-cold]}" "${med[rand.verity]}")"
printf 'hbx once cold / loop + dm-verity:    seq %s  rand %s\n' \
	"$(ratio "${med[seq.hbx-once-cold]}" "${med[seq.verity]}")" \
	"$(ratio "${med[rand.hbx-once-cold]}" "${med[rand.verity]}")"
printf 'hbx warm / loop warm:                seq %s  rand %s   (target >= 0.95)\n' \
	"$(ratio "${med[seq.hbx-warm]}" "${med[seq.loop-warm]}")" \
	"$(ratio "${med[rand.hbx-warm]}" "${med[rand.loop-warm]}")"
warm_reads() { awk -v c="$1" '$1 == c { n += $2 } END { print n + 0 }' "$work/warm-reads"; }
printf 'reads that reached the device in the warm sequential samples: loop %s, hbx %s\n' \
	"$(warm_reads loop-warm)" "$(warm_reads hbx-warm)"

# --- container start: import a Python standard library from a cold layer.
py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
mkdir -p "$work/pysrc/usr/lib"
cp -a "/usr/lib/python$py" "$work/pysrc/usr/lib/"
rm -rf "$work/pysrc/usr/lib/python$py/test" "$work/pysrc/usr/lib/python$py/dist-packages"
# Its mtimes kept, as an imported image keeps them: pinned, every start
# would recompile the .pyc files (whose headers name their sources' mtimes).
$hbx layer build --keep-mtimes "$work/pysrc" -o "$work/py.erofs" > /dev/null || exit 1
rm -rf "$work/pysrc"
pyimg=$work/py.erofs
pyloop=$(losetup -f --show -r "$pyimg")
pyverityloop=$(losetup -f --show -r "$pyimg")
pyroot=$(veritysetup format "$pyimg" "$work/pyhash" | sed -n 's/^Root hash:[[:space:]]*//p')
veritysetup open "$pyverityloop" hbxbenchpy "$work/pyhash" "$pyroot" || exit 1
# EROFS's own file-backed mount (6.12) wants a backing file whose page cache
# reads folios, which tmpfs's does not: its copy sits on a small ext4 (on a
# loop device over tmpfs, one layer more than the others go through).
truncate -s $(( $(stat -c %s "$pyimg") + (64 << 20) )) "$work/pyfs.img"
mkdir -p "$work/pyfs"
mkfs.ext4 -q "$work/pyfs.img" && mount -o loop "$work/pyfs.img" "$work/pyfs" &&
	cp "$pyimg" "$work/pyfs/py.erofs"
mkdir -p "$work/mnt"
start_cmd='import json, sqlite3, email, http.client, xml.etree.ElementTree, asyncio'

# start CASE: seconds to run the imports from a cold mount of the layer.
start() {
	local dev= t
	case $1 in
	hbx)	dev=$($hbx layer add "$pyimg" -j | sed -n 's/.*"device":"\([^"]*\)".*/\/dev\/\1/p')
		mount -t erofs -o ro "$dev" "$work/mnt" ;;
	verity)	mount -t erofs -o ro /dev/mapper/hbxbenchpy "$work/mnt" ;;
	loop)	mount -t erofs -o ro "$pyloop" "$work/mnt" ;;
	# mount(2) itself: mount(8) would put a loop device under a file.
	file)	python3 -c 'import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(libc.mount(sys.argv[1].encode(), sys.argv[2].encode(), b"erofs", 1, None) != 0)' \
			"$work/pyfs/py.erofs" "$work/mnt" 2>/dev/null || { echo -; return; }
		# Not a loop device: EROFS's own file-backed mount.
		case $(findmnt -n -o SOURCE "$work/mnt") in
		/dev/loop*) umount "$work/mnt"; echo -; return ;;
		esac ;;
	esac
	drop_caches
	# The interpreter and its libraries come from the VM's root, not the
	# layer: load them (and let TCG translate them) before the clock runs,
	# so a sample is the layer's part of the start and less of TCG's noise.
	python3 -I -S -c pass
	t=$( { /usr/bin/time -f %e env PYTHONHOME="$work/mnt/usr" PYTHONDONTWRITEBYTECODE=1 \
		python3 -c "$start_cmd" > /dev/null; } 2>&1 | tail -n1)
	umount "$work/mnt"
	[ -n "$dev" ] && $hbx layer del "$dev"
	echo "$t"
}

start_cases="hbx verity loop file"
for r in $(seq "$start_rounds"); do
	set -- $start_cases
	for _ in $(seq $(( (r - 1) % 4 ))); do set -- "$@" "$1"; shift; done
	for c in "$@"; do
		v=$(start "$c")
		echo "# round $r start $c: $v s"
		runs[start.$c]="${runs[start.$c]:-} $v"
	done
done
for c in $start_cases; do
	med[start.$c]=$(echo "${runs[start.$c]}" | tr ' ' '\n' | grep -v '^-*$' | median)
	[ -n "${med[start.$c]}" ] || med[start.$c]=null
done
veritysetup close hbxbenchpy
printf '\ncontainer start (python imports, cold): hbx %s s, loop+dm-verity %s s, loop %s s, erofs file-backed %s s\n' \
	"${med[start.hbx]}" "${med[start.verity]}" "${med[start.loop]}" "${med[start.file]}"
printf 'hbx / loop + dm-verity: %s   (target <= 1.0)\n' "$(ratio "${med[start.hbx]}" "${med[start.verity]}")"

# One line for tools/bench/run to save under bench/.
printf 'HBX_BENCH_JSON {"bench":"layers","kernel":"%s","rounds":%s,"warm_rounds":%s,"start_rounds":%s,"image_bytes":%s,' \
	"$(uname -r)" "$rounds" "$warm_rounds" "$start_rounds" "$(stat -c %s "$img")"
json_cases() {	# json_cases PATTERN: "case":median,... for every case
	local c sep=
	for c in $cases; do printf '%s"%s":%s' "$sep" "${c//-/_}" "${med[$1.$c]}"; sep=,; done
}
printf '"seq_mb_per_s":{%s},"rand_4k_iops":{%s},' "$(json_cases seq)" "$(json_cases rand)"
printf '"warm_seq_device_reads":{"loop_warm":%s,"hbx_warm":%s},' \
	"$(warm_reads loop-warm)" "$(warm_reads hbx-warm)"
printf '"start_s":{"hbx":%s,"verity":%s,"loop":%s,"erofs_file":%s},' \
	"${med[start.hbx]}" "${med[start.verity]}" "${med[start.loop]}" "${med[start.file]}"
printf '"ratios":{"seq_always_cold_vs_verity":%s,"rand_always_cold_vs_verity":%s,"seq_once_cold_vs_verity":%s,"rand_once_cold_vs_verity":%s,"seq_warm_vs_loop_warm":%s,"rand_warm_vs_loop_warm":%s,"start_hbx_vs_verity":%s}}\n' \
	"$(ratio "${med[seq.hbx-cold]}" "${med[seq.verity]}")" \
	"$(ratio "${med[rand.hbx-cold]}" "${med[rand.verity]}")" \
	"$(ratio "${med[seq.hbx-once-cold]}" "${med[seq.verity]}")" \
	"$(ratio "${med[rand.hbx-once-cold]}" "${med[rand.verity]}")" \
	"$(ratio "${med[seq.hbx-warm]}" "${med[seq.loop-warm]}")" \
	"$(ratio "${med[rand.hbx-warm]}" "${med[rand.loop-warm]}")" \
	"$(ratio "${med[start.hbx]}" "${med[start.verity]}")"
