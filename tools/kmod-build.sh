#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build hyperbox.ko for kernel KVER out of tree, in build/KVER/src, so that
# several kernels' builds live side by side.  Prints the module's path.
#   usage: tools/kmod-build.sh KVER [LOG]
# HBX_KDIR: the kernel build tree, if not /lib/modules/KVER/build.
set -u
cd "$(dirname "$0")/.." || exit 1
k=${1:?usage: kmod-build.sh KVER [LOG]}
log=${2:-/dev/stderr}
src=build/$k/src
rm -rf "$src" && mkdir -p "$src" && cp -r Kbuild kmod "$src/" || exit 1
find "$src" \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' \
	-o -name Module.symvers -o -name modules.order \) -delete
make -C "${HBX_KDIR:-/lib/modules/$k/build}" M="$PWD/$src" W=1 modules > "$log" 2>&1 || exit 1
echo "$src/kmod/hyperbox.ko"
