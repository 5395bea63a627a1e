#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# hbx seccomp in a real kernel: learn a busybox shell script and a python3
# workload with the eBPF tracer, run each under its profile ten times,
# check that a syscall outside the profile gets EPERM under the errno
# action, kills under the kill action and is logged under --complain, that
# learn --append folds it back in, that argument rules (clone namespaces,
# socket families) and ABIs (x86_64, i386, x32) are kept apart and
# enforced, that merge and diff give the expected sets, and that bad input
# fails clearly without leaving a profile behind.  Runs inside the VM as
# root; it does not need hyperbox.ko.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
bb=/bin/busybox
py=/usr/bin/python3

work=$(mktemp -d /tmp/hbx-seccomp.XXXXXX)
trap 'rm -rf "$work"' EXIT

tap_begin
t0=$(date +%s)
elapsed() { echo "# $(( $(date +%s) - t0 )) s"; }

# json FILE EXPR: evaluate a Python expression over the JSON in FILE (as p),
# true if it is; "names" is the set of syscalls the profile names.
json() {
	$py - "$1" "$2" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
names = {n for s in p.get("syscalls", []) for n in s["names"]}
ok = eval("(" + sys.argv[2] + ")")
if not ok:
    print("# false:", sys.argv[2])
sys.exit(0 if ok else 1)
EOF
}

# edit IN OUT PYTHON: write OUT as IN changed by the statements (on p).
edit() {
	$py - "$1" "$2" "$3" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(p, open(sys.argv[2], "w"), indent=2)
EOF
}

# times N CMD...: run CMD N times; true if every run succeeded.
times() {
	local n=$1 i fails=0
	shift
	for i in $(seq "$n"); do
		"$@" || fails=$((fails + 1))
	done
	[ "$fails" -eq 0 ] || echo "# $fails of $n runs failed"
	[ "$fails" -eq 0 ]
}

no_leftovers() {	# no_leftovers FILE: neither it nor a temporary of it
	! ls "$1" "$1".tmp.* >/dev/null 2>&1
}

# --- the busybox workload
bb_script="echo hi > $work/x; cat $work/x; ls / >/dev/null"
bb_run() {
	[ "$($hbx seccomp run --profile "$work/bb.json" -- $bb sh -c "$bb_script")" = hi ]
}
$hbx seccomp learn -o "$work/bb.json" -- $bb sh -c "$bb_script" > "$work/bb.out"
tap_result $? "learn.busybox_workload_succeeds"
tap_check "learn.busybox_workload_output_is_untouched" \
	test "$(cat "$work/bb.out")" = hi
