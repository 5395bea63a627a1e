#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Remote images, lazily (issue 14): three nodes, each a network namespace,
# peers over kTLS.  A imports a two-layer image (busybox and a 20 MiB file
# the container never reads) and exports it; B pulls it over a slowed link
# with --prefetch and runs it with crun before the pull is done: when the
# container's output is there, chunks are still missing.  Once the pulls
# end, B's root equals A's.  B exports what it pulled, under the very same
# reference (the meta layer is reproducible), and C pulls it from B.  The
# meta layer is exported under the image's name too: C pulls it again by
# that bare name, into a store of its own, and gets the same image.  Bad
# input: a reference or a bare name no peer exports, a name that is another
# image's, a tampered meta layer (B's module refuses its bytes), a peer
# that is down; each fails with a sentence and leaves the store as it was.
# An export name is one layer's in a network namespace: a second layer, or
# a second image of that name, is refused and nothing stays exported
# half-way.  image rm
# refuses an exported image and lets a pulled one's layers go.  Runs inside
# the VM with hyperbox.ko loaded.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx

tap_begin
t0=$(date +%s)
elapsed() { echo "# $(( $(date +%s) - t0 )) s"; }
for tool in umoci crun; do
	if ! command -v $tool > /dev/null; then
		echo "# SKIP: $tool is not installed (make deps)"
		tap_end
		exit 0
	fi
done

# tmpfs: overlayfs upper directories cannot live on the VM's overlay root.
work=$(mktemp -d /tmp/hbx-image-remote.XXXXXX)
mount -t tmpfs -o size=512m tmpfs "$work" || exit 1
pids=
cleanup() {
	for c in $(crun list -q 2>/dev/null); do crun delete -f "$c"; done
	for m in "$work"/b-*/rootfs "$work"/mnt-*; do
		mountpoint -q "$m" 2>/dev/null && $hbx image umount "$m"
	done
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	hbx_detach_all "$hbx"
	hbx_forget_peers "$hbx" hbxa hbxb hbxc
	for ns in hbxa hbxb hbxc; do ip netns del $ns 2>/dev/null; done
	# What podman mounted under its run root, deepest first.
	for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount "$m" || echo "# cannot unmount $m"
	done
	umount "$work" || { echo "# still using $work:"; fuser -vm "$work" 2>&1 | sed 's/^/# /'; }
	rm -rf "$work"
}
trap cleanup EXIT
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup
modprobe -q tls veth sch_tbf 2>/dev/null

on() { local ns=$1; shift; ip netns exec "hbx$ns" "$@"; }
# img NODE SUB ARGS...: hbx image SUB with NODE's own store; in NODE's
# network namespace for what talks to peers (ip netns exec also gives a
# mount namespace of its own, whose mounts end with the command).
img() {
	local node=$1 sub=$2
	shift 2
	case $sub in
	pull|export) on "$node" "$hbx" image "$sub" "$@" --store "$work/store-$node" ;;
	umount) "$hbx" image umount "$@" ;;
	*) "$hbx" image "$sub" "$@" --store "$work/store-$node" ;;
	esac
}
# json FILE EXPR: a Python expression over the JSON in FILE (as j).
json() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# listing: hbx layer list -j, or the one taken into $snapshot while that is set
# (checks that must agree read the same moment).
snapshot=
listing() { if [ -n "$snapshot" ]; then cat "$snapshot"; else $hbx layer list -j; fi; }
# missing INDEX...: chunks of these layers not here yet, summed.
missing() {
	listing | python3 -c '
import json, sys
want = set(map(int, sys.argv[1:]))
print(sum(l["chunks-total"] - l["chunks-verified"] for l in json.load(sys.stdin) if l["index"] in want))' "$@"
}
# nlayers [EXPR]: how many attached layers (l, from hbx layer list -j) EXPR holds for.
nlayers() {
	listing | python3 -c '
import json, sys
print(sum(1 for l in json.load(sys.stdin) if eval(sys.argv[1])))' "${1:-True}"
}
# fails_with TEXT COMMAND...: COMMAND fails and says TEXT.
fails_with() {
	local text=$1
	shift
	"$@" > "$work/fail.out" 2> "$work/fail.err" && return 1
	sed 's/^/# /' "$work/fail.err" | head -n 3
	grep -q "$text" "$work/fail.err"
}
# store_is NODE NAMES: the store lists exactly these images and stages nothing.
store_is() {
	test "$(img "$1" list -j | python3 -c 'import json, sys; print(" ".join(sorted(i["name"] for i in json.load(sys.stdin))))')" = "$2" &&
		test -z "$(ls "$work/store-$1/tmp")"
}

