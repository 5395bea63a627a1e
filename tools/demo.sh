#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo: runs inside the VM.  Loads hyperbox.ko and shows it answering.
set -eu
cd "$(dirname "$0")/.."
. selftests/lib.sh
hbx_vm_prepare

step() { printf '\n$ %s\n' "$*"; "$@"; }

step insmod kmod/hyperbox.ko
step tools/hbx/hbx version
step tools/hbx/hbx info
step tools/hbx/hbx info -j
step rmmod hyperbox
echo
echo "demo: done"
