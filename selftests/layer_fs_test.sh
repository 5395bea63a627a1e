#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Real trees through real EROFS: hbx layer build is reproducible and keeps
# owners, modes, links, special files and xattrs; mounted layers match their
# source byte for byte (plain and lz4, from a directory and from a tar),
# with mtimes pinned or kept (--keep-mtimes); a
# flipped byte is caught, and named to its 4 KiB block; the manifest is
# version 2 with a hash file beside it, verify always is the default and
# once is taken, a version 1 manifest is refused; layers stack into a
# rootfs; a mounted layer pins the module.  Runs inside the VM with hyperbox.ko loaded.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx

work=$(mktemp -d /tmp/hbx-fs.XXXXXX)
src=$work/src
cleanup() {
	for m in "$work"/mnt* "$work"/root; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT

tap_begin

t0=${t0:-$(date +%s)}; echo "# $(( $(date +%s) - t0 )) s"
# --- a real tree of thousands of files, plus everything metadata can be
mkdir -p "$src"
for d in /usr/include/linux /usr/share/zoneinfo /usr/lib/python3.11/email \
	 /usr/lib/python3.11/json /usr/share/i18n/charmaps; do
	[ -d "$d" ] && cp -a "$d" "$src/"
done
mkdir -p "$src/special/dir"
head -c 1048576 /dev/urandom > "$src/special/big.bin"
echo hello > "$src/special/file"
ln "$src/special/file" "$src/special/file-hardlink"
ln -s file "$src/special/symlink"
mknod "$src/special/null" c 1 3
mkfifo "$src/special/fifo"
chown 1234:5678 "$src/special/file" "$src/special/dir"
chmod 4751 "$src/special/file"
chmod 1777 "$src/special/dir"
setfattr -n trusted.hyperbox -v layered "$src/special/file"
setfattr -n trusted.hyperbox -v trusted "$src/special/dir"

nfiles=$(find "$src" -type f | wc -l)
echo "# source tree: $nfiles files, $(du -sm "$src" | cut -f1) MiB"
tap_check "fs.source_tree_has_thousands_of_files" test "$nfiles" -ge 1000

# Everything but timestamps and directory sizes, which EROFS pins or computes.
metadata() {
	(cd "$1" && find . -printf '%p %y %m %U %G %n %l\n' | sort)
}
xattrs() {
	(cd "$1" && find special | sort | xargs getfattr -h -d -m - \
		--absolute-names 2>/dev/null | grep -v '^security\.')
}

t0=${t0:-$(date +%s)}; echo "# $(( $(date +%s) - t0 )) s"
# --- reproducible builds
$hbx layer build "$src" -o "$work/plain.erofs" -j > "$work/build.json"
tap_result $? "build.directory_to_layer"
digest_plain=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["digest"])' "$work/build.json")
echo "# plain: $digest_plain, $(stat -c %s "$work/plain.erofs") bytes"

# Same tree, other timestamps, created in the reverse order.
mkdir "$work/copy"
(cd "$src" && find . -mindepth 1 | sort -r | cpio -pdm --quiet "$work/copy")
find "$work/copy" -exec touch -h -d "2020-02-02 02:02" {} +
# cpio copies owners and modes; xattrs it does not, so copy them.
(cd "$src" && getfattr -R -h -d -m - --absolute-names special) |
	(cd "$work/copy" && setfattr -h --restore=-)
digest_copy=$($hbx layer build "$work/copy" -o "$work/copy.erofs")
tap_check "build.same_tree_other_timestamps_and_order_gives_same_digest" \
	test "$digest_plain" = "$digest_copy"

digest_epoch=$(SOURCE_DATE_EPOCH=1700000000 $hbx layer build "$src" -o "$work/epoch.erofs")
tap_check "build.source_date_epoch_changes_the_digest" \
	test "$digest_plain" != "$digest_epoch"