# --- the image: busybox and a message, and a big file nobody reads
src=$work/src
mkdir -p "$src"/l1/{bin,etc,proc,dev,sys,tmp} "$src/l2/data"
cp /bin/busybox "$src/l1/bin/"
for c in sh cat; do ln -s busybox "$src/l1/bin/$c"; done
echo "hello from a remote image" > "$src/l1/etc/motd"
head -c $((20 << 20)) /dev/urandom > "$src/l2/data/blob"
(
	set -e
	umoci init --layout "$work/layout"
	umoci new --image "$work/layout:t"
	umoci insert --image "$work/layout:t" "$src/l1" /
	umoci insert --image "$work/layout:t" "$src/l2" /
	umoci config --image "$work/layout:t" --config.cmd /bin/cat --config.cmd /etc/motd
) > "$work/umoci.log" 2>&1
tap_result $? "remote_image.umoci_builds_a_two_layer_image"
rm -rf "$src"

# --- three nodes: A (10.79.0.1) - B (10.79.0.2 | 10.79.1.2) - C (10.79.1.3)
hbx_veth hbxa 10.79.0.1/24 hbxb 10.79.0.2/24 &&
	hbx_veth hbxb 10.79.1.2/24 hbxc 10.79.1.3/24
tap_result $? "remote_image.three_nodes_a_b_c"
ca=$work/ca/ca.crt
$hbx cert init --dir "$work/ca" --name image-cluster > /dev/null &&
	$hbx cert issue node-a --san dns:node-a,ip:10.79.0.1 --dir "$work/ca" --out "$work/a" > /dev/null &&
	$hbx cert issue node-b --san dns:node-b,ip:10.79.0.2,ip:10.79.1.2 --dir "$work/ca" --out "$work/b" > /dev/null &&
	$hbx cert issue node-c --san dns:node-c,ip:10.79.1.3 --dir "$work/ca" --out "$work/c" > /dev/null
tap_result $? "remote_image.certificates"
serve() {	# serve NODE ADDR
	# Not through on(): $! must be hbx itself, not a subshell around it.
	ip netns exec "hbx$1" "$hbx" serve --listen "$2:7441" --cert "$work/$1.crt" \
		--key "$work/$1.key" --ca "$ca" > "$work/serve-$1.log" 2>&1 &
	eval "serve_$1=$!"
	pids="$pids $!"
	hbx_wait_listening "$work/serve-$1.log"
}
connect() {	# connect NODE ADDR NAME [ARGS]: prints the peer id
	local node=$1 addr=$2 name=$3
	shift 3
	on "$node" "$hbx" peer connect "$addr:7441" --cert "$work/$node.crt" \
		--key "$work/$node.key" --ca "$ca" --name "$name" "$@"
}
serve a 10.79.0.1 && serve b 10.79.1.2
tap_result $? "remote_image.a_and_b_serve"

# --- A imports and exports
img a import "$work/layout:t" --name app > /dev/null
tap_result $? "export.a_imports_the_image"
layers_before=$(nlayers)
img a export app -j > "$work/export-a.json"
tap_result $? "export.a_exports_it"
ref=$(json "$work/export-a.json" 'j["reference"]')
echo "# reference $ref"
tap_check "export.the_reference_is_name_at_the_meta_layers_digest" \
	test "$ref" = "app@$(json "$work/export-a.json" 'j["meta"]["digest"]')"
tap_check "export.every_layer_and_the_meta_layer_are_attached_and_exported" \
	test "$(( $(nlayers) - layers_before ))" = 3 -a "$(nlayers 'l["exported"]')" = 3
tap_check "export.again_is_the_same_reference_and_attaches_nothing_more" \
	test "$(img a export app)" = "$ref" -a "$(( $(nlayers) - layers_before ))" = 3
tap_check "export.unknown_image_is_refused" fails_with "no image 'nope'" img a export nope
meta_a=$(json "$work/export-a.json" 'j["meta"]["index"]')
tap_check "export.the_meta_layer_is_exported_under_the_images_name" \
	test "$(json "$work/export-a.json" 'j.get("export-name")')" = app -a \
	"$(nlayers "l[\"index\"] == $meta_a and l.get(\"export-name\") == \"app\"")" = 1
tap_check "export.layer_list_says_the_name" sh -c "$hbx layer list | grep -q 'exported as app, '"