json "$work/bb.json" '
p["defaultAction"] == "SCMP_ACT_ERRNO" and p["defaultErrnoRet"] == 1 and
p["architectures"] == ["SCMP_ARCH_X86_64"] and
all(s["action"] in ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO") for s in p["syscalls"]) and
p["syscalls"][0]["names"] == sorted(p["syscalls"][0]["names"]) and
{"execve", "exit_group", "write"} <= names'
tap_result $? "learn.profile_is_an_oci_profile_with_sorted_names"
# Traced from the workload's execve on: nothing of hbx's own.
json "$work/bb.json" 'not names & {"bpf", "perf_event_open", "mkdir", "name_to_handle_at"}'
tap_result $? "learn.profile_has_none_of_hbx_own_syscalls"
echo "# busybox: $(json "$work/bb.json" 'print(len(names), end=" ") or True')syscalls"
tap_check "run.busybox_workload_10_times_under_its_profile" times 10 bb_run

$hbx seccomp stats "$work/bb.json" | sed 's/^/# /'
$hbx seccomp stats -j "$work/bb.json" > "$work/bb.stats"
json "$work/bb.stats" 'p["docker-default-allowed"] == 309 and
	p["allowed"] <= 0.25 * 309 and
	abs(p["reduction-percent"] - 100 * (1 - p["allowed"] / 309)) < 0.1'
tap_result $? "stats.busybox_profile_allows_at_most_25_percent_of_dockers"
elapsed

# --- the python3 workload
py_expect=$($py -c 'import json,os; print(json.dumps(os.listdir("/")))')
py_run() {
	[ "$($hbx seccomp run --profile "$work/py.json" -- \
		$py -c 'import json,os; print(json.dumps(os.listdir("/")))')" = "$py_expect" ]
}
$hbx seccomp learn -o "$work/py.json" -- \
	$py -c 'import json,os; print(json.dumps(os.listdir("/")))' > /dev/null
tap_result $? "learn.python3_workload_succeeds"
echo "# python3: $(json "$work/py.json" 'print(len(names), end=" ") or True')syscalls"
tap_check "run.python3_workload_10_times_under_its_profile" times 10 py_run

# Threads: glibc creates them with clone3, whose flags seccomp cannot see.
# The profile answers clone3 with ENOSYS and glibc falls back to clone,
# which the namespace rule then filters.
thread_py='import threading; t = threading.Thread(target=print, args=("t",)); t.start(); t.join()'
$hbx seccomp learn -o "$work/thread.json" -- $py -c "$thread_py" > /dev/null
tap_result $? "learn.threaded_python3_workload_succeeds"
json "$work/thread.json" '
{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in p["syscalls"] and
{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0,
	"value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]} in p["syscalls"]'
tap_result $? "learn.clone3_gets_enosys_and_clone_a_namespace_rule"
thread_run() {
	[ "$($hbx seccomp run --profile "$work/thread.json" -- $py -c "$thread_py")" = t ]
}
tap_check "run.threaded_workload_falls_back_to_clone_10_times" times 10 thread_run

# learn exits with the workload's status, and still writes the profile.
$hbx seccomp learn -o "$work/exit3.json" -- $bb sh -c 'exit 3'
tap_check "learn.exits_with_the_workloads_status" test $? -eq 3
tap_check "learn.writes_the_profile_of_a_failing_workload" test -s "$work/exit3.json"
$hbx seccomp learn -o "$work/term.json" -- $bb sh -c 'kill -TERM $$'
tap_check "learn.exits_128_plus_the_signal_that_killed_it" test $? -eq 143
# What the workload leaves running is killed, so the cgroup can go.
start=$(date +%s)
$hbx seccomp learn -o "$work/bg.json" -- $bb sh -c "$bb sleep 300 & exit 0" 2> "$work/bg.err"
tap_result $? "learn.workload_leaving_a_process_behind_succeeds"
sleepers() {	# processes running "busybox sleep 300"
	for f in /proc/[0-9]*/cmdline; do
		tr '\0' ' ' < "$f" 2> /dev/null
		echo
	done | grep -c "^$bb sleep 300 "
}
grep -q "warning: killed 1 process the command left running" "$work/bg.err" &&
	[ $(( $(date +%s) - start )) -lt 60 ] && [ "$(sleepers)" -eq 0 ]
tap_result $? "learn.kills_what_the_workload_left_running"
elapsed

# --- a syscall outside the profile: errno, kill, complain, append
probe="echo start >&2; $bb unshare -u $bb true; echo rc=\$? >&2"
$hbx seccomp learn -o "$work/probe.json" -- $bb sh -c "$probe" 2> /dev/null
tap_result $? "learn.probe_workload_succeeds"
json "$work/probe.json" '"unshare" in names'
tap_result $? "learn.probe_profile_allows_unshare"
# The same profile without unshare, with an errno and with a kill default.
edit "$work/probe.json" "$work/deny.json" '
for s in p["syscalls"]:
    s["names"] = [n for n in s["names"] if n != "unshare"]'
edit "$work/deny.json" "$work/kill.json" 'p["defaultAction"] = "SCMP_ACT_KILL_PROCESS"'

$hbx seccomp run --profile "$work/deny.json" -- $bb sh -c "$probe" 2> "$work/deny.err"
tap_result $? "run.errno_profile_lets_the_script_go_on"
grep -q "unshare(0x4000000): Operation not permitted" "$work/deny.err" &&
	grep -q "^rc=1$" "$work/deny.err"
tap_result $? "run.syscall_outside_the_profile_gets_eperm"
[ -s "$work/deny.err" ] && sed 's/^/# /' "$work/deny.err"

$hbx seccomp run --profile "$work/kill.json" -- $bb sh -c "$probe" 2> "$work/kill.err"
grep -q "^rc=159$" "$work/kill.err"	# 128 + SIGSYS
tap_result $? "run.kill_action_kills_the_task_with_sigsys"

logged() { dmesg | grep -c "type=1326.* syscall=272 " ; }
before=$(logged)
$hbx seccomp run --complain --profile "$work/deny.json" -- $bb sh -c "$probe" 2> "$work/complain.err"
tap_result $? "run.complain_mode_lets_the_workload_finish"
grep -q "^rc=0$" "$work/complain.err"
tap_result $? "run.complain_mode_lets_the_syscall_run"
sleep 1	# kauditd prints asynchronously
[ "$(logged)" -gt "$before" ]
tap_result $? "run.complain_mode_logs_the_syscall_to_the_audit_log"
dmesg | grep "type=1326" | tail -n 1 | sed 's/^/# /'

cp "$work/deny.json" "$work/appended.json"
before=$(logged)
$hbx seccomp learn --append "$work/appended.json" -j -- $bb sh -c "$probe" \
	> "$work/append.out" 2> "$work/append.err"
tap_result $? "learn.append_succeeds"
grep -q "^rc=0$" "$work/append.err"
tap_result $? "learn.append_runs_the_workload_under_the_profile_in_complain_mode"
sleep 1
[ "$(logged)" -gt "$before" ]
tap_result $? "learn.append_run_logs_what_the_profile_lacked"
$hbx seccomp diff "$work/deny.json" "$work/appended.json" > "$work/append.diff"
# unshare's rule keeps the namespace it made (busybox unshare -u: CLONE_NEWUTS).
[ $? -eq 1 ] && [ "$(cat "$work/append.diff")" = "+ unshare arg0 & 0x7e020080 == 0x4000000" ]
tap_result $? "learn.append_folds_the_new_syscall_back_in"
tail -n 1 "$work/append.out" > "$work/append.json"
json "$work/append.json" 'p["added"] == ["unshare arg0 & 0x7e020080 == 0x4000000"] and p["exit-status"] == 0'
tap_result $? "learn.append_json_names_what_it_added"
$hbx seccomp run --profile "$work/appended.json" -- $bb sh -c "$probe" 2> "$work/appended.err"
grep -q "^rc=0$" "$work/appended.err"
tap_result $? "run.appended_profile_allows_it_again"
elapsed

# --- argument rules: clone's namespace flags, socket's address family
cat > "$work/args.py" <<'EOF'
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
flags, family = int(sys.argv[1], 0), int(sys.argv[2])
out = []
pid = libc.syscall(56, flags | 17, 0, 0, 0, 0)	# clone(flags | SIGCHLD)
if pid == 0:
    os._exit(0)
if pid < 0:
    out.append("clone:" + os.strerror(ctypes.get_errno()))
else:
    os.waitpid(pid, 0)
    out.append("clone:ok")
try:
    socket.socket(family, socket.SOCK_STREAM).close()
    out.append("socket:ok")
except OSError as e:
    out.append("socket:" + e.strerror)
print(" ".join(out))
EOF
$hbx seccomp learn -o "$work/args.json" -- $py "$work/args.py" 0 1 > /dev/null
tap_result $? "learn.argument_workload_succeeds"
json "$work/args.json" '
[s["args"] for s in p["syscalls"] if s["names"] == ["clone"]] ==
	[[{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]] and
[s["args"] for s in p["syscalls"] if s["names"] == ["socket"]] ==
	[[{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]]'
tap_result $? "learn.clone_and_socket_get_argument_rules"
args_run() { $hbx seccomp run --profile "$work/args.json" -- $py "$work/args.py" "$@"; }
tap_check "run.argument_rules_allow_what_was_seen" \
	test "$(args_run 0 1)" = "clone:ok socket:ok"
tap_check "run.clone_with_a_new_namespace_is_denied" \
	test "$(args_run 0x04000000 1)" = "clone:Operation not permitted socket:ok"
tap_check "run.socket_of_another_family_is_denied" \
	test "$(args_run 0 2)" = "clone:ok socket:Operation not permitted"
elapsed

# --- ABIs: one static binary making an x86_64, an i386 and an x32 syscall
cat > "$work/abi.s" <<'EOF'
	.globl _start
_start:
	mov	$39, %eax		# getpid, x86_64
	syscall
	mov	$64, %eax		# getppid, i386 (x86_64's 64 is semget)
	int	$0x80
	mov	$0x40000066, %eax	# getuid, x32 (ENOSYS unless syscall.x32=y)
	syscall
	mov	$60, %eax		# exit(0)
	xor	%edi, %edi
	syscall
EOF
if as --64 -o "$work/abi.o" "$work/abi.s" && ld -o "$work/abi" "$work/abi.o"; then
	$hbx seccomp learn --arch all -o "$work/abi-all.json" -- "$work/abi"
	tap_result $? "learn.arch_all_succeeds"
	json "$work/abi-all.json" '
p["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] and
{"execve", "getpid", "getppid", "getuid", "exit"} <= names and "semget" not in names'
	tap_result $? "learn.arch_all_names_each_abi_from_its_own_table"
	$hbx seccomp learn --arch native -o "$work/abi-native.json" -- "$work/abi"
	json "$work/abi-native.json" '
p["architectures"] == ["SCMP_ARCH_X86_64"] and {"getpid", "exit"} <= names and
not names & {"getppid", "getuid", "semget"}'
	tap_result $? "learn.arch_native_leaves_the_32_bit_and_x32_calls_out"
	$hbx seccomp run --profile "$work/abi-all.json" -- "$work/abi"
	tap_result $? "run.arch_all_profile_runs_all_three_abis"
	# (Braces keep bash's "Bad system call" out of the log.)
	{ $hbx seccomp run --profile "$work/abi-native.json" -- "$work/abi"; } 2> /dev/null
	tap_check "run.arch_native_profile_kills_an_i386_syscall" test $? -eq 159
else
	echo "ok $((tap_n + 1)) learn.abis # SKIP no assembler"
	tap_n=$((tap_n + 1))
fi
elapsed

# --- merge and diff
$hbx seccomp merge "$work/bb.json" "$work/py.json" -o "$work/merged.json"
tap_result $? "merge.succeeds"
$py - "$work/bb.json" "$work/py.json" "$work/merged.json" <<'EOF'
import json, sys
def allowed(f):
    p = json.load(open(f))
    return {n for s in p["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" for n in s["names"]}
a, b, m = (allowed(f) for f in sys.argv[1:])
sys.exit(0 if m == a | b else 1)
EOF
tap_result $? "merge.allows_the_union"
$hbx seccomp diff "$work/bb.json" "$work/merged.json" > "$work/diff.out"
tap_check "diff.different_profiles_exit_1" test $? -eq 1
$py - "$work/bb.json" "$work/py.json" "$work/diff.out" <<'EOF'
import json, sys
def lines(f):
    p = json.load(open(f))
    return {n for s in p["syscalls"] if "args" not in s for n in s["names"]}
a, b = lines(sys.argv[1]), lines(sys.argv[2])
out = open(sys.argv[3]).read().split("\n")[:-1]
plus = {l[2:] for l in out if l.startswith("+ ") and " " not in l[2:]}
minus = [l for l in out if l.startswith("- ")]
sys.exit(0 if plus == b - a and not minus else 1)
EOF
tap_result $? "diff.shows_exactly_what_the_other_adds"
$hbx seccomp diff "$work/merged.json" "$work/merged.json" > "$work/same.out"
[ $? -eq 0 ] && [ ! -s "$work/same.out" ]
tap_result $? "diff.same_profile_exits_0_silently"
$hbx seccomp run --profile "$work/merged.json" -- $bb sh -c "$bb_script" > /dev/null &&
	$hbx seccomp run --profile "$work/merged.json" -- $py -c 'import os' > /dev/null
tap_result $? "run.merged_profile_runs_both_workloads"
elapsed

# --- bad input: a sentence, a non-zero exit, no profile left behind
fails_with() {	# fails_with MESSAGE CMD...: CMD fails and says MESSAGE
	local msg=$1 rc
	shift
	"$@" > "$work/bad.out" 2> "$work/bad.err"
	rc=$?
	grep -qF -- "$msg" "$work/bad.err" && [ $rc -ne 0 ] && return 0
	echo "# rc=$rc: $(cat "$work/bad.err")"
	return 1
}
printf '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [' > "$work/trunc.json"
tap_check "bad.malformed_json" \
	fails_with "malformed JSON: the document ends early" \
	$hbx seccomp run --profile "$work/trunc.json" -- $bb true
edit "$work/bb.json" "$work/unknown.json" 'p["syscalls"][0]["names"].append("no_such_syscall")'
tap_check "bad.unknown_syscall_is_named" \
	fails_with "unknown syscall 'no_such_syscall'" \
	$hbx seccomp run --profile "$work/unknown.json" -- $bb true
edit "$work/bb.json" "$work/arch.json" 'p["architectures"].append("SCMP_ARCH_Z80")'
tap_check "bad.unknown_architecture_is_named" \
	fails_with "unknown architecture 'SCMP_ARCH_Z80'" \
	$hbx seccomp stats "$work/arch.json"
tap_check "bad.unknown_arch_option" \
	fails_with "unknown architecture 'z80'" \
	$hbx seccomp learn --arch z80 -o "$work/never.json" -- $bb true
tap_check "bad.missing_command_for_learn" \
	fails_with "cannot run 'no-such-command': No such file or directory" \
	$hbx seccomp learn -o "$work/never.json" -- no-such-command
tap_check "bad.unwritable_output_fails_before_running_anything" \
	fails_with "cannot write $work/no-dir/p.json: No such file or directory" \
	$hbx seccomp learn -o "$work/no-dir/p.json" -- $bb touch "$work/ran"
tap_check "bad.unwritable_output_did_not_run_the_command" test ! -e "$work/ran"
tap_check "bad.missing_command_for_run" \
	fails_with "cannot run 'no-such-command': No such file or directory" \
	$hbx seccomp run --profile "$work/bb.json" -- no-such-command
tap_check "bad.without_cgroup_v2" \
	fails_with "cgroup v2 is not mounted" \
	unshare --mount --propagation private \
	sh -c "umount /sys/fs/cgroup && exec $hbx seccomp learn -o $work/never.json -- $bb true"
tap_check "bad.without_bpf_privileges" \
	fails_with "cannot load the BPF program: Operation not permitted (needs CAP_BPF and CAP_PERFMON, or root)" \
	capsh --drop=cap_bpf,cap_perfmon,cap_sys_admin -- -c \
	"exec $hbx seccomp learn -o $work/never.json -- $bb true"
tap_check "bad.no_partial_profile_left_behind" no_leftovers "$work/never.json"
tap_check "bad.no_cgroup_left_behind" \
	test -z "$(find /sys/fs/cgroup -maxdepth 1 -name 'hbx-seccomp-*')"
elapsed

tap_end
