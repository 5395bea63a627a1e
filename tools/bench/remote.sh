#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM: read a whole 256 MiB layer through a remote layer
# (every chunk fetched over kTLS, verified, cached; cold) against
# nbd-client/nbd-server over TLS (nbd's userspace GnuTLS proxy), plaintext
# NBD, and a plain kTLS sendfile stream (the link's ceiling), all over
# loopback in this one boot, AES-256-GCM TLS 1.2 for every encrypted path.
# Each case also reports the CPU time it took, and a local verification of
# the image (SHA-256 of every chunk, which our path must do and the others do
# not) is timed too: under emulation every path is CPU-bound, and the kTLS
# stream's CPU plus the verification's, over the vCPUs, is the fastest any
# verified transfer could be on this machine.  The serving layer's device
# cache is filled before each hbx case, outside its time and CPU: a server in
# verify always sends from its device's page cache what was checked when it
# came in from storage, as the stream sends the image from memory.  A cold
# server checks each block once more: that case's floor is the both-ends one.
#   usage: tools/bench/remote.sh HYPERBOX.KO
set -u
cd "$(dirname "$0")/../.." || exit 1
. selftests/lib.sh
ko=${1:?usage: remote.sh hyperbox.ko}
rounds=${HBX_BENCH_ROUNDS:-3}
hbx=$PWD/tools/hbx/hbx
rb=$PWD/tools/bench/readbench
stream=$PWD/tools/bench/ktls_stream

hbx_vm_prepare
grep -q "^hyperbox " /proc/modules || insmod "$ko" || exit 1
work=$(mktemp -d /tmp/hbx-bench-remote.XXXXXX)
serve_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid"
	nbd-client -d /dev/nbd0 > /dev/null 2>&1
	nbd-client -d /dev/nbd1 > /dev/null 2>&1
	pkill nbd-server
	rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/src"
head -c $((256 << 20)) /dev/urandom > "$work/src/blob"
digest=$($hbx layer build "$work/src" -o "$work/image.erofs") || exit 1
rm -rf "$work/src"
img=$work/image.erofs
echo "# image: $(stat -c %s "$img") bytes; aes driver: $(grep -B1 -A2 'gcm(aes)' /proc/crypto | sed -n 's/^driver *: //p' | head -n1)"

ca=$work/ca
$hbx cert init --dir "$ca" --name bench > /dev/null
$hbx cert issue server --san dns:server,ip:127.0.0.1 --dir "$ca" --out "$work/server" > /dev/null
$hbx cert issue client --dir "$ca" --out "$work/client" > /dev/null
tls=(--ca "$ca/ca.crt" --cipher aes256)

seed=$($hbx layer add "$img" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
$hbx layer export "$seed"
$hbx serve --listen 127.0.0.1:7601 --cert "$work/server.crt" --key "$work/server.key" \
	"${tls[@]}" > "$work/serve.log" 2>&1 &
serve_pid=$!

cat > "$work/nbd.conf" <<EOF
[generic]
	user = root
	group = root
	port = 10809
[img]
	exportname = $img
	readonly = true
EOF
cat > "$work/nbd-tls.conf" <<EOF
[generic]
	user = root
	group = root
	port = 10810
	certfile = $work/server.crt
	keyfile = $work/server.key
	cacertfile = $ca/ca.crt
	force_tls = true
	tlsprio = NORMAL:-VERS-TLS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:%SERVER_PRECEDENCE
[img]
	exportname = $img
	readonly = true
EOF
nbd-server -C "$work/nbd.conf" && nbd-server -C "$work/nbd-tls.conf" || exit 1
sleep 1

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
# The serving layer's device stays open (fd 8), as a serving node's mount
# of its layer holds it, so what hbx_fill_cache puts in its cache stays.
exec 8< "/dev/hbx$seed"
mbps() { sed -n 's/.*"mb_per_s":\([0-9.]*\).*/\1/p'; }

server_peers() {
	$hbx peer list -j | python3 -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if p["role"] == "server"))'
}

