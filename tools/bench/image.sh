#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM: time to a container's first output from a remote
# image (issue 14).  Node A (a network namespace) holds two Python images;
# node B runs them with crun, AES-256-GCM TLS 1.2 between them.
#   py        some 100 MiB in two layers: python3 with its standard library;
#             the distribution's Python packages and the one small file the
#             container prints.  A slim image: its container's cold start
#             from local layers is a large part of its download (see local),
#             which bounds the ratio from below.
#   py-full   the same under three more layers of what a full language image
#             carries and a start never reads (the C toolchain, its headers,
#             Perl: some 470 MiB in all), as python:3 (1 GiB) carries its
#             build tools: the ratio on an image of a common size.
#   lazy      hbx image pull --remote from A, hbx image bundle, crun run:
#             until the container's first line of output
#   download  the whole image archive (an oci-archive, as skopeo writes it)
#             over a kTLS sendfile stream from A to B (tools/bench/ktls_stream,
#             the link's ceiling), then hbx image import, bundle, crun run:
#             the stream's seconds plus the rest's (the stream's client only
#             reads, so B imports the same archive from the shared disk)
#   local     after the download's run: caches dropped, the imported image
#             bundled and run again; with the pull's seconds, the floor of
#             lazy (were every chunk already here)
# Target: lazy / download at most 0.1.  Rounds alternate; caches are
# dropped before each; medians.
#   usage: tools/bench/image.sh HYPERBOX.KO
set -u
cd "$(dirname "$0")/../.." || exit 1
. selftests/lib.sh
ko=${1:?usage: image.sh hyperbox.ko}
rounds=${HBX_BENCH_ROUNDS:-3}
images="py py-full"
hbx=$PWD/tools/hbx/hbx
stream=$PWD/tools/bench/ktls_stream

for tool in umoci skopeo crun python3; do
	command -v $tool > /dev/null || { echo "image bench: $tool is not installed (make deps)" >&2; exit 1; }
done
hbx_vm_prepare
grep -q "^hyperbox " /proc/modules || insmod "$ko" || exit 1
# tmpfs: imports refuse the VM's overlay root, and so do overlayfs uppers.
work=$(mktemp -d /tmp/hbx-bench-image.XXXXXX)
mount -t tmpfs -o size=2400m tmpfs "$work" || exit 1
cleanup() {
	for c in $(crun list -q 2>/dev/null); do crun delete -f "$c"; done
	for m in "$work"/b-*/rootfs; do
		mountpoint -q "$m" 2>/dev/null && $hbx image umount "$m"
	done
	hbx_detach_all "$hbx"
	hbx_forget_peers "$hbx" hbxa hbxb
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	for ns in hbxa hbxb; do ip netns del $ns 2>/dev/null; done
	umount "$work"
	rm -rf "$work"
}
trap cleanup EXIT
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup
on() { local n=$1; shift; ip netns exec "hbx$n" "$@"; }
now() { date +%s.%N; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "null" }'; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

hbx_veth hbxa 10.82.0.1/24 hbxb 10.82.0.2/24 || exit 1

# --- the image: python3 and its libraries; then dist-packages and the file
root=$work/root
mkdir -p "$root"/usr/bin "$root"/usr/lib/x86_64-linux-gnu "$root"/lib64 "$root"/etc \
	"$root"/proc "$root"/dev "$root"/sys "$root"/tmp "$work/app/app" "$work/app/usr/lib/python3"
ln -s usr/lib "$root/lib"
py=$(readlink -f /usr/bin/python3)
cp -L "$py" "$root/usr/bin/python3"
for lib in $(ldd "$py" | awk '$3 ~ /^\// { print $3 }'); do
	cp -L "$lib" "$root/usr/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
cp -a "/usr/lib/$(basename "$py")" "$root/usr/lib/"
cp -a /usr/lib/python3/dist-packages "$work/app/usr/lib/python3/"
echo "hello from a python image" > "$work/app/app/hello.txt"
(
	set -e
	umoci init --layout "$work/layout"
	umoci new --image "$work/layout:py"
	umoci insert --image "$work/layout:py" "$root" /
	umoci insert --image "$work/layout:py" "$work/app" /
	umoci config --image "$work/layout:py" --config.cmd /usr/bin/python3 \
		--config.cmd -I --config.cmd -c \
		--config.cmd 'print(open("/app/hello.txt").read().strip())'
	skopeo --insecure-policy copy -q "oci:$work/layout:py" "oci-archive:$work/py.tar:py"
	umoci insert --image "$work/layout:py" --tag full /usr/lib/gcc /usr/lib/gcc
	umoci insert --image "$work/layout:full" /usr/include /usr/include
	umoci insert --image "$work/layout:full" /usr/share/perl /usr/share/perl
	skopeo --insecure-policy copy -q "oci:$work/layout:full" "oci-archive:$work/py-full.tar:full"
) > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
rm -rf "$root" "$work/app" "$work/layout"
declare -A archive rootsize
for image in $images; do
	archive[$image]=$(stat -c %s "$work/$image.tar")
	$hbx image import "$work/$image.tar" --name $image --store "$work/store-a" > /dev/null || exit 1
	rootsize[$image]=$($hbx image list -j --store "$work/store-a" |
		python3 -c 'import json, sys; print(next(i["size"] for i in json.load(sys.stdin) if i["name"] == sys.argv[1]))' "$image")
	echo "# image $image: ${rootsize[$image]} bytes of layers, archive ${archive[$image]} bytes"
