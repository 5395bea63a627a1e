#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM: lazy pull of a 256 MiB layer between nodes that are
# network namespaces joined by veth, AES-256-GCM TLS 1.2 throughout.
#   first-file  attach + mount + read one small file, against downloading
#               the whole image (a kTLS sendfile stream, the link's ceiling)
#               then mounting it (target: at most 5% of that)
#   pull        hbx layer pull of the whole layer, against the kTLS stream
#               of the image (target: at least 0.8x)
#   chain       A -> B -> C: B pulls from A while C pulls from B, which
#               fetches first what C asks and it lacks; C's throughput
#               against B's (target: at least 0.8x)
# Under emulation every path here is CPU-bound, so the stream, the pull and
# a local verification of the image (SHA-256 of every chunk, which a pull
# must do and the stream does not) also report the CPU time they took: the
# stream's plus the verification's, over the vCPUs, is the fastest any
# verified transfer could be on this machine.
#   usage: tools/bench/lazy.sh HYPERBOX.KO
set -u
cd "$(dirname "$0")/../.." || exit 1
. selftests/lib.sh
ko=${1:?usage: lazy.sh hyperbox.ko}
rounds=${HBX_BENCH_ROUNDS:-3}
window=${HBX_BENCH_WINDOW:-8}
connections=${HBX_BENCH_CONNECTIONS:-2}
hbx=$PWD/tools/hbx/hbx
stream=$PWD/tools/bench/ktls_stream

hbx_vm_prepare
grep -q "^hyperbox " /proc/modules || insmod "$ko" || exit 1
work=$(mktemp -d /tmp/hbx-bench-lazy.XXXXXX)
cleanup() {
	hbx_unmount_all "$work"/mnt*
	hbx_detach_all "$hbx"
	hbx_forget_peers "$hbx" hbxa hbxb hbxc
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	for ns in hbxa hbxb hbxc; do ip netns del $ns 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
on() { local n=$1; shift; ip netns exec "hbx$n" "$@"; }
now() { date +%s.%N; }
index_of() { sed -n 's/.*"index":\([0-9]*\).*/\1/p'; }

hbx_veth hbxa 10.81.0.1/24 hbxb 10.81.0.2/24 &&
	hbx_veth hbxb 10.81.1.2/24 hbxc 10.81.1.3/24 || exit 1

mkdir "$work/src"
head -c $((256 << 20)) /dev/urandom > "$work/src/blob"
echo "hello from a lazily pulled layer" > "$work/src/hello.txt"
digest=$($hbx layer build "$work/src" -o "$work/image.erofs") || exit 1
rm -rf "$work/src"
img=$work/image.erofs
size=$(stat -c %s "$img")
echo "# image: $size bytes, pull window $window, $connections connections per peer; aes driver: $(grep -B1 -A2 'gcm(aes)' /proc/crypto | sed -n 's/^driver *: //p' | head -n1)"

ca=$work/ca
$hbx cert init --dir "$ca" --name bench > /dev/null
for n in a b c; do
	$hbx cert issue "node-$n" --san "dns:node-$n,ip:10.81.0.1,ip:10.81.1.2" --dir "$ca" \
		--out "$work/$n" > /dev/null
done
tls=(--ca "$ca/ca.crt" --cipher aes256)

seed=$($hbx layer add "$img" -j | index_of)
on a "$hbx" layer export "$seed"
for n in a:10.81.0.1 b:10.81.1.2; do
	on "${n%%:*}" "$hbx" serve --listen "${n#*:}:7611" --cert "$work/${n%%:*}.crt" \
		--key "$work/${n%%:*}.key" "${tls[@]}" > "$work/serve-${n%%:*}.log" 2>&1 &
	hbx_wait_listening "$work/serve-${n%%:*}.log" || exit 1
done

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
# The serving layer's device stays open (fd 8), as a serving node's mount
# of its layer holds it, so what hbx_fill_cache puts in its cache stays.
exec 8< "/dev/hbx$seed"
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "null" }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }

# connect NODE ADDR NAME: a client peer; prints its id.
connect() {
	on "$1" "$hbx" peer connect "$2:7611" --cert "$work/$1.crt" --key "$work/$1.key" \
		"${tls[@]}" --name "$3" --connections "$connections"
}
# forget NODE...: drop every peer of these nodes (and the servers' ends).
forget() {
	local n
	for n in "$@" a b; do hbx_forget_peers "$hbx" "hbx$n"; done
}

