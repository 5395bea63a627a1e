#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# dkms add + dkms build of hyperbox for kernel KVER, then load the module
# DKMS built in a VM booting KVER.  Prints TAP lines.
#   usage: tools/dkms-check.sh KVER
set -u
cd "$(dirname "$0")/.." || exit 1
k=${1:?usage: dkms-check.sh KVER}
version=$(sed -n 's/^#define HBX_VERSION "\(.*\)"/\1/p' kmod/version.h)
src=/usr/src/hyperbox-$version

tap() { if [ "$1" -eq 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi; }

grep -q "^PACKAGE_VERSION=\"$version\"" dkms.conf
tap $? "dkms.conf_version_matches_kmod_version.h"
dkms remove -m hyperbox -v "$version" --all >/dev/null 2>&1
rm -rf "$src" && mkdir -p "$src" && cp -r Kbuild dkms.conf kmod "$src/" &&
	find "$src" \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' \) -delete
dkms add -m hyperbox -v "$version"
tap $? "dkms.$k.add"
dkms build -m hyperbox -v "$version" -k "$k"
rc=$?
tap $rc "dkms.$k.build"
[ $rc -eq 0 ] || exit 0

ko=$(ls /var/lib/dkms/hyperbox/"$version"/"$k"/*/module/hyperbox.ko* 2>/dev/null | head -n1)
[ -n "$ko" ]
tap $? "dkms.$k.module_file_exists"
tools/vm/run --kernel "$k" --timeout 300 --log "build/check/console-dkms-$k.log" -- \
	sh -c "insmod '$ko' && tools/hbx/hbx info && rmmod hyperbox"
tap $? "dkms.$k.built_module_loads_answers_and_unloads_in_vm"
