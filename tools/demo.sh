#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: runs inside the VM.  Builds a layer from a real directory
# tree, attaches it as /dev/hbxN, mounts it with the kernel's EROFS, then
# flips one byte in a copy of the image and shows hyperbox catching it.
#   usage: tools/demo.sh HYPERBOX.KO
set -eu
cd "$(dirname "$0")/.."
. selftests/lib.sh
ko=${1:-kmod/hyperbox.ko}
hbx=$PWD/tools/hbx/hbx
work=$(mktemp -d /tmp/hbx-demo.XXXXXX)

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say() { printf '\n# %s\n' "$*"; }

hbx_vm_prepare
step insmod "$ko"
step "$hbx" version
step "$hbx" info

say "A layer from a real tree: Python's standard library (json, email) and the zoneinfo database."
mkdir -p "$work/tree"
cp -a /usr/lib/python3.11/json /usr/lib/python3.11/email /usr/share/zoneinfo "$work/tree/"
echo "$(find "$work/tree" -type f | wc -l) files, $(du -sh "$work/tree" | cut -f1)"
step "$hbx" layer build "$work/tree" -o "$work/stdlib.erofs"
step "$hbx" layer build "$work/tree" -o "$work/again.erofs"
say "Same tree, same digest: builds are reproducible."

$hbx monitor > "$work/events" &
monitor=$!
mkdir -p "$work/mnt"
step "$hbx" layer mount "$work/stdlib.erofs" "$work/mnt"
step mount -t erofs
step ls "$work/mnt" "$work/mnt/json"
step head -n 3 "$work/mnt/json/__init__.py"
step diff -r "$work/tree" "$work/mnt"
say "diff -r found no difference."
step "$hbx" layer list

say "Now flip one byte of json/decoder.py in a copy of the image..."
python3 - "$work/tree/json/decoder.py" "$work/stdlib.erofs" "$work/evil.erofs" <<'PY'
import sys
src, img = open(sys.argv[1], 'rb').read(), bytearray(open(sys.argv[2], 'rb').read())
at = img.find(src[:64])
if at < 0:  # compressed: flip a byte in the middle of the image instead
    at = len(img) // 2
img[at + 10] ^= 0x20
open(sys.argv[3], 'wb').write(img)
print(f"flipped byte {at + 10} of {len(img)}")
PY
mkdir -p "$work/evil"
step "$hbx" layer mount "$work/evil.erofs" "$work/evil" --manifest "$work/stdlib.manifest"
say "...and read it: the damaged 64 KiB chunk is refused with EIO, never served."
if cat "$work/evil/json/decoder.py" > /dev/null; then
	echo "demo: the flipped byte was not caught!" >&2
	exit 1
fi
say "Everything outside that chunk still reads, and matches:"
diff -r "$work/tree" "$work/evil" 2>&1 | grep -c "Input/output error" |
	xargs printf '%s file(s) in that chunk fail; '
diff -r "$work/tree" "$work/evil" 2>/dev/null | grep -vc "Input/output error" |
	xargs printf '%s differences elsewhere\n'
step "$hbx" layer list
sleep 1
kill "$monitor"
say "What hbx monitor saw:"
cat "$work/events"

step "$hbx" layer umount "$work/evil"
step "$hbx" layer umount "$work/mnt"
step rmmod hyperbox
say "demo: done"
rm -rf "$work"
