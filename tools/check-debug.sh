#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check-debug: the VM selftests on a debug kernel.  Builds (or reuses)
# the kernel of tools/debug-kernel.sh (KASAN, KFENCE, lockdep, kmemleak,
# debug objects, fault injection), builds hyperbox.ko against it, boots it
# with tools/vm/run, runs selftests/run_vm.sh, then scans kmemleak.  Prints
# TAP as it goes and, last, "N passed, N failed"; exits non-zero if anything
# failed.  Any WARNING/BUG/KASAN/lockdep report in the guest kernel log fails
# the run (tools/vm/run's check); each is copied to build/check-debug/splats.txt
# (symbolized: splats.decoded.txt), and a kmemleak report that involves
# hyperbox fails it too (all of them: build/check-debug/kmemleak.txt).
#   usage: tools/check-debug.sh [TEST...]
#          (default: every selftest, then selftests/faults_debug.sh)
# Environment: HBX_DEBUG_TIMEOUT (VM seconds, default 14400), HBX_DEBUG_MEM
# (MiB, default 4096), HBX_TIME_SCALE (the tests' time limits, default 4:
# see selftests/lib.sh), HBX_FUZZ_GENL_COUNT (default 1000000), and
# tools/vm/run's HBX_VM_* variables.
#
# Inside the VM it runs itself as: tools/check-debug.sh --guest KO [TEST...]
set -u
cd "$(dirname "$0")/.." || exit 1

# --- guest side ------------------------------------------------------------

