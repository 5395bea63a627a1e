#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# OCI images in, containers out: umoci builds a four-layer image from a
# busybox tree (owners, setuid, hard and symbolic links, a fifo, a device,
# xattrs, an opaque directory, whiteouts of a file and of a directory, a
# directory replaced by a file); skopeo writes it also as an oci-archive and
# a docker-archive, and a copy gets a zstd and an uncompressed layer.  Each
# form imports, the layers are stored once, and the mounted image equals
# umoci unpack's root entry by entry.  hbx image bundle runs under crun and
# runc, also under a seccomp profile that hbx seccomp learn made, which
# refuses a syscall the workload never made.  A corrupt blob, a wrong
# diff_id, an unknown media type, a truncated archive and a taken name are
# refused and leave the store as it was.  Runs inside the VM with
# hyperbox.ko loaded.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx

tap_begin
t0=$(date +%s)
elapsed() { echo "# $(( $(date +%s) - t0 )) s"; }

for tool in umoci skopeo crun runc zstd; do
	if ! command -v $tool > /dev/null; then
		echo "# SKIP: $tool is not installed (make deps)"
		tap_end
		exit 0
	fi
done

# tmpfs: overlayfs upper directories and whiteouts cannot live on the VM's
# overlay root, and 6.1's tmpfs takes trusted.* xattrs (not user.*).
work=$(mktemp -d /tmp/hbx-image.XXXXXX)
mount -t tmpfs -o size=1g tmpfs "$work" || exit 1
store=$work/store
cleanup() {
	for c in $(crun list -q 2>/dev/null); do crun delete -f "$c"; done
	for c in $(runc list -q 2>/dev/null); do runc delete -f "$c"; done
	for m in "$work"/b-*/rootfs "$work"/mnt-*; do
		mountpoint -q "$m" 2>/dev/null && $hbx image umount "$m"
	done
	hbx_detach_all "$hbx"
	umount "$work"
	rm -rf "$work"
}
trap cleanup EXIT
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup

# --- the image, built with umoci
src=$work/src
mkdir -p "$src"/l1/{bin,etc/sub,data/dir,home/app,proc,dev,sys,tmp,run} \
	 "$src"/l2 "$src"/l4
cp /bin/busybox "$src/l1/bin/"
for c in sh echo cat id pwd ls mkdir env; do ln -s busybox "$src/l1/bin/$c"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n' \
	> "$src/l1/etc/passwd"
printf 'root:x:0:\napp:x:1001:\n' > "$src/l1/etc/group"
echo "hello from the image" > "$src/l1/etc/motd"
ln "$src/l1/etc/motd" "$src/l1/etc/motd.hardlink"
echo a > "$src/l1/etc/sub/a"
echo b > "$src/l1/etc/sub/b"
echo keep > "$src/l1/data/keep"
echo gone > "$src/l1/data/gone"
echo x > "$src/l1/data/dir/x"
mkdir -p "$src/l1/data/tree/deep"
echo t > "$src/l1/data/tree/deep/t"
echo secret > "$src/l1/bin/suid"
chmod 4755 "$src/l1/bin/suid"
chmod 1777 "$src/l1/tmp"
chown 1000:1001 "$src/l1/home/app"
chmod 0700 "$src/l1/home/app"
mkfifo "$src/l1/data/fifo"
mknod "$src/l1/data/null" c 1 3
setfattr -n trusted.hbx -v layered "$src/l1/etc/motd"
setfattr -n trusted.hbx -v dir "$src/l1/data"
touch -h -d "2001-02-03 04:05:06" "$src/l1/etc/motd" "$src/l1/bin/sh"
mkdir -p "$src/l2/x"
echo new > "$src/l2/x/n"
echo "a file now" > "$src/l4/dir"

