#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM: read throughput of a 256 MiB layer through hyperbox
# (cold, verifying on first read; and already verified) against a loop
# device and loop + dm-verity on the same image, all in this one boot.
# Runs alternate case by case over ROUNDS rounds; medians are reported.
#   usage: tools/bench/layers.sh HYPERBOX.KO
set -u
cd "$(dirname "$0")/../.." || exit 1
. selftests/lib.sh
ko=${1:?usage: layers.sh hyperbox.ko}
rounds=${HBX_BENCH_ROUNDS:-3}		# sequential runs take seconds each
rand_rounds=${HBX_BENCH_RAND_ROUNDS:-5}	# random runs are cheap: more of them
rand_ios=${HBX_BENCH_RAND_IOS:-5000}
hbx=$PWD/tools/hbx/hbx
rb=$PWD/tools/bench/readbench

hbx_vm_prepare
grep -q "^hyperbox " /proc/modules || insmod "$ko" || exit 1
work=$(mktemp -d /tmp/hbx-bench.XXXXXX)
trap 'veritysetup close hbxbench 2>/dev/null; losetup -D; rm -rf "$work"' EXIT

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

layer_add() { $hbx layer add "$img" -j | sed -n 's/.*"device":"\([^"]*\)".*/\/dev\/\1/p'; }
layer_del() { $hbx layer del "$1"; }

# measure CASE PATTERN: one run, printed as a number (MB/s or IOPS).
measure() {
	local dev out
	case $1 in
	loop)		dev=$loopdev ;;
	verity)		dev=$veritydev ;;
	hbx-cold)	dev=$(layer_add) ;;
	hbx-verified)	dev=$(layer_add); $rb seq "$dev" > /dev/null ;;
	esac
	drop_caches
	if [ "$2" = seq ]; then
		out=$($rb seq "$dev" $((1 << 20)) | mbps)
	else
		out=$($rb rand "$dev" "$rand_ios" | iops)
	fi
	case $1 in hbx-*) layer_del "$dev" ;; esac
	echo "$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

cases="loop verity hbx-cold hbx-verified"
declare -A runs
for pattern in seq rand; do
	n=$rounds
	[ "$pattern" = rand ] && n=$rand_rounds
	for r in $(seq "$n"); do
		# Rotate the order each round so no case always runs first.
		set -- $cases
		for _ in $(seq $(( (r - 1) % 4 ))); do set -- "$@" "$1"; shift; done
		for c in "$@"; do
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
printf '\nhbx verified / loop:          seq %s  rand %s   (target >= 1.0)\n' \
	"$(ratio "${med[seq.hbx-verified]}" "${med[seq.loop]}")" \
	"$(ratio "${med[rand.hbx-verified]}" "${med[rand.loop]}")"
printf 'hbx cold / loop + dm-verity:  seq %s  rand %s   (target >= 1.0)\n' \
	"$(ratio "${med[seq.hbx-cold]}" "${med[seq.verity]}")" \
	"$(ratio "${med[rand.hbx-cold]}" "${med[rand.verity]}")"

# One line for tools/bench/run to save under bench/.
printf 'HBX_BENCH_JSON {"bench":"layers","kernel":"%s","rounds":%s,"image_bytes":%s,' \
	"$(uname -r)" "$rounds" "$(stat -c %s "$img")"
printf '"seq_mb_per_s":{"loop":%s,"verity":%s,"hbx_cold":%s,"hbx_verified":%s},' \
	"${med[seq.loop]}" "${med[seq.verity]}" "${med[seq.hbx-cold]}" "${med[seq.hbx-verified]}"
printf '"rand_4k_iops":{"loop":%s,"verity":%s,"hbx_cold":%s,"hbx_verified":%s},' \
	"${med[rand.loop]}" "${med[rand.verity]}" "${med[rand.hbx-cold]}" "${med[rand.hbx-verified]}"
printf '"ratios":{"seq_hbx_verified_vs_loop":%s,"seq_hbx_cold_vs_verity":%s,"rand_hbx_verified_vs_loop":%s,"rand_hbx_cold_vs_verity":%s}}\n' \
	"$(ratio "${med[seq.hbx-verified]}" "${med[seq.loop]}")" \
	"$(ratio "${med[seq.hbx-cold]}" "${med[seq.verity]}")" \
	"$(ratio "${med[rand.hbx-verified]}" "${med[rand.loop]}")" \
	"$(ratio "${med[rand.hbx-cold]}" "${med[rand.verity]}")"