if [ "${1:-}" = --guest ]; then
	ko=$2
	shift 2
	echo 0 >/proc/sys/kernel/kptr_restrict
	# Where hyperbox was loaded, each time: after rmmod, kmemleak prints the
	# module's frames as bare addresses, and only these ranges tie them to it.
	while :; do
		grep '^hyperbox ' /proc/modules
		sleep 0.2
	done >/tmp/hbx-loads 2>/dev/null &
	poller=$!
	start=$(date +%s)
	# Every selftest, then fault injection, which only this kernel can do.
	[ $# -gt 0 ] || set -- $(ls selftests/*_test selftests/*_test.sh) selftests/faults_debug.sh
	selftests/run_vm.sh "$ko" "$@"
	echo "# selftests took $(($(date +%s) - start)) s in the guest"
	kill "$poller" 2>/dev/null
	sort -u /tmp/hbx-loads | while read -r _ size _ _ _ addr _; do
		echo "# hyperbox was loaded at $addr size $size"
	done

	kml=/sys/kernel/debug/kmemleak
	if [ ! -w $kml ]; then
		echo "not ok - kmemleak.scanned # kmemleak is not available (disabled at boot?)"
		dmesg | grep -i kmemleak | sed 's/^/# /'
		exit 1
	fi
	# Two scans some seconds apart, as the kmemleak docs advise: an object
	# is reported only once it is old enough and no longer referenced.
	start=$(date +%s)
	echo scan >$kml
	sleep 6
	echo scan >$kml
	cat $kml >/tmp/kmemleak.txt
	echo "ok - kmemleak.scanned # two scans, $(($(date +%s) - start)) s"
	# The report, each line prefixed, for the host to cut out of the log.
	sed 's/^/# kmemleak| /' /tmp/kmemleak.txt
	exit 0
fi

# --- host side -------------------------------------------------------------

top=$PWD
out=build/check-debug
mkdir -p "$out"
passed=0 failed=0 skipped=0

count() {
	local p f s
	p=$(grep -E '^ok ' "$1" | grep -vc '# SKIP')
	s=$(grep -E '^ok ' "$1" | grep -c '# SKIP')
	f=$(grep -cE '^not ok ' "$1")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}
result() {
	if [ "$1" -eq 0 ]; then echo "ok - $2"; passed=$((passed + 1))
	else echo "not ok - $2"; failed=$((failed + 1)); fi
}
finish() {
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

echo "# debug kernel (tools/debug-kernel.sh; log: build/debug-kernel/build.log)"
start=$(date +%s)
kinfo=$(tools/debug-kernel.sh)
rc=$?
result $rc "debug_kernel.builds"
[ $rc -eq 0 ] || finish
kver="" image="" modules="" kdir=""
eval "$kinfo"
echo "# debug kernel $kver ready after $(($(date +%s) - start)) s"

ko=$(HBX_KDIR=$kdir tools/kmod-build.sh "$kver" "$out/build.log")
rc=$?
result $rc "build.$kver"
! grep -E "warning:|error:" "$out/build.log"
result $? "build.$kver.no_warnings_with_W=1"
[ $rc -eq 0 ] || finish

# Boot under KASAN, lockdep and kmemleak is many times slower than usual on
# TCG, and the host may be busy: a long boot timeout, RCU stall and soft
# lockup thresholds above what a starved vCPU reaches (the hung-task timeout
# stays 30 s, as in make check).
export HBX_VM_BOOT_TIMEOUT=${HBX_VM_BOOT_TIMEOUT:-900}
# The tests' own time limits scale, with the timeouts they are measured
# against, by HBX_TIME_SCALE (selftests/lib.sh; passed into the VM).
export HBX_TIME_SCALE=${HBX_TIME_SCALE:-4}
# The generic netlink fuzzer sends ten times what it sends in make check
# (issue 11: 1,000,000 messages on the debug kernel; about an hour there).
export HBX_FUZZ_GENL_COUNT=${HBX_FUZZ_GENL_COUNT:-1000000}
export HBX_VM_APPEND="rcupdate.rcu_cpu_stall_timeout=60 watchdog_thresh=30${HBX_VM_APPEND:+ $HBX_VM_APPEND}"
log=$out/vm.log console=$out/console.log
start=$(date +%s)
tools/vm/run --kernel-image "$image" --modules "$modules" \
	--mem "${HBX_DEBUG_MEM:-4096}" --timeout "${HBX_DEBUG_TIMEOUT:-14400}" \
	--log "$console" -- tools/check-debug.sh --guest "$ko" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
echo "# VM run: $(($(date +%s) - start)) s, status $rc"
count "$log"
result $rc "vm.$kver.ran_to_completion_with_a_clean_kernel_log"

# Every report in the guest kernel log, whole: from its first line to its
# end marker (or the next report, or 150 lines).
python3 - "$console" "$out/splats.txt" <<'PY'
import re, sys
start = re.compile(r'Oops|WARNING:|BUG:|kernel BUG at|hung task|blocked for more than|'
                   r'soft lockup|hard LOCKUP|detected stall|KASAN|UBSAN|Kernel panic|'
                   r'general protection fault|ODEBUG')
end = re.compile(r'---\[ end (trace|Kernel panic)|^(\[[^]]*\]\s*)?={20,}\s*$')
lines = open(sys.argv[1], errors='replace').read().splitlines()
blocks, i = [], 0
while i < len(lines):
    if start.search(lines[i]):
        j = i + 1
        while j < len(lines) and j - i < 150:
            if end.search(lines[j]):
                j += 1
                break
            if j - i > 3 and start.search(lines[j]) and 'KASAN' not in lines[j]:
                break
            j += 1
        blocks.append(lines[i:j])
        i = j
    else:
        i += 1
with open(sys.argv[2], 'w') as f:
    for b in blocks:
        f.write('\n'.join(b) + '\n\n')
print(len(blocks))
PY
nsplat=$(grep -c '' "$out/splats.txt" 2>/dev/null)
if [ -s "$out/splats.txt" ]; then
	echo "# guest kernel reports (whole: $out/splats.txt):"
	awk 'BEGIN { RS = ""; FS = "\n" } { for (i = 1; i <= NF && i <= 12; i++) print "#   " $i; print "#" }' \
		"$out/splats.txt"
	# file:line for the frames, best effort (addr2line over a DWARF vmlinux).
	timeout 300 nice -n 19 "$kdir/scripts/decode_stacktrace.sh" "$kdir/vmlinux" "$kdir" \
		"$top/$(dirname "$ko")" <"$out/splats.txt" >"$out/splats.decoded.txt" 2>/dev/null ||
		echo "# (decode_stacktrace.sh did not finish; raw reports only)"
fi
result "$([ "${nsplat:-0}" -eq 0 ] && echo 0 || echo 1)" "vm.$kver.no_kernel_reports"

# kmemleak: the report as the guest printed it, then per object whether any
# frame is hyperbox's (by symbol, or by address in a range it was loaded at).
sed -n 's/^# kmemleak| //p' "$log" >"$out/kmemleak.txt"
if grep -q '^ok - kmemleak.scanned' "$log"; then
	leaks=$(python3 - "$out/kmemleak.txt" "$log" "$ko" <<'PY'
import re, subprocess, sys
text = open(sys.argv[1], errors='replace').read()
ranges = [(int(a, 16), int(s)) for a, s in
          re.findall(r'^# hyperbox was loaded at (0x[0-9a-f]+) size (\d+)',
                     open(sys.argv[2], errors='replace').read(), re.M)]
# .text symbols of the module, for frames left as bare addresses.
syms = []
try:
    for l in subprocess.run(['nm', '-n', '--defined-only', sys.argv[3]],
                            capture_output=True, text=True).stdout.splitlines():
        a, t, n = l.split()[:3]
        if t in 'tT':
            syms.append((int(a, 16), n))
except Exception:
    pass
def hbx_frame(line):
    if '[hyperbox]' in line or re.search(r'\bhbx_', line):
        return line.strip()
    m = re.search(r'\] (0x[0-9a-f]+)\s*$', line)
    if not m:
        return None
    addr = int(m.group(1), 16)
    for base, size in ranges:
        if base <= addr < base + size:
            off = addr - base
            name = max([s for s in syms if s[0] <= off], default=(0, '?'))
            return '%s = hyperbox+0x%x (%s+0x%x, if in .text)' % (
                m.group(1), off, name[1], off - name[0])
    return None
objs = [o for o in re.split(r'(?m)^(?=unreferenced object)', text) if o.strip()]
mine = 0
for o in objs:
    frames = [f for f in map(hbx_frame, o.splitlines()) if f]
    bare = [l for l in o.splitlines() if re.search(r'\] 0x[0-9a-f]+\s*$', l)]
    head = o.splitlines()[0]
    if frames:
        mine += 1
        print('# HYPERBOX LEAK: %s' % head, file=sys.stderr)
        for f in frames:
            print('#     %s' % f, file=sys.stderr)
    else:
        print('# other: %s%s' % (head, ' (bare addresses of an unloaded module)' if bare else ''),
              file=sys.stderr)
print(len(objs), mine)
PY
)
	echo "# kmemleak: $leaks (unreferenced objects, of them hyperbox's); report: $out/kmemleak.txt"
	mine=${leaks#* }
	result "$([ "${mine:-1}" = 0 ] && echo 0 || echo 1)" "kmemleak.no_leak_involves_hyperbox"
else
	result 1 "kmemleak.no_leak_involves_hyperbox # the guest did not get to the scan"
fi
finish