# --- B pulls over a slowed link and runs the image before the pull is done
# 1 Mbit/s from A to B until the container is done: the 20 MiB layer takes
# some 170 s to arrive whatever the machine's speed (at 8 Mbit/s a host
# running four VMs had it all before crun was done), and each layer's pull
# fetches one chunk at a time, so a chunk cat and busybox need waits behind
# at most two (1.1 s), well within the peer's timeout.  A slower kernel
# (HBX_TIME_SCALE) gets a slower link and a longer timeout alike.
tc -n hbxa qdisc add dev vhbxb root tbf rate "$(hbx_scaled_rate 1000)" burst 32kb latency 2s
tap_result $? "pull.slow_link_a_to_b"
pa=$(connect b 10.79.0.1 node-a --connections 2 --timeout-ms "$(hbx_scaled 10000)")
tap_result $? "pull.b_connects_to_a"
start=$(date +%s.%N)
img b pull --remote "$pa" "$ref" --prefetch --window 1 -j > "$work/pull-b.json"
tap_result $? "pull.b_pulls_the_image_by_its_reference"
idx_b=$(json "$work/pull-b.json" '" ".join(str(l["index"]) for l in j["layers"])')
tap_check "pull.every_layer_is_attached_remotely_at_once" \
	test "$(json "$work/pull-b.json" '",".join(l["where"] for l in j["layers"])')" = "pulled,pulled"
img b bundle app "$work/b-b" > /dev/null &&
	timeout 120 crun run -b "$work/b-b" hbx-b < /dev/null > "$work/out-b" 2> "$work/err-b"
tap_result $? "pull.crun_runs_the_pulled_image"
# Chunks only ever arrive: missing once the container is done is missing
# when its output appeared.  Both counts from one listing: a pull that ends
# between two listings is not one that stopped short.
snapshot=$work/after-run.json
$hbx layer list -j > "$snapshot"
left=$(missing $idx_b)
running=$(nlayers 'l.get("pull", {}).get("state") == "running"')
states=$(json "$snapshot" "\" \".join(l.get(\"pull\", {}).get(\"state\", \"-\") for l in j if l[\"index\"] in ($(echo $idx_b | tr ' ' ,),))")
snapshot=
echo "# first output $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the pull began; $left chunks still at A, $running pulls running (B's: $states)"
sed 's/^/# /' "$work/err-b" | head -n 5
tap_check "pull.the_container_printed_the_image_message" \
	test "$(cat "$work/out-b")" = "hello from a remote image"
tap_check "pull.chunks_were_still_missing_at_the_first_output" test "$left" -gt 0
tap_check "pull.the_pull_was_still_running" test "$running" -gt 0
crun delete -f hbx-b 2>/dev/null
img b umount "$work/b-b/rootfs"
tap_check "pull.unmounting_keeps_the_pulled_layers_attached" \
	test "$(nlayers "l[\"index\"] in ($(echo $idx_b | tr ' ' ,),)")" = 2
tc -n hbxa qdisc del dev vhbxb root
ok=0
for i in $idx_b; do on b "$hbx" layer pull "$i" -q || ok=1; done
tap_result $ok "pull.the_pulls_complete"
tap_check "pull.nothing_is_missing_now" test "$(missing $idx_b)" = 0
mkdir -p "$work/mnt-a" "$work/mnt-b"
img a mount app "$work/mnt-a" && img b mount app "$work/mnt-b" &&
	diff -r --no-dereference "$work/mnt-a" "$work/mnt-b" > "$work/diff.out" 2>&1
tap_result $? "pull.b_root_equals_a_root"
img a umount "$work/mnt-a" && img b umount "$work/mnt-b"
tap_result $? "pull.both_roots_unmount"
tap_check "pull.b_store_holds_the_image_and_caches_not_layers" \
	test "$(find "$work/store-b/layers" -name '*.cache' | wc -l)" = 2 -a \
	-z "$(find "$work/store-b/layers" -name '*.erofs')"
# where NODE: how pulling the image again found each layer.
where() {
	img "$1" pull --remote "$2" "$ref" -j | python3 -c '
import json, sys
print(",".join(l["where"] for l in json.load(sys.stdin)["layers"]))'
}
tap_check "pull.again_stores_the_layers_that_are_all_here" test "$(where b "$pa")" = "promoted,promoted"
tap_check "pull.then_they_are_stored" test "$(where b "$pa")" = "stored,stored"
tap_check "pull.stored_layers_are_the_images" \
	test "$(find "$work/store-b/layers" -name '*.erofs' | wc -l)" = 2
elapsed

# --- C pulls from B, which serves what it pulled under the same reference
tap_check "reserve.b_exports_the_pulled_image_under_the_same_reference" \
	test "$(img b export app)" = "$ref"