measure() {
	local out peer idx
	case $1 in
	hbx)
		peer=$($hbx peer connect 127.0.0.1:7601 --cert "$work/client.crt" \
			--key "$work/client.key" "${tls[@]}" --name server --connections 2) || return 1
		idx=$($hbx layer add --remote "$peer" --digest "$digest" --cache "$work/cache" -j |
			sed -n 's/.*"index":\([0-9]*\).*/\1/p')
		out=$($rb seq "/dev/hbx$idx" $((1 << 20)) | mbps)
		$hbx layer del "$idx"
		$hbx peer del "$peer"
		for p in $(server_peers); do $hbx peer del "$p"; done
		rm -f "$work/cache"
		;;
	hbx-pull)
		# The same cold fetch, driven by a pull: a window of requests in flight.
		peer=$($hbx peer connect 127.0.0.1:7601 --cert "$work/client.crt" \
			--key "$work/client.key" "${tls[@]}" --name server --connections 2) || return 1
		idx=$($hbx layer add --remote "$peer" --digest "$digest" --cache "$work/cache" -j |
			sed -n 's/.*"index":\([0-9]*\).*/\1/p')
		out=$($hbx layer pull "$idx" -j | python3 -c '
import json, sys
p = json.load(sys.stdin)["pull"]
print("%.1f" % (p["bytes"] * 1e3 / p["nsecs"]))')
		$hbx layer del "$idx"
		$hbx peer del "$peer"
		for p in $(server_peers); do $hbx peer del "$p"; done
		rm -f "$work/cache"
		;;
	ktls)
		$stream server 7602 "$img" --cert "$work/server.crt" --key "$work/server.key" \
			"${tls[@]}" > "$work/stream.log" 2>&1 &
		for _ in $(seq 50); do grep -q listening "$work/stream.log" && break; sleep 0.1; done
		out=$($stream client 127.0.0.1:7602 --cert "$work/client.crt" \
			--key "$work/client.key" "${tls[@]}" --name server | mbps)
		wait
		;;
	verify)
		idx=$($hbx layer add "$img" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
		out=$($rb seq "/dev/hbx$idx" $((1 << 20)) | mbps)
		$hbx layer del "$idx"
		;;
	nbd)
		nbd-client -N img 127.0.0.1 10809 /dev/nbd0 > /dev/null 2>&1 || return 1
		drop_caches
		out=$($rb seq /dev/nbd0 $((1 << 20)) | mbps)
		nbd-client -d /dev/nbd0 > /dev/null 2>&1
		;;
	nbd-tls)
		nbd-client -N img -certfile "$work/client.crt" -keyfile "$work/client.key" \
			-cacertfile "$ca/ca.crt" -tlshostname server -enable-tls 127.0.0.1 10810 /dev/nbd1 > "$work/nbd-tls.log" 2>&1 ||
			{ cat "$work/nbd-tls.log" >&2; return 1; }
		drop_caches
		out=$($rb seq /dev/nbd1 $((1 << 20)) | mbps)
		nbd-client -d /dev/nbd1 > /dev/null 2>&1
		;;
	esac
	echo "$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "null" }'; }

cases="hbx hbx-pull ktls verify nbd nbd-tls"
declare -A runs med cpu
for r in $(seq "$rounds"); do
	set -- $cases
	for _ in $(seq $(( (r - 1) % 4 ))); do set -- "$@" "$1"; shift; done
	for c in "$@"; do
		case $c in hbx*) hbx_fill_cache "/dev/hbx$seed" ;; esac
		c0=$(hbx_cpu_busy)
		v=$(measure "$c")
		t=$(awk -v a="$c0" -v b="$(hbx_cpu_busy)" 'BEGIN { printf "%.2f", b - a }')
		echo "# round $r $c: ${v:-failed} MB/s, $t CPU s"
		runs[$c]="${runs[$c]:-} ${v:-0}"
		cpu[$c]="${cpu[$c]:-} $t"
	done
done
for c in $cases; do
	med[$c]=$(echo "${runs[$c]}" | tr ' ' '\n' | grep . | median)
	med[$c-cpu]=$(echo "${cpu[$c]}" | tr ' ' '\n' | grep . | median)
done
cpus=$(nproc)
# The stream and the verification both read the whole image.
floor=$(awk -v b="$(stat -c %s "$img")" -v s="${med[ktls-cpu]}" -v v="${med[verify-cpu]}" \
	-v n="$cpus" 'BEGIN { if (s + v > 0) printf "%.2f", b / ((s + v) / n) / 1e6; else print 0 }')