layout=$work/layout
(
	set -e
	umoci init --layout "$layout"
	umoci new --image "$layout:t"
	umoci insert --image "$layout:t" "$src/l1" /
	umoci insert --image "$layout:t" --opaque "$src/l2" /etc/sub
	umoci insert --image "$layout:t" --whiteout /data/gone
	umoci insert --image "$layout:t" --whiteout /data/dir
	umoci insert --image "$layout:t" --whiteout /data/tree
	umoci insert --image "$layout:t" "$src/l4/dir" /data/dir
	umoci config --image "$layout:t" --config.user app \
		--config.workingdir /data --config.env GREETING=hi-there \
		--config.entrypoint /bin/sh --config.cmd -c \
		--config.cmd 'cat /etc/motd; echo $GREETING; id -u; id -g; pwd; ls /data'
) > "$work/umoci.log" 2>&1
tap_result $? "image.umoci_builds_the_image"
[ -s "$work/umoci.log" ] && sed 's/^/# /' "$work/umoci.log" | tail -n 5

umoci unpack --image "$layout:t" "$work/truth" > /dev/null 2>&1
tap_result $? "image.umoci_unpacks_the_ground_truth"
truth=$work/truth/rootfs

skopeo --insecure-policy copy -q "oci:$layout:t" "oci-archive:$work/oci.tar:t" &&
	skopeo --insecure-policy copy -q "oci:$layout:t" \
		"docker-archive:$work/docker.tar:busybox:t"
tap_result $? "image.skopeo_writes_oci_and_docker_archives"

# oci_copy SRC DST PYTHON: a copy of the layout SRC whose manifest m and
# config c the statements change; blob(digest) is a blob's path, put(bytes)
# stores one and gives its digest and size.
oci_copy() {
	python3 - "$@" <<'EOF'
import gzip, hashlib, json, shutil, subprocess, sys
src, dst, change = sys.argv[1:]
shutil.copytree(src, dst)
def blob(d):
    return f"{dst}/blobs/sha256/{d[7:]}"
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{dst}/blobs/sha256/{h}", "wb").write(data)
    return "sha256:" + h, len(data)
index = json.load(open(f"{dst}/index.json"))
desc = index["manifests"][0]
m = json.load(open(blob(desc["digest"])))
c = json.load(open(blob(m["config"]["digest"])))
exec(change)
m["config"]["digest"], m["config"]["size"] = put(json.dumps(c).encode())
desc["digest"], desc["size"] = put(json.dumps(m).encode())
json.dump(index, open(f"{dst}/index.json", "w"))
EOF
}

# The same image with its first layer in zstd and its second uncompressed.
mixed=$work/mixed
oci_copy "$layout" "$mixed" '
for i, l in enumerate(m["layers"][:2]):
    raw = gzip.decompress(open(blob(l["digest"]), "rb").read())
    if i == 0:
        raw = subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE,
                             check=True).stdout
    l["mediaType"] = "application/vnd.oci.image.layer.v1.tar" + ("+zstd" if i == 0 else "")
    l["digest"], l["size"] = put(raw)'
tap_result $? "image.a_copy_with_zstd_and_plain_layers"
elapsed

# --- import
$hbx image import "$layout:t" --name bb --store "$store" -j > "$work/import.json"
tap_result $? "import.oci_layout"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "bb" and d["digest"].startswith("sha256:"), d
assert len(d["layers"]) == 6, len(d["layers"])
assert all(l["digest"].startswith("sha256:") and l["size"] % 4096 == 0 for l in d["layers"])
' "$work/import.json"
tap_result $? "import.json_names_six_layers"
$hbx image import "$work/oci.tar" --name bb-oci --store "$store" > /dev/null
tap_result $? "import.oci_archive"
$hbx image import "$work/docker.tar" --store "$store" > /dev/null
tap_result $? "import.docker_archive"
$hbx image import "$mixed" --name bb-mixed --store "$store" > /dev/null
tap_result $? "import.zstd_and_uncompressed_layers"
elapsed

$hbx image list --store "$store" -j > "$work/list.json"
python3 -c '
import json, sys
v = {i["name"]: i for i in json.load(open(sys.argv[1]))}
assert set(v) == {"bb", "bb-oci", "bb-mixed", "docker.io/library/busybox:t"}, v
assert all(i["layers"] == 6 for i in v.values())
' "$work/list.json"
tap_result $? "list.shows_the_four_images"
tap_check "store.layers_shared_by_the_four_imports_are_stored_once" \
	test "$(ls "$store/layers" | grep -c '\.erofs$')" -eq 6