pb=$(connect c 10.79.1.2 node-b --connections 2 --timeout-ms 10000)
tap_result $? "reserve.c_connects_to_b"
img c pull --remote "$pb" "$ref" > /dev/null &&
	img c bundle app "$work/b-c" > /dev/null &&
	timeout 120 crun run -b "$work/b-c" hbx-c < /dev/null > "$work/out-c" 2> "$work/err-c"
tap_result $? "reserve.c_pulls_from_b_and_runs_it"
tap_check "reserve.c_container_output_is_right" \
	test "$(cat "$work/out-c")" = "hello from a remote image"
crun delete -f hbx-c 2>/dev/null
img c umount "$work/b-c/rootfs"
elapsed

# --- by name: C pulls from B by the bare name, into a store of its own
tap_check "byname.b_exports_the_pulled_image_under_its_name_too" \
	test "$(img b export app -j | json /dev/stdin 'j.get("export-name")')" = app
cn=$work/store-cn
nc=$(nlayers)
on c "$hbx" image pull --remote "$pb" app -j --store "$cn" > "$work/pull-cn.json"
tap_result $? "byname.c_pulls_the_image_by_its_bare_name"
tap_check "byname.the_reference_is_the_one_a_printed" \
	test "$(json "$work/pull-cn.json" 'j["reference"]')" = "$ref"
# image_digest STORE: the digest image list gives "app" there.
image_digest() {
	"$hbx" image list -j --store "$1" |
		python3 -c 'import json, sys; print([i["digest"] for i in json.load(sys.stdin) if i["name"] == "app"][0])'
}
tap_check "byname.it_is_the_same_image_as_a_imported" \
	test "$(image_digest "$cn")" = "$(image_digest "$work/store-a")"
"$hbx" image rm app --store "$cn" && test "$(nlayers)" = "$nc"
tap_result $? "byname.c_removes_it_and_its_layers_go"
elapsed

# --- podman: its own runtime around a root that hbx mounted (--rootfs)
if command -v podman > /dev/null; then
	mkdir -p "$work/mnt-p" "$work/p-upper" "$work/p-work"
	pod=(podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp"
	     --storage-driver vfs --cgroup-manager cgroupfs --events-backend file)
	img b mount app "$work/mnt-p" --upper "$work/p-upper" --work "$work/p-work" &&
		timeout 120 "${pod[@]}" run --rm --network none --rootfs "$work/mnt-p" /bin/cat /etc/motd \
			< /dev/null > "$work/out-p" 2> "$work/err-p"
	tap_result $? "podman.runs_the_pulled_image_from_its_mounted_root"
	sed 's/^/# /' "$work/err-p" | head -n 5
	tap_check "podman.container_output_is_right" \
		test "$(cat "$work/out-p")" = "hello from a remote image"
	img b umount "$work/mnt-p"
else
	echo "# SKIP: podman is not installed (make deps)"
fi
elapsed

# --- bad input
other=$work/other
mkdir -p "$other/etc"
echo "another image" > "$other/etc/motd"
umoci new --image "$work/layout:o" > /dev/null 2>&1 &&
	umoci insert --image "$work/layout:o" "$other" / > /dev/null 2>&1 &&
	umoci insert --image "$work/layout:o" "$other/etc" /etc2 > /dev/null 2>&1 &&
	img a import "$work/layout:o" --name other > /dev/null &&
	oref=$(img a export other)
tap_result $? "bad.a_exports_a_second_image"
nb=$(nlayers)
unknown="app@sha256:$(head -c 32 /dev/urandom | sha256sum | cut -c1-64)"
tap_check "bad.a_reference_no_peer_exports_is_refused" \
	fails_with "cannot fetch the image" img b pull --remote "$pa" "$unknown" --name ghost
tap_check "bad.it_leaves_nothing_attached_and_the_store_as_it_was" \
	test "$(nlayers)" = "$nb" -a "$(store_is b app; echo $?)" = 0
tap_check "bad.a_name_that_is_another_image_is_refused" \
	fails_with "exists and is another image" img b pull --remote "$pa" "$oref" --name app
tap_check "bad.the_store_is_as_it_was_after_the_taken_name" \
	test "$(nlayers)" = "$nb" -a "$(store_is b app; echo $?)" = 0
tap_check "bad.a_bare_name_no_peer_exports_is_refused" \
	fails_with "peer $pa exports no image named 'ghost' (hbx image export ghost there)" \
	img b pull --remote "$pa" ghost
tap_check "bad.it_leaves_nothing_attached_and_the_store_as_it_was_after_the_name" \
	test "$(nlayers)" = "$nb" -a "$(store_is b app; echo $?)" = 0
