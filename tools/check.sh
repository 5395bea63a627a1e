#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: host unit tests, then for every installed kernel that has
# headers and an image, build hyperbox.ko for it and run the selftests in a
# VM booting that kernel, and the power-cut test in two more boots, then the
# DKMS check.  Prints TAP as it goes (a kernel's whole log when its boots
# end) and, last, "N passed, N failed"; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD
out=build/check
mkdir -p "$out"
passed=0 failed=0 skipped=0

# count LOG: add the TAP results in LOG to the totals.
count() {
	local p f s
	p=$(grep -E '^ok ' "$1" | grep -vc '# SKIP')
	s=$(grep -E '^ok ' "$1" | grep -c '# SKIP')
	f=$(grep -cE '^not ok ' "$1")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

kernels=${HBX_KERNELS:-}
if [ -z "$kernels" ]; then
	for d in /lib/modules/*/build; do
		k=$(basename "$(dirname "$d")")
		[ -e "/boot/vmlinuz-$k" ] && kernels="$kernels $k"
	done
fi
[ -n "$kernels" ] || { echo "check: no kernel with headers and image; run: make deps" >&2; exit 1; }

echo "# host unit tests"
/usr/bin/python3 tests/spec_check.py . > "$out/spec_check.log" 2>&1
cat "$out/spec_check.log"
count "$out/spec_check.log"
# Man pages, completion, units and the .deb against hbx's own tables.
tests/package_check.sh > "$out/package_check.log" 2>&1
cat "$out/package_check.log"
count "$out/package_check.log"
# hbx's number arguments: bad ones refused with a sentence and exit 2.
tests/cli_check.sh > "$out/cli_check.log" 2>&1
cat "$out/cli_check.log"
count "$out/cli_check.log"
for t in tests/*_test; do
	[ -x "$t" ] || continue
	"$t" > "$out/$(basename "$t").log" 2>&1
	cat "$out/$(basename "$t").log"
	count "$out/$(basename "$t").log"
done

# tap STATUS NAME: a TAP line for the kernel's log, counted from it later.
tap() {
	if [ "$1" -eq 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi
}

# check_kernel KVER: build the module, the selftests in one boot, the power
# cut in two more; TAP on stdout.
check_kernel() {
	local k=$1 start ko rc
	start=$(date +%s)
	echo "# kernel $k"
	ko=$(tools/kmod-build.sh "$k" "$out/build-$k.log")
	rc=$?
	tap $rc "build.$k"
	! grep -E "warning:|error:" "$out/build-$k.log"
	tap $? "build.$k.no_warnings_with_W=1"
	[ $rc -eq 0 ] || return

	tools/vm/run --kernel "$k" --timeout 2400 --log "$out/console-$k.log" \
		-- selftests/run_vm.sh "$ko" 2>&1 | tee "$out/vm-$k.log"
	tap "${PIPESTATUS[0]}" "vm.$k.ran_to_completion_with_a_clean_kernel_log"

	# Two boots over one virtual disk: a reset mid-pull, then the resume.
	selftests/powercut.sh "$k" "$ko" "$out" 2>&1 | tee "$out/powercut-$k.log"
	echo "# kernel $k: $(( $(date +%s) - start )) s"
}

# Each boot runs under single-threaded TCG, one host thread per guest, so
# kernels run side by side, as many at once as the host has CPUs (the two of
# Debian 12 on a two-core machine: about half the time of one after the
# other).  Their logs are printed whole, in order, as each kernel ends.
# HBX_CHECK_JOBS=1 runs them one after the other, printing as they go.
jobs=${HBX_CHECK_JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] 2>/dev/null || { echo "check: HBX_CHECK_JOBS must be a number >= 1" >&2; exit 2; }
if [ "$jobs" -eq 1 ]; then
	for k in $kernels; do
		check_kernel "$k" | tee "$out/kernel-$k.log"
		count "$out/kernel-$k.log"
	done
else
	running=0
	for k in $kernels; do
		if [ "$running" -ge "$jobs" ]; then
			wait -n
			running=$((running - 1))
		fi
		echo "# kernel $k: started, its log follows when it ends ($out/kernel-$k.log)"
		check_kernel "$k" > "$out/kernel-$k.log" 2>&1 &
		running=$((running + 1))
	done
	wait
	for k in $kernels; do
		cat "$out/kernel-$k.log"
		count "$out/kernel-$k.log"
	done
fi

if [ -z "${HBX_SKIP_DKMS:-}" ]; then
	for k in $kernels; do
		tools/dkms-check.sh "$k" > "$out/dkms-$k.log" 2>&1
		cat "$out/dkms-$k.log"
		count "$out/dkms-$k.log"
	done
fi

# After the DKMS check, never beside it: both use /usr/src/hyperbox-VERSION.
if [ -z "${HBX_SKIP_DEB:-}" ]; then
	tools/deb-check.sh $kernels > "$out/deb.log" 2>&1
	cat "$out/deb.log"
	count "$out/deb.log"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