$hbx image inspect bb --store "$store" -j > "$work/inspect.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["config"]["config"]["User"] == "app"
m = d["manifest"]
assert m["source"]["format"] == "oci-layout" and m["source"]["manifest"].startswith("sha256:")
assert all(l["blob"].startswith("sha256:") and l["diff-id"].startswith("sha256:") for l in m["layers"])
' "$work/inspect.json"
tap_result $? "inspect.shows_config_and_the_oci_digests"

# --- the mounted image against umoci's
# Type, mode, owner, size, link target, mtime of every entry but the
# directories' sizes and link counts, which depend on the file system.
entries() {
	(cd "$1" && find . -printf '%p %y %m %U %G %l %T@ ' \
		-exec sh -c '[ -d "$1" ] && echo || stat -c "%s %h %t:%T" "$1"' _ {} \; | sort)
}
xattrs() {
	(cd "$1" && find . | sort | xargs getfattr -h -d -m - --absolute-names 2>/dev/null |
		grep -v '^security\.')
}
check_root() {	# check_root NAME
	local mnt=$work/mnt-${1//[\/:]/_}
	mkdir -p "$mnt"
	$hbx image mount "$1" "$mnt" --store "$store"
	tap_result $? "mount.$1"
	diff -r --no-dereference -x fifo -x null "$truth" "$mnt" > "$work/diff" 2>&1
	tap_result $? "mount.$1.diff_r_against_umoci_unpack"
	head -n 5 "$work/diff" | sed 's/^/# /'
	diff <(entries "$truth") <(entries "$mnt") > "$work/diff"
	tap_result $? "mount.$1.types_modes_owners_sizes_links_mtimes_match"
	head -n 8 "$work/diff" | sed 's/^/# /'
	diff <(xattrs "$truth") <(xattrs "$mnt") > "$work/diff"
	tap_result $? "mount.$1.xattrs_match"
	head -n 8 "$work/diff" | sed 's/^/# /'
	$hbx image umount "$mnt"
	tap_result $? "umount.$1"
}
for name in bb bb-oci bb-mixed docker.io/library/busybox:t; do
	check_root "$name"
done
elapsed

nlayers() { $hbx layer list -j | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
mkdir -p "$work/mnt-s1" "$work/mnt-s2"
$hbx image mount bb "$work/mnt-s1" --store "$store" &&
	$hbx image mount bb-oci "$work/mnt-s2" --store "$store"
tap_result $? "share.two_images_mounted_at_once"
tap_check "share.their_layers_are_attached_once" test "$(nlayers)" -eq 6
$hbx image umount "$work/mnt-s1"
tap_result $? "share.umount_one"
tap_check "share.the_other_keeps_the_shared_layers" \
	test "$(cat "$work/mnt-s2/etc/motd")" = "hello from the image" -a "$(nlayers)" -eq 6
$hbx image umount "$work/mnt-s2"
tap_check "share.the_last_umount_detaches_them" test "$(nlayers)" -eq 0

mnt=$work/mnt-bb
$hbx image mount bb "$mnt" --store "$store"
tap_check "whiteout.file_is_gone" test ! -e "$mnt/data/gone" -a -e "$mnt/data/keep"
tap_check "whiteout.directory_is_gone" test ! -e "$mnt/data/tree"
tap_check "whiteout.directory_replaced_by_a_file" \
	test "$(cat "$mnt/data/dir")" = "a file now"
tap_check "opaque.lower_entries_hidden" \
	test ! -e "$mnt/etc/sub/a" -a ! -e "$mnt/etc/sub/b" -a -e "$mnt/etc/sub/x/n"
tap_check "mtime.kept_from_the_layer" \
	test "$(stat -c %Y "$mnt/etc/motd")" = "$(date -d '2001-02-03 04:05:06' +%s)"
tap_check "mtime.symlink_kept" \
	test "$(stat -c %Y "$mnt/bin/sh")" = "$(date -d '2001-02-03 04:05:06' +%s)"
tap_check "setuid.kept" test "$(stat -c %a "$mnt/bin/suid")" = 4755
tap_check "hardlink.kept" \
	test "$(stat -c %i "$mnt/etc/motd")" = "$(stat -c %i "$mnt/etc/motd.hardlink")"
$hbx image umount "$mnt"

# The layers themselves hold overlayfs's forms of the OCI whiteouts.
layer_file() {	# layer_file INDEX: the image file of layer INDEX of bb
	python3 -c '
import json, sys
print(json.load(open(sys.argv[1]))["layers"][int(sys.argv[2])]["digest"][7:])' \
		"$work/import.json" "$1" | sed "s|^|$store/layers/|; s|\$|.erofs|"
}
mkdir -p "$work/mnt-l"
$hbx layer mount "$(layer_file 1)" "$work/mnt-l" > /dev/null &&
	(cd "$work/mnt-l" && getfattr -n trusted.overlay.opaque --only-values etc/sub) > "$work/opq"
tap_check "layer.opaque_directory_has_the_overlay_xattr" test "$(cat "$work/opq")" = y
$hbx layer umount "$work/mnt-l"
$hbx layer mount "$(layer_file 2)" "$work/mnt-l" > /dev/null
tap_check "layer.whiteout_is_a_0_0_character_device" \
	test "$(stat -c '%F %t:%T' "$work/mnt-l/data/gone")" = "character special file 0:0"
tap_check "layer.no_oci_whiteout_names_left" \
	test -z "$(find "$work/mnt-l" -name '.wh.*')"
$hbx layer umount "$work/mnt-l"
elapsed

# --- runtimes
expected="hello from the image
hi-there
1000
1001
/data
dir
fifo
keep
null"
run_bundle() {	# run_bundle RUNTIME NAME [BUNDLE ARGS...]: the container's output
	local rt=$1 name=$2 b=$work/b-$2
	shift 2
	$hbx image bundle bb "$b" --store "$store" "$@" > /dev/null || return 1
	timeout 120 $rt run -b "$b" "hbx-$name" < /dev/null > "$work/out-$name" 2> "$work/err-$name"
	echo $? > "$work/rc-$name"
	$rt delete -f "hbx-$name" 2>/dev/null
	$hbx image umount "$b/rootfs"
	rm -rf "$b"
	sed 's/^/# /' "$work/err-$name" | head -n 5
}
for rt in crun runc; do
	run_bundle $rt $rt
	tap_check "bundle.$rt.runs_the_image_command" \
		test "$(cat "$work/out-$rt")" = "$expected"
done
elapsed

for rt in crun runc; do
	run_bundle $rt "$rt-ro" --read-only -- /bin/sh -c 'cat /etc/motd; mkdir /x; echo rc=$?'
	tap_check "bundle.$rt.read_only_root_is_read_only" \
		test "$(cat "$work/out-$rt-ro")" = "hello from the image
rc=1" -a -n "$(grep "Read-only file system" "$work/err-$rt-ro")"
done

# --- seccomp: learned on the image's workload, enforced by the runtimes
workload=$(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["config"]["config"]
print(c["Cmd"][-1])' "$work/inspect.json")
mkdir -p "$work/mnt-learn"
$hbx image mount bb "$work/mnt-learn" --store "$store"
(cd "$work/mnt-learn/data" && GREETING=hi-there \
	$hbx seccomp learn -o "$work/learned.json" -- \
	/usr/sbin/chroot --userspec=1000:1001 "$work/mnt-learn" /bin/sh -c "cd /data; $workload") \
	> "$work/learn.out"
tap_result $? "seccomp.learn_the_workload_in_the_image"
$hbx image umount "$work/mnt-learn"
# runc (Go) makes syscalls of its own between loading the filter and
# execve (it closes its fds through /proc/self/fd; its runtime's threads
# run on): those, by hand, merged into the learned profile.  crun execs
# straight away and takes the learned profile as it is.
cat > "$work/runc-exec.json" <<'EOF'
{ "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [ { "action": "SCMP_ACT_ALLOW", "names": [
	"close", "close_range", "epoll_ctl", "epoll_pwait", "execve", "exit",
	"exit_group", "fcntl", "fstat", "fstatfs", "futex", "getdents64",
	"getpid", "gettid", "madvise", "mmap", "munmap", "nanosleep",
	"newfstatat", "openat", "read", "rt_sigaction", "rt_sigprocmask",
	"rt_sigreturn", "sched_yield", "sigaltstack", "statfs", "tgkill",
	"write" ] } ] }
