#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make soak [MINUTES=N] [KVER=K]: builds hyperbox.ko for kernel K (default:
# the newest with headers and an image), boots one VM (timeout MINUTES + 10
# minutes) and runs selftests/soak_vm.sh in it: three nodes under random
# churn for MINUTES, every read checked (see that script).  Prints TAP and,
# last, "N passed, N failed"; exits non-zero if anything failed.  Everything
# of a run lands in build/soak/<time>-<kernel>/: the module, hbx, stoq_liar
# and the scripts the guest runs (copies, so rebuilds and edits during a long
# soak do not reach it), soak.log (the whole output, churn actions included)
# and the guest's console log and dmesg.
#   usage: tools/soak.sh [--kernel KVER] [MINUTES]
# HBX_SOAK_SEED=N replays a run's churn decisions (the seed is printed).
set -u
cd "$(dirname "$0")/.." || exit 1

k=
minutes=10
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) k=${2:?usage: tools/soak.sh [--kernel KVER] [MINUTES]}; shift 2 ;;
	[0-9]*) minutes=$1; shift ;;
	*) echo "usage: tools/soak.sh [--kernel KVER] [MINUTES]" >&2; exit 2 ;;
	esac
done
[ "$minutes" -ge 1 ] 2>/dev/null || { echo "soak: MINUTES must be a whole number >= 1" >&2; exit 2; }
if [ -z "$k" ]; then
	k=$(for d in /lib/modules/*/build; do
		kv=$(basename "$(dirname "$d")")
		[ -e "/boot/vmlinuz-$kv" ] && echo "$kv"
	done | sort -V | tail -n 1)
fi
[ -n "$k" ] || { echo "soak: no kernel with headers and an image; run: make deps" >&2; exit 2; }

out=build/soak/$(date -u +%Y%m%d-%H%M%S)-$k
mkdir -p "$out"
passed=0 failed=0
result() {	# result STATUS NAME
	if [ "$1" -eq 0 ]; then echo "ok - $2"; passed=$((passed + 1))
	else echo "not ok - $2"; failed=$((failed + 1)); fi
}
finish() {
	echo "$passed passed, $failed failed"
	echo "# logs: $out"
	[ "$failed" -eq 0 ]
	exit
}

echo "# soak: $minutes minutes on $k"
ko=$(tools/kmod-build.sh "$k" "$out/build.log")
result $? "soak.build.$k"
[ -n "$ko" ] || finish
# Copies the guest runs from: hbx may be relinked under us ("Permission
# denied" for a moment), and a long soak must not see later edits.
copied=1
for _ in 1 2 3 4 5 6 7 8 9 10; do
	cp "$ko" "$out/hyperbox.ko" && cp tools/hbx/hbx tests/stoq_liar "$out/" &&
		cp selftests/soak_vm.sh selftests/lib.sh "$out/" && "$out/hbx" help > /dev/null 2>&1 &&
		{ copied=0; break; }
	sleep 1
done
result $copied "soak.copies_of_what_the_guest_runs"
[ $copied -eq 0 ] || finish

export HBX_SOAK_BIN=$PWD/$out
tools/vm/run --kernel "$k" --timeout $(((minutes + 10) * 60)) --log "$out/console.log" \
	-- "$out/soak_vm.sh" "$out/hyperbox.ko" "$minutes" 2>&1 |
	tee "$out/soak.log" | grep --line-buffered -v '^# | '
rc=${PIPESTATUS[0]}
passed=$((passed + $(grep -cE '^ok ' "$out/soak.log")))
failed=$((failed + $(grep -cE '^not ok ' "$out/soak.log")))
grep -q '^1\.\.[0-9]' "$out/soak.log"
result $? "soak.guest_ran_to_the_end"
[ "$rc" -ne 124 ]
result $? "soak.vm_ended_within_$((minutes + 10))_minutes"
# tools/vm/run's own check (exit 3) only speaks when the command succeeded:
# look at the console log here too, with its patterns.
problems=$(grep -E 'Oops|WARNING:|BUG:|kernel BUG at|hung task|blocked for more than|soft lockup|hard LOCKUP|detected stall|KASAN|UBSAN|Kernel panic|general protection fault' \
	"$out/console.log" 2>/dev/null)
[ "$rc" -ne 3 ] && [ -s "$out/console.log" ] && [ -z "$problems" ]
result $? "soak.kernel_log_clean"
[ -z "$problems" ] || head -n 20 <<<"$problems" | sed 's/^/# klog| /'
echo "# vm exit status $rc"
finish
