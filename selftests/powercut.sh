#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Power cut mid-pull, on the host: boot 1 pulls a layer into a cache file on
# a virtual disk and resets the machine halfway (selftests/powercut_vm.sh
# cut); boot 2 re-attaches with the same cache and completes the pull
# (resume).  Prints TAP from both boots and one line of its own.
#   usage: selftests/powercut.sh KVER HYPERBOX.KO [LOGDIR]
set -u
cd "$(dirname "$0")/.." || exit 1
k=${1:?usage: powercut.sh KVER HYPERBOX.KO [LOGDIR]}
ko=${2:?usage: powercut.sh KVER HYPERBOX.KO [LOGDIR]}
logs=${3:-build/check}
mkdir -p "$logs"
disk=$(mktemp /var/tmp/hbx-powercut.XXXXXX)
trap 'rm -f "$disk"' EXIT
truncate -s 256M "$disk"

tools/vm/run --kernel "$k" --disk "$disk" --timeout 600 \
	--log "$logs/console-powercut-cut-$k.log" -- selftests/powercut_vm.sh cut "$ko" \
	2>&1 | tee "$logs/powercut-cut-$k.log"
rc=${PIPESTATUS[0]}
# The reset leaves no exit status (125); 3 would mean a kernel problem.
if [ "$rc" -eq 125 ] && grep -q "^powercut: cutting power now" "$logs/powercut-cut-$k.log"; then
	echo "ok - powercut.$k.the_machine_was_reset_mid_pull"
else
	echo "not ok - powercut.$k.the_machine_was_reset_mid_pull (vm exit $rc)"
fi

tools/vm/run --kernel "$k" --disk "$disk" --timeout 600 \
	--log "$logs/console-powercut-resume-$k.log" -- selftests/powercut_vm.sh resume "$ko"
rc=$?
if [ "$rc" -eq 0 ]; then
	echo "ok - powercut.$k.resume_boot_ran_with_a_clean_kernel_log"
else
	echo "not ok - powercut.$k.resume_boot_ran_with_a_clean_kernel_log (vm exit $rc)"
fi