EOF
$hbx seccomp merge "$work/learned.json" "$work/runc-exec.json" -o "$work/learned-runc.json"
tap_result $? "seccomp.merge_runcs_exec_path_into_the_learned_profile"
for rt in crun runc; do
	profile=$work/learned.json
	[ $rt = runc ] && profile=$work/learned-runc.json
	run_bundle $rt "$rt-seccomp" --seccomp "$profile"
	tap_check "seccomp.$rt.runs_under_the_learned_profile" \
		test "$(cat "$work/out-$rt-seccomp")" = "$expected"
	run_bundle $rt "$rt-denied" --seccomp "$profile" -- \
		/bin/sh -c 'mkdir /tmp/x; echo rc=$?'
	grep -q "Operation not permitted" "$work/err-$rt-denied" &&
		grep -q "rc=1" "$work/out-$rt-denied"
	tap_result $? "seccomp.$rt.refuses_mkdir_with_eperm"
	run_bundle $rt "$rt-allowed" -- /bin/sh -c 'mkdir /tmp/x; echo rc=$?'
	tap_check "seccomp.$rt.mkdir_works_without_the_profile" \
		grep -q "rc=0" "$work/out-$rt-allowed"
done
elapsed

# --- bad input: a sentence, and the store as it was
snapshot() { (cd "$store" && find . | sort; cat names); }
snapshot > "$work/store.before"
fails_with() {	# fails_with TEXT COMMAND...
	local text=$1
	shift
	! "$@" > /dev/null 2> "$work/err" && grep -q -- "$text" "$work/err" ||
		{ sed 's/^/# /' "$work/err"; false; }
}
corrupt=$work/corrupt
cp -a "$layout" "$corrupt"
b=$(python3 -c '
import json, sys
d = sys.argv[1]
i = json.load(open(d + "/index.json"))["manifests"][0]["digest"][7:]
print(json.load(open(d + "/blobs/sha256/" + i))["layers"][-1]["digest"][7:])' "$corrupt")
python3 -c '
import sys
p = sys.argv[1]; d = bytearray(open(p, "rb").read()); d[len(d) // 2] ^= 1
open(p, "wb").write(d)' "$corrupt/blobs/sha256/$b"
tap_check "bad.corrupt_blob_refused" \
	fails_with "does not match its digest" $hbx image import "$corrupt:t" --name c --store "$store"

oci_copy "$layout" "$work/bad-diff" 'c["rootfs"]["diff_ids"][2] = "sha256:" + "0" * 64'
oci_copy "$layout" "$work/bad-mt" \
	'm["layers"][0]["mediaType"] = "application/vnd.example.layer.v1.tar+lzma"'
tap_check "bad.wrong_diff_id_refused" \
	fails_with "does not match its diff_id" $hbx image import "$work/bad-diff:t" --name c --store "$store"
tap_check "bad.unknown_media_type_refused" \
	fails_with "unknown media type" $hbx image import "$work/bad-mt:t" --name c --store "$store"
# bad_layer NAME PYTHON: the image plus a layer whose tar (tarfile t) the
# statements fill.
bad_layer() {
	oci_copy "$layout" "$work/bad-$1" "
import io, tarfile
buf = io.BytesIO()
t = tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT)
def add(name, data=b'x', **kw):
    ti = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(ti, k, v)
    if ti.isreg():
        ti.size = len(data)
    t.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
$2
t.close()
d, n = put(buf.getvalue())
m['layers'].append({'mediaType': 'application/vnd.oci.image.layer.v1.tar', 'digest': d, 'size': n})
c['rootfs']['diff_ids'].append(d)"
}
bad_layer dotdot 'add("data/../../escape")'
tap_check "bad.dotdot_path_refused" \
	fails_with "leaves the root" $hbx image import "$work/bad-dotdot:t" --name c --store "$store"
bad_layer hardlink 'add("h", type=tarfile.LNKTYPE, linkname="../../etc/passwd")'
tap_check "bad.hard_link_out_of_the_root_refused" \
	fails_with "leaves the root" $hbx image import "$work/bad-hardlink:t" --name c --store "$store"
bad_layer symlink "add('lnk', type=tarfile.SYMTYPE, linkname='$work/outside'); add('lnk/evil')"
mkdir "$work/outside"
tap_check "bad.write_through_a_symlink_refused" \
	fails_with "symlink" $hbx image import "$work/bad-symlink:t" --name c --store "$store"
tap_check "bad.nothing_written_outside" test ! -e "$work/outside/evil"
bad_layer longname "add('data/' + 'n' * 255)"
tap_check "bad.255_byte_name_refused_with_a_reason" \
	fails_with "255-byte file name" $hbx image import "$work/bad-longname:t" --name c --store "$store"
head -c 100000 "$work/oci.tar" > "$work/truncated.tar"
tap_check "bad.truncated_archive_refused" \
	fails_with "runcated" $hbx image import "$work/truncated.tar" --name c --store "$store"
# libarchive is loaded when hbx first reads an image, not when it starts:
# linked, it and the dozen libraries it brings (ICU, libxml2, libstdc++)
# were loaded by every command, a fifth of a second under emulation on
# the path from a pull to a container's output.  A node without it gets a
# sentence from an import, and nothing imported.
tap_check "startup.hbx_does_not_link_libarchive" \
	sh -c "! ldd $hbx | grep -q libarchive"
libarchive=$(ldconfig -p | sed -n 's/.*libarchive\.so\.13 (libc6,x86-64) => //p' | head -n1)
tap_check "bad.without_libarchive_import_says_so" \
	fails_with "cannot load libarchive, which reads images and layer tars" \
	unshare -m sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' - "$libarchive" \
	$hbx image import "$layout:t" --name c --store "$store"
tap_check "bad.taken_name_refused" \
	fails_with "an image named 'bb' exists" $hbx image import "$layout:t" --name bb --store "$store"
mkdir "$work/full"
mount -t tmpfs -o size=1m tmpfs "$work/full"
tap_check "bad.full_store_refused" \
	fails_with "No space left on device" $hbx image import "$layout:t" --store "$work/full/store"
tap_check "bad.full_store_left_consistent" \
	test "$(cd "$work/full/store" && find . -type f)" = ./lock -a -z "$($hbx image list -j --store "$work/full/store" | tr -d '[]\n')"
umount "$work/full"
tap_check "bad.nothing_half_imported" \
	diff "$work/store.before" <(snapshot)
elapsed

# An import that died (its staging directory's lock is free) is swept away
# by the next one.
mkdir "$store/tmp/import.dead" && touch "$store/tmp/import.dead/lock" "$store/tmp/import.dead/junk"
$hbx image import "$layout:t" --name bb --store "$store" > /dev/null 2>&1
tap_check "store.staging_of_a_dead_import_is_swept" test ! -e "$store/tmp/import.dead"

# --- rm: shared layers stay while an image uses them
$hbx image rm bb --store "$store" && $hbx image rm bb-oci --store "$store" &&
	$hbx image rm docker.io/library/busybox:t --store "$store"
tap_result $? "rm.three_of_four"
tap_check "rm.layers_of_the_last_image_stay" \
	test "$(ls "$store/layers" | grep -c '\.erofs$')" -eq 6
$hbx image rm bb-mixed --store "$store"
tap_check "rm.last_image_takes_its_layers" \
	test -z "$(find "$store/layers" "$store/images" "$store/blobs" -type f)"
elapsed
tap_end