python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["digest"].startswith("sha256:") and d["chunk-size"] == 65536
assert d["size"] % 4096 == 0 and d["chunks-total"] == -(-d["size"] // 65536)
' "$work/build.json"
tap_result $? "build.json_output_has_the_spec_keys"

t0=${t0:-$(date +%s)}; echo "# $(( $(date +%s) - t0 )) s"
# --- mount and compare
check_mounted() {	# check_mounted IMAGE NAME [MOUNTOPTS...]
	local image=$1 name=$2 mnt=$work/mnt-$2
	shift 2
	mkdir -p "$mnt"
	$hbx layer mount "$image" "$mnt" "$@" > /dev/null
	tap_result $? "mount.$name"
	# diff cannot compare devices and fifos; metadata() covers them.
	diff -r --no-dereference -x fifo -x null "$src" "$mnt" > "$work/diff-$name" 2>&1
	tap_result $? "mount.$name.diff_r_finds_no_difference"
	[ -s "$work/diff-$name" ] && head -n 5 "$work/diff-$name" | sed 's/^/# /'
	diff <(metadata "$src") <(metadata "$mnt") > /dev/null
	tap_result $? "mount.$name.owners_modes_links_and_special_files_kept"
	diff <(xattrs "$src") <(xattrs "$mnt") > "$work/xdiff-$name"
	tap_result $? "mount.$name.xattrs_kept"
	[ -s "$work/xdiff-$name" ] && head -n 8 "$work/xdiff-$name" | sed 's/^/# /'
	tap_check "mount.$name.device_numbers_kept" \
		test "$(stat -c %t:%T "$mnt/special/null")" = 1:3
	tap_check "mount.$name.mtimes_are_pinned_to_0" \
		test "$(stat -c %Y "$mnt/special/file")" = 0
	$hbx layer umount "$mnt"
	tap_result $? "umount.$name"
}

check_mounted "$work/plain.erofs" plain

digest_lz4=$($hbx layer build "$src" -o "$work/lz4.erofs" -z lz4)
tap_result $? "build.lz4"
echo "# lz4: $(stat -c %s "$work/lz4.erofs") bytes"
check_mounted "$work/lz4.erofs" lz4

tar --xattrs --xattrs-include='*' -cpf "$work/src.tar" -C "$src" .
digest_tar=$($hbx layer build "$work/src.tar" -o "$work/tar.erofs")
tap_result $? "build.tar_to_layer"
tap_check "build.tar_of_the_tree_gives_the_same_digest" \
	test "$digest_tar" = "$digest_plain"
check_mounted "$work/tar.erofs" tar

mkdir -p "$work/mnt-epoch"
$hbx layer mount "$work/epoch.erofs" "$work/mnt-epoch" > /dev/null
tap_check "mount.source_date_epoch_is_every_mtime" \
	test "$(stat -c %Y "$work/mnt-epoch/special/file")" = 1700000000
$hbx layer umount "$work/mnt-epoch"

# --keep-mtimes (for a Python root, whose .pyc files name their sources'
# mtimes): every mtime as in the tree; SOURCE_DATE_EPOCH, when set, clamps
# the newer ones to it.  The tree's own mtimes vary (copied from /usr).
mtimes() { (cd "$1" && find . -printf '%p %Ts\n' | sort); }
digest_keep=$($hbx layer build "$src" -o "$work/keep.erofs" --keep-mtimes)
tap_result $? "build.keep_mtimes"
tap_check "build.keep_mtimes_is_reproducible" \
	test "$($hbx layer build "$src" -o "$work/keep2.erofs" --keep-mtimes)" = "$digest_keep"
tap_check "build.keep_mtimes_changes_the_digest" test "$digest_keep" != "$digest_plain"
mkdir -p "$work/mnt-keep"
$hbx layer mount "$work/keep.erofs" "$work/mnt-keep" > /dev/null
diff <(mtimes "$src") <(mtimes "$work/mnt-keep") > "$work/mdiff"
tap_result $? "mount.keep_mtimes_every_mtime_kept"
[ -s "$work/mdiff" ] && head -n 6 "$work/mdiff" | sed 's/^/# /'
$hbx layer umount "$work/mnt-keep"
touch -d @1500000000 "$work/copy/special/file"	# the rest of copy: 2020-02-02
SOURCE_DATE_EPOCH=1550000000 $hbx layer build "$work/copy" -o "$work/clamp.erofs" \
	--keep-mtimes > /dev/null
$hbx layer mount "$work/clamp.erofs" "$work/mnt-keep" > /dev/null
tap_check "mount.keep_mtimes_with_source_date_epoch_keeps_the_older" \
	test "$(stat -c %Y "$work/mnt-keep/special/file")" = 1500000000
tap_check "mount.keep_mtimes_with_source_date_epoch_clamps_the_newer" \
	test "$(stat -c %Y "$work/mnt-keep/special/big.bin")" = 1550000000
$hbx layer umount "$work/mnt-keep"

t0=${t0:-$(date +%s)}; echo "# $(( $(date +%s) - t0 )) s"
# --- a flipped byte in the middle of big.bin, checked against the good manifest
badblock=$(python3 - "$src/special/big.bin" "$work/plain.erofs" "$work/bad.erofs" <<'EOF'
import sys
big = open(sys.argv[1], 'rb').read()
img = bytearray(open(sys.argv[2], 'rb').read())
at = img.find(big[:4096])
assert at >= 0 and img[at:at + len(big)] == big
img[at + len(big) // 2] ^= 0x01
open(sys.argv[3], 'wb').write(img)
print((at + len(big) // 2) // 4096)
EOF
)
$hbx monitor -j > "$work/events" &
monitor=$!
sleep 1
mkdir -p "$work/mnt-bad"
$hbx layer mount "$work/bad.erofs" "$work/mnt-bad" --manifest "$work/plain.manifest" > /dev/null
tap_result $? "corrupt.mounts_with_the_good_manifest"
! cat "$work/mnt-bad/special/big.bin" > /dev/null 2> "$work/cat.err"
tap_result $? "corrupt.reading_the_damaged_file_fails"
grep -q "Input/output error" "$work/cat.err"
tap_result $? "corrupt.the_error_is_eio"
diff -r --no-dereference -x big.bin -x fifo -x null "$src" "$work/mnt-bad" > /dev/null
tap_result $? "corrupt.every_other_file_still_reads_right"
$hbx layer list -j > "$work/list.json"
python3 -c '
import json, sys
layers = json.load(open(sys.argv[1]))
assert len(layers) == 1 and layers[0]["verify-failures"] >= 1, layers
' "$work/list.json"
tap_result $? "corrupt.counter_moves"
sleep 1
kill "$monitor"
wait "$monitor" 2>/dev/null
grep -q '"event":"verify-fail"' "$work/events"
tap_result $? "corrupt.monitor_shows_the_notification"
$hbx layer umount "$work/mnt-bad"

# With the good leaf hashes, verify always names the 4 KiB block.
$hbx monitor > "$work/events.txt" &
monitor=$!
sleep 1
idx=$($hbx layer add "$work/bad.erofs" --manifest "$work/plain.manifest" \
	--hashes "$work/plain.hashes" -j | python3 -c 'import json, sys; print(json.load(sys.stdin)["index"])')
tap_result $? "corrupt.attaches_with_the_good_hash_file"
! dd if="/dev/hbx$idx" of=/dev/null bs=4096 skip="$badblock" count=1 iflag=direct 2> /dev/null
tap_result $? "corrupt.the_bad_block_reads_eio"
dd if="/dev/hbx$idx" of=/dev/null bs=4096 skip=$((badblock + 1)) count=1 iflag=direct 2> /dev/null
tap_result $? "corrupt.the_next_block_still_reads"
sleep 1
kill "$monitor"
wait "$monitor" 2>/dev/null
grep -q "verify-fail .* block $badblock failed verification" "$work/events.txt"
r=$?
tap_result $r "corrupt.monitor_names_the_block"
[ $r = 0 ] || sed 's/^/# /' "$work/events.txt"
$hbx layer del "$idx"

t0=${t0:-$(date +%s)}; echo "# $(( $(date +%s) - t0 )) s"
# --- manifest version 2, the hash file, the verify modes (issue 12)
python3 - "$work/plain.erofs" "$work/plain.manifest" "$work/plain.hashes" "$work/build.json" <<'EOF'
import hashlib, json, struct, sys
img, m, h = (open(p, 'rb').read() for p in sys.argv[1:4])
d = json.load(open(sys.argv[4]))
assert d["hashes"] == sys.argv[3], d
assert struct.unpack_from('<H', m, 4)[0] == 2
leaves = [hashlib.sha256(img[o:o + 4096]).digest() for o in range(0, len(img), 4096)]
assert h == b''.join(leaves), "the hash file is every block's sha256, nothing else"
per = (1 << m[7]) // 4096
for i in range((len(m) - 32) // 32):
    assert m[32 + 32 * i:64 + 32 * i] == \
        hashlib.sha256(b''.join(leaves[i * per:(i + 1) * per])).digest(), i
EOF
tap_result $? "v2.build_writes_a_v2_manifest_and_the_hash_file"

idx=$($hbx layer add "$work/plain.erofs" -j | python3 -c 'import json, sys; print(json.load(sys.stdin)["index"])')
tap_check "v2.verify_defaults_to_always" \
	test "$(hbx_layer_field "$hbx" "$idx" verify)" = always
# A file-backed device wants no I/O scheduler of its own (as loop): the
# backing file's device has one.  Before, mq-deadline, the default for a
# device with one queue.
sched=$(cat "/sys/block/hbx$idx/queue/scheduler")
tap_check "v2.no_io_scheduler_by_default" test "${sched%% *}" = "[none]"
echo "# scheduler: $sched"
dd if="/dev/hbx$idx" of=/dev/null bs=1M 2> /dev/null
blocks=$(( $(stat -c %s "$work/plain.erofs") / 4096 ))
tap_check "v2.a_full_read_verifies_every_block" \
	test "$(hbx_layer_field "$hbx" "$idx" blocks-verified)" -ge "$blocks"
echo "# direct-io: $(hbx_layer_field "$hbx" "$idx" direct-io)"
$hbx layer list | grep -q "verify: always, [0-9]* blocks verified, \(direct\|buffered\) I/O"
tap_result $? "v2.list_says_verify_always"
$hbx layer del "$idx"

idx=$($hbx layer add "$work/plain.erofs" --verify once -j | python3 -c 'import json, sys; print(json.load(sys.stdin)["index"])')
tap_check "v2.verify_once_is_taken" \
	test "$(hbx_layer_field "$hbx" "$idx" verify)" = once
$hbx layer list | grep -q "verify: once (storage trusted)"
tap_result $? "v2.list_says_once_trusts_the_storage"
$hbx layer del "$idx"

! $hbx layer add "$work/plain.erofs" --hashes "$work/no-such.hashes" 2> "$work/err"
tap_result $? "v2.a_missing_hash_file_given_is_an_error"
grep -q "cannot open hash file" "$work/err"
tap_result $? "v2.the_missing_hash_file_is_named"
! $hbx layer add "$work/plain.erofs" --hashes "$work/lz4.hashes" 2> "$work/err"
tap_result $? "v2.another_layers_hash_file_is_refused"
sed 's/^/# /' "$work/err"

cp "$work/plain.manifest" "$work/v1.manifest"
printf '\001\000' | dd of="$work/v1.manifest" bs=1 seek=4 conv=notrunc 2> /dev/null
! $hbx layer add "$work/plain.erofs" --manifest "$work/v1.manifest" 2> "$work/err"
tap_result $? "v2.a_version_1_manifest_is_refused"
grep -q "manifest version 1: rebuild the layer with hbx layer build" "$work/err"
tap_result $? "v2.the_refusal_says_to_rebuild"
tap_check "v2.nothing_left_attached" test "$($hbx layer list -j)" = "[]"

t0=${t0:-$(date +%s)}; echo "# $(( $(date +%s) - t0 )) s"
# --- a mounted layer is held: no delete without force, no rmmod
mkdir -p "$work/mnt-held"
$hbx layer mount "$work/plain.erofs" "$work/mnt-held" > /dev/null
! $hbx layer del 0 2> "$work/del.err"
tap_result $? "held.del_of_a_mounted_layer_is_refused"
grep -q "^hbx: layer del: layer is in use" "$work/del.err"
tap_result $? "held.the_refusal_is_a_sentence"
! rmmod hyperbox 2> /dev/null
tap_result $? "held.rmmod_is_refused_while_mounted"
$hbx layer umount "$work/mnt-held"
tap_result $? "held.umount_detaches"

t0=${t0:-$(date +%s)}; echo "# $(( $(date +%s) - t0 )) s"
# --- a rootfs of two layers with a writable upper
mkdir -p "$work/top/special" "$work/upper" "$work/wk" "$work/root"
echo "from the top layer" > "$work/top/special/file"
echo new > "$work/top/only-in-top"
$hbx layer build "$work/top" -o "$work/top.erofs" > /dev/null
$hbx rootfs mount --layer "$work/plain.erofs" --layer "$work/top.erofs" \
	--upper "$work/upper" --work "$work/wk" "$work/root"
tap_result $? "rootfs.mounts_two_layers"
tap_check "rootfs.top_layer_wins" grep -q "from the top layer" "$work/root/special/file"
tap_check "rootfs.bottom_layer_shows_through" cmp "$src/special/big.bin" "$work/root/special/big.bin"
echo written > "$work/root/written" && test -f "$work/upper/written"
tap_result $? "rootfs.writes_land_in_upper"
$hbx rootfs umount "$work/root"
tap_result $? "rootfs.umount"
tap_check "rootfs.umount_detaches_every_layer" test "$($hbx layer list -j)" = "[]"

t0=${t0:-$(date +%s)}; echo "# $(( $(date +%s) - t0 )) s"
# --- bad input from the command line
! $hbx layer add "$work/plain.erofs" --digest sha256:0000 2> "$work/err"
tap_result $? "cli.bad_digest_is_refused"
! $hbx layer add "$work/plain.erofs" \
	--digest "sha256:$(printf '%064d' 0)" 2> "$work/err"
tap_result $? "cli.wrong_digest_is_refused"
grep -q "hbx: layer add: manifest does not match the expected digest" "$work/err"
tap_result $? "cli.wrong_digest_message_is_the_kernels"
! $hbx layer del 200 2> "$work/err" && grep -q "no layer with that index" "$work/err"
tap_result $? "cli.del_of_unknown_layer_says_so"
! $hbx layer frob 2> /dev/null
tap_result $? "cli.unknown_subcommand_is_refused"

tap_end