# With verify always the serving end checks every block it reads to send
# too, and here both ends share the VM's vCPUs: that floor has two checks.
floor2=$(awk -v b="$(stat -c %s "$img")" -v s="${med[ktls-cpu]}" -v v="${med[verify-cpu]}" \
	-v n="$cpus" 'BEGIN { if (s + v > 0) printf "%.2f", b / ((s + 2 * v) / n) / 1e6; else print 0 }')

printf '\n%-22s %12s %12s\n' "whole 256 MiB layer" "MB/s" "CPU s"
for c in $cases; do printf '%-22s %12s %12s\n' "$c" "${med[$c]}" "${med[$c-cpu]}"; done
printf '%-22s %12s   (kTLS + verify CPU over %s vCPUs)\n' "verified floor" "$floor" "$cpus"
printf '%-22s %12s   (kTLS + verify CPU at both ends)\n' "both-ends floor" "$floor2"
printf '\nhbx / nbd over TLS:     %s   (target >= 1.3)\n' "$(ratio "${med[hbx]}" "${med[nbd-tls]}")"
printf 'hbx / kTLS sendfile:    %s   (target >= 0.8)\n' "$(ratio "${med[hbx]}" "${med[ktls]}")"
printf 'hbx pull / nbd over TLS: %s\n' "$(ratio "${med[hbx-pull]}" "${med[nbd-tls]}")"
printf 'hbx pull / kTLS:        %s\n' "$(ratio "${med[hbx-pull]}" "${med[ktls]}")"
printf 'hbx / plaintext nbd:    %s\n' "$(ratio "${med[hbx]}" "${med[nbd]}")"
printf 'verified floor / nbd over TLS: %s   (the best any verified path could do here)\n' \
	"$(ratio "$floor" "${med[nbd-tls]}")"
printf 'verified floor / kTLS:  %s\n' "$(ratio "$floor" "${med[ktls]}")"
printf 'hbx pull / verified floor: %s\n' "$(ratio "${med[hbx-pull]}" "$floor")"
printf 'hbx pull / both-ends floor: %s\n' "$(ratio "${med[hbx-pull]}" "$floor2")"
printf 'HBX_BENCH_JSON {"bench":"remote","kernel":"%s","rounds":%s,"vcpus":%s,"cipher":"AES-256-GCM TLS1.2",' \
	"$(uname -r)" "$rounds" "$cpus"
printf '"mb_per_s":{"hbx_remote_cold":%s,"hbx_pull":%s,"ktls_sendfile":%s,"local_verify":%s,"nbd":%s,"nbd_tls":%s,"verified_floor":%s,"verified_both_ends_floor":%s},' \
	"${med[hbx]}" "${med[hbx-pull]}" "${med[ktls]}" "${med[verify]}" "${med[nbd]}" "${med[nbd-tls]}" "$floor" "$floor2"
printf '"cpu_seconds":{"hbx_remote_cold":%s,"hbx_pull":%s,"ktls_sendfile":%s,"local_verify":%s,"nbd":%s,"nbd_tls":%s},' \
	"${med[hbx-cpu]}" "${med[hbx-pull-cpu]}" "${med[ktls-cpu]}" "${med[verify-cpu]}" "${med[nbd-cpu]}" "${med[nbd-tls-cpu]}"
printf '"ratios":{"hbx_vs_nbd_tls":%s,"hbx_vs_ktls_sendfile":%s,"hbx_vs_nbd":%s,' \
	"$(ratio "${med[hbx]}" "${med[nbd-tls]}")" "$(ratio "${med[hbx]}" "${med[ktls]}")" \
	"$(ratio "${med[hbx]}" "${med[nbd]}")"
printf '"hbx_pull_vs_nbd_tls":%s,"hbx_pull_vs_ktls_sendfile":%s,' \
	"$(ratio "${med[hbx-pull]}" "${med[nbd-tls]}")" "$(ratio "${med[hbx-pull]}" "${med[ktls]}")"
printf '"verified_floor_vs_nbd_tls":%s,"verified_floor_vs_ktls_sendfile":%s,"hbx_pull_vs_verified_floor":%s,"hbx_pull_vs_verified_both_ends_floor":%s}}\n' \
	"$(ratio "$floor" "${med[nbd-tls]}")" "$(ratio "$floor" "${med[ktls]}")" "$(ratio "${med[hbx-pull]}" "$floor")" \
	"$(ratio "${med[hbx-pull]}" "$floor2")"