# The kTLS stream of the image from A to B: seconds.
stream_seconds() {
	on a "$stream" server 7612 "$img" --cert "$work/a.crt" --key "$work/a.key" \
		"${tls[@]}" > "$work/stream.log" 2>&1 &
	local server=$!
	hbx_wait_until 10 grep -q listening "$work/stream.log"
	on b "$stream" client 10.81.0.1:7612 --cert "$work/b.crt" --key "$work/b.key" \
		"${tls[@]}" --name node-a | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p'
	wait "$server"
}

# SHA-256 of every chunk, as a pull must do, on a local attach: seconds.
verify_seconds() {
	local idx t0 t1
	idx=$($hbx layer add "$img" -j | index_of) || return 1
	t0=$(now)
	dd if="/dev/hbx$idx" of=/dev/null bs=1M 2>/dev/null
	t1=$(now)
	$hbx layer del "$idx"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

# Download-then-mount: the stream, then a loop mount and the file.
download_then_mount() {
	local s t0 t1
	s=$(stream_seconds)
	mkdir -p "$work/mnt-loop"
	drop_caches
	t0=$(now)
	mount -t erofs -o loop,ro "$img" "$work/mnt-loop" && cat "$work/mnt-loop/hello.txt" > /dev/null
	t1=$(now)
	umount "$work/mnt-loop"
	awk -v s="$s" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", s + b - a }'
}

# Lazy: attach from A, mount, read the file.  Seconds.
first_file() {
	local peer idx t0 t1
	peer=$(connect b 10.81.0.1 node-a) || return 1
	mkdir -p "$work/mnt-b"
	rm -f "$work/b.cache"
	# One process attaches and mounts (in B's mount namespace, so the
	# read runs there too): what a container runtime would do.
	t0=$(now)
	on b sh -c "'$hbx' layer mount --remote $peer --digest $digest --cache '$work/b.cache' \
		'$work/mnt-b' > /dev/null && cat '$work/mnt-b/hello.txt' > /dev/null &&
		date +%s.%N > '$work/t1' && '$hbx' layer umount '$work/mnt-b'" || return 1
	t1=$(cat "$work/t1")
	forget b
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

# hbx layer pull of the whole layer from A into B: seconds.
pull_seconds() {
	local peer idx t0 t1
	peer=$(connect b 10.81.0.1 node-a) || return 1
	rm -f "$work/b.cache"
	idx=$(on b "$hbx" layer add --remote "$peer" --digest "$digest" --cache "$work/b.cache" -j | index_of)
	t0=$(now)
	on b "$hbx" layer pull "$idx" --window "$window" -q || return 1
	t1=$(now)
	$hbx layer del "$idx"
	forget b
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

# A -> B -> C at once: "B_seconds C_seconds".
chain_seconds() {
	local pa pb b c t0 tb tc
	pa=$(connect b 10.81.0.1 node-a) && pb=$(connect c 10.81.1.2 node-b) || return 1
	rm -f "$work/b.cache" "$work/c.cache"
	b=$(on b "$hbx" layer add --remote "$pa" --digest "$digest" --cache "$work/b.cache" -j | index_of)
	on b "$hbx" layer export "$b"
	c=$(on c "$hbx" layer add --remote "$pb" --digest "$digest" --cache "$work/c.cache" -j | index_of)
	t0=$(now)
	( on b "$hbx" layer pull "$b" --window "$window" -q; now > "$work/tb" ) &
	local pulls=$!
	( on c "$hbx" layer pull "$c" --window "$window" -q; now > "$work/tc" ) &
	wait "$pulls" $!
	tb=$(cat "$work/tb") tc=$(cat "$work/tc")
	cmp -s "$img" "$work/c.cache" || echo "# chain: C's cache does not match the image!" >&2
	$hbx layer del "$c"
	$hbx layer del "$b"
	forget b c
	awk -v a="$t0" -v b="$tb" -v c="$tc" 'BEGIN { printf "%.3f %.3f", b - a, c - a }'
}

declare -A runs
add() { runs[$1]="${runs[$1]:-} $2"; }
# timed NAME FUNCTION: run it, record its seconds and the CPU it kept busy.
timed() {
	local c0 v cpu
	c0=$(hbx_cpu_busy)
	v=$($2)
	cpu=$(awk -v a="$c0" -v b="$(hbx_cpu_busy)" 'BEGIN { printf "%.2f", b - a }')
	add "$1" "$v"
	add "$1_cpu" "$cpu"
	echo "# round $r $1: $v s, $cpu CPU s"
}
for r in $(seq "$rounds"); do
	timed stream stream_seconds
	timed verify verify_seconds
	v=$(download_then_mount); add download_mount "$v"; echo "# round $r download then mount: $v s"
	v=$(first_file); add first_file "$v"; echo "# round $r lazy first file: $v s"
	hbx_fill_cache "/dev/hbx$seed"
	timed pull pull_seconds
	hbx_fill_cache "/dev/hbx$seed"
	v=$(chain_seconds); add chain_b "${v% *}"; add chain_c "${v#* }"
	echo "# round $r chain: B $(echo "$v" | cut -d' ' -f1) s, C $(echo "$v" | cut -d' ' -f2) s"
done
declare -A med
for k in stream stream_cpu verify verify_cpu download_mount first_file pull pull_cpu \
	chain_b chain_c; do
	med[$k]=$(echo "${runs[$k]}" | tr ' ' '\n' | grep . | median)
done

printf '\n%-34s %10s %10s\n' "256 MiB layer, medians" "seconds" "MB/s"
printf '%-34s %10s %10s\n' "kTLS sendfile stream" "${med[stream]}" "$(mbps "$size" "${med[stream]}")"
printf '%-34s %10s %10s\n' "SHA-256 of every chunk (local)" "${med[verify]}" "$(mbps "$size" "${med[verify]}")"
printf '%-34s %10s\n' "download whole image, then mount" "${med[download_mount]}"
printf '%-34s %10s\n' "hbx: attach, mount, first file" "${med[first_file]}"
printf '%-34s %10s %10s\n' "hbx layer pull (A -> B)" "${med[pull]}" "$(mbps "$size" "${med[pull]}")"
printf '%-34s %10s %10s\n' "chain: B pulling from A" "${med[chain_b]}" "$(mbps "$size" "${med[chain_b]}")"
printf '%-34s %10s %10s\n' "chain: C pulling from B" "${med[chain_c]}" "$(mbps "$size" "${med[chain_c]}")"
ff=$(ratio "${med[first_file]}" "${med[download_mount]}")
pull=$(ratio "${med[stream]}" "${med[pull]}")
chain=$(ratio "${med[chain_b]}" "${med[chain_c]}")
cpus=$(nproc)
floor=$(awk -v s="${med[stream_cpu]}" -v v="${med[verify_cpu]}" -v n="$cpus" \
	'BEGIN { printf "%.3f", (s + v) / n }')
pull_floor=$(ratio "$floor" "${med[pull]}")
# With verify always the serving end checks every block it reads to send
# too, and here both ends share the VM's vCPUs: that floor has two checks.
floor2=$(awk -v s="${med[stream_cpu]}" -v v="${med[verify_cpu]}" -v n="$cpus" \
	'BEGIN { printf "%.3f", (s + 2 * v) / n }')
pull_floor2=$(ratio "$floor2" "${med[pull]}")
printf '\nCPU seconds: stream %s, verification %s, pull %s (%s vCPUs)\n' \
	"${med[stream_cpu]}" "${med[verify_cpu]}" "${med[pull_cpu]}" "$cpus"
printf 'fastest verified transfer here: (stream + verification CPU) / vCPUs = %s s\n' "$floor"
printf 'with both ends verifying in this VM: (stream + 2 x verification) / vCPUs = %s s\n' "$floor2"
printf '\nfirst file / download+mount: %s   (target <= 0.05)\n' "$ff"
printf 'pull / kTLS stream:          %s   (target >= 0.8)\n' "$pull"
printf 'chain C / B throughput:      %s   (target >= 0.8)\n' "$chain"
printf 'pull / that CPU floor:       %s\n' "$pull_floor"
printf 'pull / both-ends floor:      %s\n' "$pull_floor2"
printf 'HBX_BENCH_JSON {"bench":"lazy","kernel":"%s","rounds":%s,"window":%s,"vcpus":%s,"cipher":"AES-256-GCM TLS1.2",' \
	"$(uname -r)" "$rounds" "$window" "$cpus"
printf '"seconds":{"ktls_stream":%s,"download_then_mount":%s,"first_file":%s,"pull":%s,"chain_b":%s,"chain_c":%s},' \
	"${med[stream]}" "${med[download_mount]}" "${med[first_file]}" "${med[pull]}" \
	"${med[chain_b]}" "${med[chain_c]}"
printf '"verify_seconds":%s,"cpu_seconds":{"ktls_stream":%s,"verify":%s,"pull":%s},"verified_floor_seconds":%s,"verified_both_ends_floor_seconds":%s,' \
	"${med[verify]}" "${med[stream_cpu]}" "${med[verify_cpu]}" "${med[pull_cpu]}" "$floor" "$floor2"
printf '"ratios":{"first_file_vs_download_then_mount":%s,"pull_vs_ktls_stream":%s,"chain_c_vs_b":%s,"pull_vs_verified_floor":%s,"pull_vs_verified_both_ends_floor":%s}}\n' \
	"$ff" "$pull" "$chain" "$pull_floor" "$pull_floor2"