done
echo "# aes driver: $(grep -B1 -A2 'gcm(aes)' /proc/crypto | sed -n 's/^driver *: //p' | head -n1)"

ca=$work/ca
$hbx cert init --dir "$ca" --name bench > /dev/null
$hbx cert issue node-a --san dns:node-a,ip:10.82.0.1 --dir "$ca" --out "$work/a" > /dev/null
$hbx cert issue node-b --san dns:node-b,ip:10.82.0.2 --dir "$ca" --out "$work/b" > /dev/null
tls=(--ca "$ca/ca.crt" --cipher aes256)
declare -A ref
for image in $images; do
	ref[$image]=$(on a "$hbx" image export "$image" --store "$work/store-a") || exit 1
done
# Not through on(): a job of its own that cleanup's kill reaches.
ip netns exec hbxa "$hbx" serve --listen 10.82.0.1:7621 --cert "$work/a.crt" --key "$work/a.key" \
	"${tls[@]}" > "$work/serve-a.log" 2>&1 &
hbx_wait_listening "$work/serve-a.log" || exit 1
peer=$(on b "$hbx" peer connect 10.82.0.1:7621 --cert "$work/b.crt" --key "$work/b.key" \
	"${tls[@]}" --name node-a --connections 2) || exit 1

# run_first_line NAME STORE T0: bundle and run $image from STORE; prints
# the seconds from T0 to the container's first line, and checks the line.
run_first_line() {
	local name=$1 store=$2 t0=$3 b=$work/b-$1 line
	$hbx image bundle "$image" "$b" --store "$store" > /dev/null || return 1
	crun run -b "$b" "bench-$name" < /dev/null 2> "$work/err-$name" |
		{ IFS= read -r line; now > "$work/t1"; echo "$line" > "$work/line"; cat > /dev/null; }
	crun delete -f "bench-$name" 2>/dev/null
	if [ "$(cat "$work/line")" != "hello from a python image" ]; then
		echo "image bench: the container printed '$(cat "$work/line")'" >&2
		sed 's/^/# /' "$work/err-$name" >&2
		return 1
	fi
	since "$t0" "$(cat "$work/t1")"
}
# let_go NAME STORE: the container's root and the image gone from B.
let_go() {
	$hbx image umount "$work/b-$1/rootfs" && rm -rf "$work/b-$1" &&
		$hbx image rm "$image" --store "$2" && rm -rf "$2"
}

