#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM: what hbx trace costs (issue 13).  The same reads with
# hbx trace attached (every program on every hyperbox tracepoint, run
# statistics on) and without, alternating round by round in this one boot:
#   local-cold   a 128 MiB local layer read whole, verify always, cold
#   local-warm   the same with the device's page cache holding it
#   remote-pull  a remote layer pulled whole from a peer over loopback
#                (plaintext STOQ: the transfer, not AES, is what is traced)
# Reports median MB/s, the ratios traced / untraced (target >= 0.98), and
# the BPF programs' cost per event (bpf_prog_info run_time_ns / run_cnt).
# Attaching flips static keys: run it under single-threaded TCG
# (tools/bench/run does for this bench).
#   usage: tools/bench/tracing.sh HYPERBOX.KO
set -u
cd "$(dirname "$0")/../.." || exit 1
. selftests/lib.sh
ko=${1:?usage: tracing.sh hyperbox.ko}
rounds=${HBX_BENCH_ROUNDS:-5}
size_mb=${HBX_BENCH_TRACE_MB:-128}
hbx=$PWD/tools/hbx/hbx
rb=$PWD/tools/bench/readbench

hbx_vm_prepare
grep -q "^hyperbox " /proc/modules || insmod "$ko" || exit 1
work=$(mktemp -d /tmp/hbx-bench-trace.XXXXXX)
serve_pid= trace_pid=
cleanup() {
	[ -n "$trace_pid" ] && kill -INT "$trace_pid" 2>/dev/null
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
	hbx_detach_all "$hbx"
	hbx_forget_peers "$hbx"
	rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/src"
head -c $((size_mb << 20)) /dev/urandom > "$work/src/blob"
digest=$($hbx layer build "$work/src" -o "$work/image.erofs") || exit 1
rm -rf "$work/src"
img=$work/image.erofs
echo "# image: $(stat -c %s "$img") bytes"

seed=$($hbx layer add "$img" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
$hbx layer export "$seed"
$hbx serve --listen 127.0.0.1:7611 --insecure > "$work/serve.log" 2>&1 &
serve_pid=$!
hbx_wait_listening "$work/serve.log" || exit 1
peer=$($hbx peer connect 127.0.0.1:7611 --insecure --timeout-ms 30000) || exit 1

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
mbps() { sed -n 's/.*"mb_per_s":\([0-9.]*\).*/\1/p'; }
now() { date +%s.%N; }

# trace_on / trace_off: hbx trace attached for the runs in between; its
# last interval (Ctrl-C) has the BPF run count and time and events lost.
trace_on() {
	$hbx trace -j -i 3600 > "$work/trace.json" 2> "$work/trace.err" &
	trace_pid=$!
	hbx_wait_until 30 grep -q "tracing hyperbox" "$work/trace.err"
}
trace_off() {
	kill -INT "$trace_pid"
	wait "$trace_pid"
	trace_pid=
	tail -n 1 "$work/trace.json" | python3 -c '
import json, sys
v = json.load(sys.stdin)
print(v["bpf"]["run-count"], v["bpf"]["run-time-ns"], v["events-lost"])' >> "$work/cost"
}

# measure CASE: one run, in MB/s.
measure() {
	local dev idx t0 t1
	case $1 in
	local-cold|local-warm)
		dev=$($hbx layer add "$img" -j | sed -n 's/.*"device":"\([^"]*\)".*/\/dev\/\1/p')
		drop_caches
		if [ "$1" = local-warm ]; then
			# A block device's page cache goes with its last close.
			exec 9< "$dev"
			READBENCH_BUFFERED=1 $rb seq "$dev" > /dev/null
			# One warm pass is a fraction of a second: five, their mean.
			for _ in 1 2 3 4 5; do
				READBENCH_BUFFERED=1 $rb seq "$dev" $((1 << 20)) | mbps
			done | awk '{ s += $1 } END { printf "%.2f\n", s / NR }'
			exec 9<&-
		else
			$rb seq "$dev" $((1 << 20)) | mbps
		fi
		$hbx layer del "$dev" ;;
	remote-pull)
		rm -f "$work/cache"
		idx=$($hbx layer add --remote "$peer" --digest "$digest" --cache "$work/cache" -j |
			sed -n 's/.*"index":\([0-9]*\).*/\1/p')
		t0=$(now)
		$hbx layer pull "$idx" -q || echo "# pull failed" >&2
		t1=$(now)
		$hbx layer del "$idx"
		awk -v b="$(stat -c %s "$img")" -v t0="$t0" -v t1="$t1" \
			'BEGIN { printf "%.2f\n", b / (t1 - t0) / 1e6 }' ;;
	esac
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

cases="local-cold local-warm remote-pull"
declare -A runs
for r in $(seq "$rounds"); do
	# Alternate which goes first, traced or not.
	modes="off on"
	[ $((r % 2)) -eq 0 ] && modes="on off"
	for m in $modes; do
		[ "$m" = on ] && trace_on
		for c in $cases; do
			v=$(measure "$c")
			echo "# round $r $c trace-$m: $v MB/s"
			runs[$c.$m]="${runs[$c.$m]:-} $v"
		done
		[ "$m" = on ] && trace_off
	done
done

declare -A med
for k in "${!runs[@]}"; do
	med[$k]=$(echo "${runs[$k]}" | tr ' ' '\n' | grep . | median)
done
read -r bpf_runs bpf_ns lost <<< "$(awk '{ r += $1; n += $2; l += $3 } END { print r, n, l }' "$work/cost")"
per_event=$(awk -v r="$bpf_runs" -v n="$bpf_ns" 'BEGIN { printf "%.0f", r ? n / r : 0 }')

printf '\n%-12s %12s %12s %8s\n' "case" "untraced" "traced" "ratio"
for c in $cases; do
	printf '%-12s %12s %12s %8s   (target >= 0.98)\n' "$c" "${med[$c.off]}" "${med[$c.on]}" \
		"$(ratio "${med[$c.on]}" "${med[$c.off]}")"
done
printf 'BPF: %s runs, %s ns in all, %s ns per event; %s events lost\n' \
	"$bpf_runs" "$bpf_ns" "$per_event" "$lost"

printf 'HBX_BENCH_JSON {"bench":"tracing","kernel":"%s","rounds":%s,"image_bytes":%s,' \
	"$(uname -r)" "$rounds" "$(stat -c %s "$img")"
sep=
printf '"mb_per_s":{'
for c in $cases; do
	printf '%s"%s":{"untraced":%s,"traced":%s}' "$sep" "${c//-/_}" "${med[$c.off]}" "${med[$c.on]}"
	sep=,
done
printf '},"ratios":{'
sep=
for c in $cases; do
	printf '%s"%s":%s' "$sep" "${c//-/_}" "$(ratio "${med[$c.on]}" "${med[$c.off]}")"
	sep=,
done
printf '},"bpf":{"runs":%s,"run_time_ns":%s,"ns_per_event":%s,"events_lost":%s}}\n' \
	"$bpf_runs" "$bpf_ns" "$per_event" "$lost"
