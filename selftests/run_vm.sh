#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM (tools/vm/run): load hyperbox.ko, run every selftest,
# unload it.  Prints TAP; the host counts "ok"/"not ok" lines.
#   usage: selftests/run_vm.sh PATH/TO/hyperbox.ko [TEST...]
set -u
KO=${1:?usage: run_vm.sh hyperbox.ko [test...]}
shift
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh

hbx_vm_prepare

echo "TAP version 13"
n=0
tap() {	# tap STATUS NAME
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi
}

insmod "$KO"
tap $? "module.loads"
dmesg | grep -q "hyperbox .* loaded"
tap $? "module.logs_its_version"

tests=${*:-$(ls selftests/*_test selftests/*_test.sh 2>/dev/null)}
for t in $tests; do
	echo "# --- $t"
	./"$t"
	rc=$?
	[ $rc -eq 0 ] || echo "# $t exited with $rc"
done

rmmod hyperbox
tap $? "module.unloads_cleanly"
! grep -q '^hyperbox ' /proc/modules
tap $? "module.is_gone_after_rmmod"

# The family alias autoloads the module on the first request for it.
kdir=/lib/modules/$(uname -r)
mkdir -p "$kdir/extra" && cp "$KO" "$kdir/extra/" && depmod -a
tools/hbx/hbx info >/dev/null
tap $? "module.autoloads_on_first_netlink_request"
rmmod hyperbox
tap $? "module.unloads_after_autoload"