# Any layer by name: B attaches the one A exports as "other", learning its digest.
on b "$hbx" layer add --remote "$pa" --export-name other --cache "$work/other.cache" -j > "$work/add-other.json"
tap_result $? "names.layer_add_by_export_name"
tap_check "names.it_is_the_layer_of_that_reference" \
	test "$(json "$work/add-other.json" 'j["digest"]')" = "${oref#*@}"
$hbx layer del "$(json "$work/add-other.json" 'j["index"]')" && rm -f "$work/other.cache"
tap_result $? "names.it_detaches"
# Tamper with A's meta layer of "other" while it is not exported, then
# export it again: a pull of it must fail, and leave nothing behind.
adigest=$(json "$work/export-a.json" 'j["digest"]')
img a export other --off
ometa=$(find "$work/store-a/meta" -name '*.erofs' ! -name "${adigest#sha256:}.erofs")
python3 - "$ometa" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[data.find(b"application/vnd.hyperbox")] ^= 0x20
open(sys.argv[1], "wb").write(data)
EOF
tap_result $? "bad.tamper_with_the_meta_layer_on_a"
test "$(img a export other)" = "$oref"
tap_result $? "bad.a_exports_the_tampered_meta_layer"
tap_check "bad.b_refuses_the_tampered_meta_layer" \
	fails_with "did not match" img b pull --remote "$pa" "$oref" --name other
# A never sent the tampered bytes: with verify always it checks every
# block it reads to send against its leaves (which came from the good hash
# file) and answered FAILED, so B counted no corrupt chunk from it.
tap_check "bad.a_sent_no_wrong_bytes" test "$(on b "$hbx" peer list -j | python3 -c '
import json, sys
print([p for p in json.load(sys.stdin) if p["id"] == int(sys.argv[1])][0]["corrupt-chunks"])' "$pa")" = 0
tap_check "bad.nothing_half_pulled_after_the_tampered_meta_layer" \
	test "$(nlayers)" = "$nb" -a "$(store_is b app; echo $?)" = 0
# A's link down: its sockets stay, but nothing answers within the timeout.
pd=$(connect b 10.79.0.1 node-a --timeout-ms 2000)
ip -n hbxa link set vhbxb down
begin=$(date +%s)
tap_check "bad.a_peer_that_is_down_is_refused" \
	fails_with "cannot fetch the image" img b pull --remote "$pd" "$oref" --name other2
took=$(( $(date +%s) - begin ))
echo "# the pull from a dead peer gave up after $took s"
tap_check "bad.within_the_peers_timeout" test "$took" -le 10
tap_check "bad.nothing_half_pulled_from_the_dead_peer" \
	test "$(nlayers)" = "$nb" -a "$(store_is b app; echo $?)" = 0
ip -n hbxa link set vhbxb up
elapsed

# --- export names are unique in a network namespace
ometa_a=$(img a export other -j | json /dev/stdin 'j["meta"]["index"]')
tap_check "names.a_layer_cannot_take_the_name_of_another_export" \
	fails_with "another layer is exported under that name in this network namespace" \
	on a "$hbx" layer export "$ometa_a" --name app
tap_check "names.both_keep_their_names" \
	test "$(nlayers "(l[\"index\"], l.get(\"export-name\")) in (($meta_a, \"app\"), ($ometa_a, \"other\"))")" = 2
# Another store of node A holds another image named app.
"$hbx" image import "$work/layout:o" --name app --store "$work/store-a2" > /dev/null
tap_result $? "names.a_second_store_imports_another_image_named_app"
nb=$(nlayers) ne=$(nlayers 'l["exported"]')
tap_check "names.exporting_it_is_refused" \
	fails_with "cannot export it under the name 'app': another layer is exported under that name" \
	on a "$hbx" image export app --store "$work/store-a2"
tap_check "names.nothing_is_left_attached_or_exported_half_way" \
	test "$(nlayers)" = "$nb" -a "$(nlayers 'l["exported"]')" = "$ne"
elapsed

# --- rm: an exported image stays, a pulled one lets its layers go
tap_check "rm.an_exported_image_is_refused" fails_with "is exported" img a rm app
img b export app --off && img b rm app
tap_result $? "rm.b_removes_the_pulled_image"
tap_check "rm.its_remote_layers_are_detached" \
	test "$(nlayers "l[\"index\"] in ($(echo $idx_b | tr ' ' ,),)")" = 0
tap_check "rm.its_caches_and_records_are_gone" \
	test -z "$(find "$work/store-b/layers" "$work/store-b/images" "$work/store-b/attached" -type f)"
img a export app --off && img a export other --off && img a rm app && img a rm other
tap_result $? "rm.a_stops_exporting_and_removes_both"
elapsed
tap_end
