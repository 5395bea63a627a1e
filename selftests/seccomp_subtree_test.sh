#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# hbx seccomp learn (issue 11, defects 13 and 15): a workload that makes a
# cgroup below its own and moves into it is still traced there, what it
# leaves running there is killed and both cgroups are removed; unshare and
# setns are recorded with their namespace flags and get masked argument
# rules, as clone does.  Runs inside the VM as root; no hyperbox.ko needed.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
bb=/bin/busybox
py=/usr/bin/python3
work=$(mktemp -d /tmp/hbx-subtree.XXXXXX)
trap 'rm -rf "$work"' EXIT

tap_begin

# Into a child cgroup, leave a sleeper there, then sync(2) (nothing else in
# the script calls it), unshare(0) and setns(own netns, CLONE_NEWNET).
script='
cg=/sys/fs/cgroup$('$bb' sed -n "s/^0:://p" /proc/self/cgroup)
'$bb' mkdir "$cg/child" && echo $$ > "$cg/child/cgroup.procs" || exit 9
'$bb' sleep 300 &
echo $! > '$work'/sleeper
'$bb' sync
'$py' -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
assert libc.unshare(0) == 0, os.strerror(ctypes.get_errno())
fd = os.open(\"/proc/self/ns/net\", os.O_RDONLY)
assert libc.setns(fd, 0x40000000) == 0, os.strerror(ctypes.get_errno())
"
'
$hbx seccomp learn -o "$work/p.json" -- $bb sh -c "$script" > "$work/out" 2>&1
rc=$?
sed 's/^/# /' "$work/out"
tap_result $rc "subtree.learn_succeeds"

check() {	# check NAME PYTHON-EXPRESSION over the profile p
	$py - "$work/p.json" "$2" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
rules = [(n, s) for s in p.get("syscalls", []) for n in s["names"]]
names = {n for n, _ in rules}
def args(name):	# each rule's conditions, as (index, value, valueTwo, op)
    return [[(a["index"], a["value"], a.get("valueTwo", 0), a["op"])
             for a in s.get("args", [])] for n, s in rules if n == name]
ok = eval(sys.argv[2])
if not ok:
    print("# false:", sys.argv[2], [r for r in rules if r[0] in ("unshare", "setns", "sync")])
sys.exit(0 if ok else 1)
EOF
	tap_result $? "$1"
}
check "subtree.syscalls_in_a_child_cgroup_are_traced" '"sync" in names'
check "subtree.unshare_gets_a_masked_namespace_rule" \
	'args("unshare") == [[(0, 0x7E020080, 0, "SCMP_CMP_MASKED_EQ")]]'
check "subtree.setns_gets_a_masked_rule_on_nstype" \
	'args("setns") == [[(1, 0x7E020080, 0x40000000, "SCMP_CMP_MASKED_EQ")]]'
sleeper=$(cat "$work/sleeper" 2>/dev/null)
tap_check "subtree.what_it_left_in_the_child_is_killed" \
	test -n "$sleeper" -a ! -e "/proc/${sleeper:-0}"
! ls -d /sys/fs/cgroup/hbx-seccomp-* > /dev/null 2>&1
tap_result $? "subtree.both_cgroups_are_removed"
tap_end
