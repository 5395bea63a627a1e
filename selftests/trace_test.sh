#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The hyperbox tracepoints exist and fire: hbx_chunk_verify for every chunk
# hashed (FAILED for a corrupt one) and hbx_read for every request.  Runs
# inside the VM with hyperbox.ko loaded.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
tracing=/sys/kernel/tracing
work=$(mktemp -d /tmp/hbx-trace.XXXXXX)
trap 'echo 0 > $tracing/events/hyperbox/enable 2>/dev/null; rm -rf "$work"' EXIT

tap_begin
tap_check "trace.events_are_registered" \
	test -d $tracing/events/hyperbox/hbx_chunk_verify -a -d $tracing/events/hyperbox/hbx_read

mkdir "$work/src"
head -c 262144 /dev/urandom > "$work/src/blob"
$hbx layer build "$work/src" -o "$work/good.erofs" > /dev/null
python3 - "$work/src/blob" "$work/good.erofs" "$work/bad.erofs" <<'PY'
import sys
blob, img = open(sys.argv[1], 'rb').read(), bytearray(open(sys.argv[2], 'rb').read())
at = img.find(blob[:4096])
img[at + 100] ^= 1
open(sys.argv[3], 'wb').write(img)
PY

echo > $tracing/trace
echo 1 > $tracing/events/hyperbox/enable
dev=$($hbx layer add "$work/bad.erofs" --manifest "$work/good.manifest" -j |
	sed -n 's/.*"device":"\([^"]*\)".*/\/dev\/\1/p')
dd if="$dev" of=/dev/null bs=4096 count=1 iflag=direct 2> /dev/null
! dd if="$dev" of=/dev/null bs=1M iflag=direct 2> /dev/null
tap_result $? "trace.corrupt_image_read_fails"
echo 0 > $tracing/events/hyperbox/enable
$hbx layer del "${dev#/dev/}"

grep -E 'hbx_chunk_verify: hbx[0-9]+ chunk=[0-9]+ len=[0-9]+ verified' $tracing/trace > /dev/null
tap_result $? "trace.chunk_verify_fires_for_good_chunks"
grep -E 'hbx_chunk_verify: hbx[0-9]+ chunk=[0-9]+ len=65536 FAILED' $tracing/trace > /dev/null
tap_result $? "trace.chunk_verify_reports_the_corrupt_chunk"
grep -E 'hbx_read: hbx[0-9]+ pos=[0-9]+ len=[0-9]+ err=0' $tracing/trace > /dev/null
tap_result $? "trace.read_fires_per_request"
grep -E 'hbx_read: .* err=-5' $tracing/trace > /dev/null
tap_result $? "trace.read_reports_eio"
tap_end