# Lazy: pull $image from A, bundle, run.
# Prints "SECONDS FETCHED_CHUNKS TOTAL_CHUNKS PULL_SECONDS".
lazy() {
	local t0 s idx here total
	drop_caches
	t0=$(now)
	on b "$hbx" image pull --remote "$peer" "${ref[$image]}" --store "$work/store-b" -j \
		> "$work/pull.json" || return 1
	since "$t0" "$(now)" > "$work/pulled"
	s=$(run_first_line "lazy$r" "$work/store-b" "$t0") || return 1
	idx=$(python3 -c 'import json, sys; print(" ".join(str(l["index"]) for l in json.load(open(sys.argv[1]))["layers"]))' "$work/pull.json")
	read -r here total < <($hbx layer list -j | python3 -c '
import json, sys
want = set(map(int, sys.argv[1:]))
v = [l for l in json.load(sys.stdin) if l["index"] in want]
print(sum(l["chunks-verified"] for l in v), sum(l["chunks-total"] for l in v))' $idx)
	let_go "lazy$r" "$work/store-b" || return 1
	echo "$s $here $total $(cat "$work/pulled")"
}

# Download: stream $image's archive A -> B, then import, bundle, run.
download() {
	local server s t0 rest here
	drop_caches
	on a "$stream" server 7622 "$work/$image.tar" --cert "$work/a.crt" --key "$work/a.key" \
		"${tls[@]}" > "$work/stream.log" 2>&1 &
	server=$!
	hbx_wait_until 10 grep -q listening "$work/stream.log" || return 1
	s=$(on b "$stream" client 10.82.0.1:7622 --cert "$work/b.crt" --key "$work/b.key" \
		"${tls[@]}" --name node-a | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')
	wait "$server"
	[ -n "$s" ] || return 1
	t0=$(now)
	$hbx image import "$work/$image.tar" --name "$image" --store "$work/store-d" > /dev/null || return 1
	rest=$(run_first_line "download$r" "$work/store-d" "$t0") || return 1
	# Then the image's own cold start from its local layers: caches
	# dropped, bundled and run again.  No pull can beat it, so it and the
	# pull bound lazy / download from below.
	$hbx image umount "$work/b-download$r/rootfs" && rm -rf "$work/b-download$r" || return 1
	drop_caches
	t0=$(now)
	here=$(run_first_line "local$r" "$work/store-d" "$t0") || return 1
	let_go "local$r" "$work/store-d" || return 1
	echo "$s $rest $here"
}

declare -A runs med total
add() { runs[$1]="${runs[$1]:-} $2"; }
for r in $(seq "$rounds"); do
	for image in $images; do
		v=$(lazy) || { echo "image bench: the lazy run of $image failed" >&2; exit 1; }
		read -r s here total[$image] pulled <<< "$v"
		add "$image.lazy" "$s"
		add "$image.chunks" "$here"
		add "$image.pull" "$pulled"
		echo "# round $r $image lazy: first output after $s s (the pull returned after $pulled s), $here of ${total[$image]} chunks here"
		v=$(download) || { echo "image bench: the download run of $image failed" >&2; exit 1; }
		read -r s rest here <<< "$v"
		add "$image.stream" "$s"
		add "$image.import_run" "$rest"
		add "$image.local" "$here"
		add "$image.download" "$(awk -v a="$s" -v b="$rest" 'BEGIN { printf "%.3f", a + b }')"
		echo "# round $r $image download: stream $s s, import and first output $rest s; local cold start $here s"
	done
done
for k in "${!runs[@]}"; do
	med[$k]=$(echo "${runs[$k]}" | tr ' ' '\n' | grep . | median)
done

# floor IMAGE: what lazy / download would be were every chunk already here.
floor() {
	ratio "$(awk -v a="${med[$1.local]}" -v b="${med[$1.pull]}" 'BEGIN { print a + b }')" "${med[$1.download]}"
}
for i in $images; do
	printf '\n%-48s %10s\n' "$i (${rootsize[$i]} bytes), medians" "seconds"
	printf '%-48s %10s\n' "hbx image pull --remote, bundle, crun: output" "${med[$i.lazy]}"
	printf '%-48s %10s\n' "  of which hbx image pull --remote" "${med[$i.pull]}"
	printf '%-48s %10s\n' "archive over kTLS (${archive[$i]} bytes)" "${med[$i.stream]}"
	printf '%-48s %10s\n' "then import, bundle, crun: output" "${med[$i.import_run]}"
	printf '%-48s %10s\n' "download total" "${med[$i.download]}"
	printf '%-48s %10s\n' "the image's cold start from local layers" "${med[$i.local]}"
	printf 'chunks here at the first output: %s of %s\n' "${med[$i.chunks]}" "${total[$i]}"
	printf 'lazy / download: %s   (target <= 0.1; local start + pull / download: %s)\n' \
		"$(ratio "${med[$i.lazy]}" "${med[$i.download]}")" "$(floor "$i")"
done

# image_json IMAGE: the image's figures, as members of the JSON object.
image_json() {
	printf '"image_bytes":%s,"archive_bytes":%s,"chunks_total":%s,"chunks_here_at_first_output":%s,' \
		"${rootsize[$1]}" "${archive[$1]}" "${total[$1]}" "${med[$1.chunks]}"
	printf '"seconds":{"lazy_first_output":%s,"pull":%s,"archive_ktls_stream":%s,"import_to_first_output":%s,"download_first_output":%s,"local_first_output":%s},' \
		"${med[$1.lazy]}" "${med[$1.pull]}" "${med[$1.stream]}" "${med[$1.import_run]}" "${med[$1.download]}" "${med[$1.local]}"
	printf '"ratios":{"lazy_vs_download":%s,"local_and_pull_vs_download":%s}' \
		"$(ratio "${med[$1.lazy]}" "${med[$1.download]}")" "$(floor "$1")"
}
# The slim image's figures stay at the top level, as before; the full one's
# go in "full".
printf 'HBX_BENCH_JSON {"bench":"image","kernel":"%s","rounds":%s,"vcpus":%s,"cipher":"AES-256-GCM TLS1.2",%s,"full":{%s}}\n' \
	"$(uname -r)" "$rounds" "$(nproc)" "$(image_json py)" "$(image_json py-full)"
