#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# hbx trace, hbx trace events, hbx top and their tracepoints (issue 13):
#   format    every hyperbox event's tracefs format file carries exactly the
#             fields kmod/TRACEPOINTS.md documents, with those types
#   counts    a known workload (N chunks read, K of them twice, cold device)
#             gives exact counts, bytes and histogram totals in hbx trace -j
#   corrupt   a corrupted local layer: the verify failure with its layer and
#             chunk, in hbx trace events -j and in hbx trace's failure lines
#   remote    two peers, one lying: fetches per peer, corrupt on the liar,
#             the failover to the honest one
#   top       hbx top in tmux: layer row and PSI lines appear and update, q
#             quits and restores the terminal; -j and -b -n 2 parse
#   otlp      a receiver checks each interval's OTLP/HTTP JSON; with it down,
#             tracing goes on and says the export failed, once
#   bad       every bad input, with its sentence and a non-zero exit
# Runs inside the VM with hyperbox.ko loaded.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
liar=$PWD/tests/stoq_liar
receiver=$PWD/selftests/otlp_receiver.py
tracing=/sys/kernel/tracing
work=$(mktemp -d /tmp/hbx-hbxtrace.XXXXXX)
pids=
cleanup() {
	tmux kill-server 2>/dev/null
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	hbx_detach_all "$hbx"
	hbx_forget_peers "$hbx" hbxta hbxtb
	for ns in hbxta hbxtb; do ip netns del $ns 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT

# json_last FILE: the last line of FILE (one JSON object per line).
json_last() { tail -n 1 "$1"; }

# tracer OUT ERR ARGS...: hbx ARGS in the background until it says it is
# tracing; its pid in $tracer_pid.
tracer() {
	local out=$1 err=$2
	shift 2
	"$@" > "$out" 2> "$err" &
	tracer_pid=$!
	pids="$pids $tracer_pid"
	hbx_wait_until "$(hbx_scaled 30)" grep -q "tracing hyperbox" "$err"
}
# stop_tracer: Ctrl-C, and wait for it to print its last interval.
stop_tracer() {
	kill -INT "$tracer_pid"
	wait "$tracer_pid"
}

tap_begin

# --- format: the tracefs format files against kmod/TRACEPOINTS.md.
python3 - kmod/TRACEPOINTS.md $tracing/events/hyperbox > "$work/format.log" 2>&1 <<'PY'
import os, re, sys
doc, events = sys.argv[1], sys.argv[2]
want, event = {}, None
for line in open(doc):
    m = re.match(r'### (hbx_\w+)', line)
    if m:
        event = m.group(1)
        want[event] = []
        continue
    m = re.match(r'\| (\w+) \| ([\w\[\] ]+) \| ', line)
    if event and m and m.group(1) != 'field':
        want[event].append((m.group(1), m.group(2).strip()))
have = sorted(e for e in os.listdir(events) if os.path.isdir(os.path.join(events, e)))
bad = 0
if have != sorted(want):
    print("events: tracefs has", have, "the doc has", sorted(want))
    bad += 1
for e in sorted(want):
    got = []
    fmt = open(os.path.join(events, e, 'format')).read()
    for m in re.finditer(r'field:([^;]+);\s*offset:\d+;\s*size:(\d+);', fmt):
        decl = m.group(1).strip()
        d = re.match(r'(.*?)\s*(\w+)(\[\d+\])?$', decl)
        name, typ = d.group(2), d.group(1) + (d.group(3) or '')
        if name.startswith('common_'):
            continue
        got.append((name, typ.replace(' [', '[')))
    if got != want[e]:
        print(e, "format:", got, "doc:", want[e])
        bad += 1
    else:
        print(e, "ok:", len(got), "fields")
sys.exit(bad)
PY
tap_result $? "format.every_event_carries_exactly_the_documented_fields"
sed 's/^/# /' "$work/format.log" | grep -v ' ok: '

# --- counts: N chunks read from a cold device, K of them twice.
mkdir "$work/src"
head -c 2097152 /dev/urandom > "$work/src/blob"
$hbx layer build "$work/src" -o "$work/good.erofs" > /dev/null
chunk=65536
N=8 K=3
l=$($hbx layer add "$work/good.erofs" --verify once -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
tracer "$work/counts.json" "$work/counts.err" $hbx trace -j --layer "$l" -i 600
tap_result $? "counts.hbx_trace_starts"
for i in $(seq 0 $((N - 1))) $(seq 0 $((K - 1))); do
	dd if=/dev/hbx$l of=/dev/null bs=$chunk skip=$((i * 2)) count=1 iflag=direct 2> /dev/null
done
stop_tracer
tap_result $? "counts.ctrl_c_ends_it_cleanly"
json_last "$work/counts.json" | python3 -c '
import json, sys
n, k, chunk, layer = map(int, sys.argv[1:5])
v = json.load(sys.stdin)
l = [x for x in v["layers"] if x["layer"] == layer]
assert len(l) == 1, "layer %d not in %s" % (layer, v["layers"])
l, h = l[0], v["histograms"]
want = {"reads": n + k, "read-bytes": (n + k) * chunk, "read-errors": 0,
        "hits": k, "misses": n, "verified": n, "verify-failed": 0,
        "verify-bytes": n * chunk}
got = {key: l[key] for key in want}
assert got == want, "got %s, want %s" % (got, want)
assert abs(l["hit-ratio"] - k / (n + k)) < 1e-3, l["hit-ratio"]
assert h["read"]["count"] == n + k and sum(s["count"] for s in h["read"]["slots"]) == n + k, h["read"]
assert h["verify"]["count"] == n and sum(s["count"] for s in h["verify"]["slots"]) == n, h["verify"]
assert all(s["low-ns"] <= s["high-ns"] for s in h["read"]["slots"])
assert v["bpf"]["run-count"] >= 2 * n + k, v["bpf"]
assert v["events-lost"] == 0
print("# reads %d (%d hits), %d verified, BPF %d runs, %.0f ns per run" % (
    l["reads"], l["hits"], l["verified"], v["bpf"]["run-count"], v["bpf"]["ns-per-run"]))
' $N $K $chunk "$l"
tap_result $? "counts.exact_reads_hits_misses_verifications_bytes_and_histograms"
$hbx layer del "$l"

# The same in text: libbpf-tools style histograms, and the cost line.
l=$($hbx layer add "$work/good.erofs" --verify once -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
tracer "$work/text.out" "$work/text.err" $hbx trace -i 600
dd if=/dev/hbx$l of=/dev/null bs=$chunk count=4 iflag=direct 2> /dev/null
stop_tracer
grep -q "read latency: 4 events" "$work/text.out" &&
	grep -qE '^ +[0-9]+ -> [0-9]+ +: [0-9]+ +\|\*+ *\|$' "$work/text.out" &&
	grep -qE "^layer $l +read .* 4 reqs" "$work/text.out" &&
	grep -qE "^tracing cost: [0-9]+ BPF runs, [0-9]+ ns, [0-9]+ ns per event; 0 events lost" "$work/text.out"
tap_result $? "counts.text_histograms_rates_and_cost"
$hbx layer del "$l"

# -c COUNT intervals of -i SECS, then it ends by itself.
timeout 30 $hbx trace -j -i 0.3 -c 3 > "$work/c3.json" 2> /dev/null &&
	test "$(wc -l < "$work/c3.json")" -eq 3 &&
	python3 -c 'import json, sys; [json.loads(x) for x in open(sys.argv[1])]' "$work/c3.json"
tap_result $? "counts.c_3_prints_three_json_intervals"

# --- corrupt: one flipped byte in the blob's first chunk.
python3 - "$work/src/blob" "$work/good.erofs" "$work/bad.erofs" > "$work/badchunk" <<'PY'
import sys
blob, img = open(sys.argv[1], 'rb').read(), bytearray(open(sys.argv[2], 'rb').read())
at = img.find(blob[:4096])
img[at + 100] ^= 1
open(sys.argv[3], 'wb').write(img)
print((at + 100) // 65536)
PY
bad_chunk=$(cat "$work/badchunk")
tracer "$work/ev.json" "$work/ev.err" $hbx trace events -j
ev_pid=$tracer_pid
tracer "$work/fail.out" "$work/fail.err" $hbx trace -i 600
l=$($hbx layer add "$work/bad.erofs" --manifest "$work/good.manifest" -j |
	sed -n 's/.*"index":\([0-9]*\).*/\1/p')
! dd if=/dev/hbx$l of=/dev/null bs=1M iflag=direct 2> /dev/null
tap_result $? "corrupt.reading_the_layer_fails"
sleep 0.5
stop_tracer
tracer_pid=$ev_pid
stop_tracer
grep "FAILED" "$work/fail.out" | sed 's/^/# /'
grep -qE "FAILED verify: layer $l chunk $bad_chunk does not match its manifest" "$work/fail.out"
tap_result $? "corrupt.hbx_trace_prints_the_failure_line"
python3 -c '
import json, sys
layer, chunk = int(sys.argv[2]), int(sys.argv[3])
ev = [json.loads(x) for x in open(sys.argv[1])]
bad = [e for e in ev if e["event"] == "chunk-verify" and not e["ok"]]
assert bad and all(e["layer"] == layer and e["chunk"] == chunk for e in bad), bad
assert any(e["event"] == "read" and e["err"] == -5 for e in ev), "no failed read"
assert any(e["event"] == "layer-add" and e["layer"] == layer for e in ev), "no layer-add"
s = ev[-1]
assert s["event"] == "summary" and s["events-lost"] == 0 and s["events"] == len(ev) - 1, s
' "$work/ev.json" "$l" "$bad_chunk"
tap_result $? "corrupt.trace_events_j_has_the_failure_with_layer_and_chunk"
$hbx layer del "$l"

# --- remote: A serves honestly and lies; B fetches from both.
modprobe -q tls veth 2>/dev/null
hbx_veth hbxta 10.81.0.1/24 hbxtb 10.81.0.2/24
tap_result $? "remote.two_nodes"
ta() { ip netns exec hbxta "$@"; }
tb() { ip netns exec hbxtb "$@"; }
digest=$($hbx layer build "$work/src" -o "$work/layer.erofs")
seed=$($hbx layer add "$work/layer.erofs" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
ta $hbx layer export "$seed"
ta $hbx serve --listen 10.81.0.1:7461 --insecure > "$work/serve.log" 2>&1 &
pids="$pids $!"
ta "$liar" 10.81.0.1:7462 "$work/layer.erofs" "$work/layer.manifest" > "$work/liar.log" 2>&1 &
pids="$pids $!"
hbx_wait_listening "$work/serve.log" &&
	hbx_wait_listening "$work/liar.log" &&
	pl=$(tb $hbx peer connect 10.81.0.1:7462 --insecure --timeout-ms 5000) &&
	pa=$(tb $hbx peer connect 10.81.0.1:7461 --insecure --timeout-ms 5000)
tap_result $? "remote.b_connects_to_the_liar_and_the_honest_peer"
# ip netns exec execs: the pids are hbx's own.
tracer "$work/rev.json" "$work/rev.err" ip netns exec hbxtb $hbx trace events -j --peer "$pl"
rev_pid=$tracer_pid
tracer "$work/remote.json" "$work/remote.err" ip netns exec hbxtb $hbx trace -j -i 600
b=$(tb $hbx layer add --remote "$pl,$pa" --digest "$digest" --cache "$work/b.cache" -j |
	sed -n 's/.*"index":\([0-9]*\).*/\1/p')
tb dd if=/dev/hbx$b of="$work/b.read" bs=1M 2> /dev/null && cmp -s "$work/layer.erofs" "$work/b.read"
tap_result $? "remote.reader_gets_the_right_bytes"
stop_tracer
tracer_pid=$rev_pid
stop_tracer
python3 -c '
import json, sys
v = json.loads(open(sys.argv[1]).read().splitlines()[-1])
liar, honest, layer = map(int, sys.argv[2:5])
p = {x["peer"]: x for x in v["peers"]}
assert liar in p and honest in p, p.keys()
l, h = p[liar], p[honest]
print("# liar: %s; honest: %s" % (l["results"], h["results"]))
assert l["results"]["corrupt"] >= 1 and l["results"]["ok"] == 0, l
assert h["results"]["ok"] >= 1 and h["results"]["corrupt"] == 0, h
assert h["fetch-bytes"] > 0 and l["fetch-bytes"] == 0
assert h["fetch-latency"]["count"] == h["fetches-done"]
lay = [x for x in v["layers"] if x["layer"] == layer][0]
assert lay["fetches-ok"] == h["results"]["ok"] and lay["fetch-bytes"] == h["fetch-bytes"], lay
assert v["histograms"]["fetch"]["count"] == l["fetches-done"] + h["fetches-done"]
' "$work/remote.json" "$pl" "$pa" "$b"
tap_result $? "remote.fetches_per_peer_corrupt_on_the_liar_ok_on_the_honest"
python3 -c '
import json, sys
ev = [json.loads(x) for x in open(sys.argv[1])]
liar = int(sys.argv[2])
done = [e for e in ev if e["event"] == "fetch-done"]
assert done and all(e["peer"] == liar for e in ev if "peer" in e), "filter"
assert all(e["result"] == "corrupt" and e["err"] == -74 for e in done), done[:3]
sent = [e for e in ev if e["event"] == "fetch-send"]
assert len(sent) == len(done), (len(sent), len(done))
' "$work/rev.json" "$pl"
tap_result $? "remote.trace_events_peer_shows_the_liars_corrupt_answers"
# A serves in verify always (the default) from its device's page cache, by
# reference: every chunk it answered went out without a copy.
python3 -c '
import json, sys
v = json.loads(open(sys.argv[1]).read().splitlines()[-1])
lay = [x for x in v["layers"] if x["layer"] == int(sys.argv[2])]
assert lay, "the served layer is not in the trace"
print("# served %d, zero-copy %d" % (lay[0]["served"], lay[0]["served-zero-copy"]))
assert lay[0]["served"] > 0 and lay[0]["served-zero-copy"] == lay[0]["served"], lay[0]
' "$work/remote.json" "$seed"
tap_result $? "remote.verify_always_serves_from_the_device_cache_without_a_copy"
# Failover: each chunk the liar spoiled came from the honest peer next.
tb $hbx layer del "$b"
tracer "$work/fo.json" "$work/fo.err" ip netns exec hbxtb $hbx trace events -j
b=$(tb $hbx layer add --remote "$pl,$pa" --digest "$digest" --cache "$work/b2.cache" -j |
	sed -n 's/.*"index":\([0-9]*\).*/\1/p')
tb dd if=/dev/hbx$b of=/dev/null bs=64k count=4 iflag=direct 2> /dev/null
stop_tracer
python3 -c '
import json, sys
ev = [json.loads(x) for x in open(sys.argv[1])]
liar, honest = int(sys.argv[2]), int(sys.argv[3])
done = [e for e in ev if e["event"] == "fetch-done"]
spoiled = [e["chunk"] for e in done if e["peer"] == liar]
assert spoiled, "the liar was never asked"
for c in spoiled:
    after = [e for e in done if e["chunk"] == c and e["time-ns"] > min(
        x["time-ns"] for x in done if x["chunk"] == c and x["peer"] == liar)]
    assert any(e["peer"] == honest and e["result"] == "ok" for e in after), c
print("# failover for chunks", spoiled)
' "$work/fo.json" "$pl" "$pa"
tap_result $? "remote.failover_to_the_honest_peer_is_visible"
tb $hbx layer del "$b"
# Nothing of this section may keep the module busy (see bad.module_*).
for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=
$hbx layer del "$seed"
hbx_forget_peers "$hbx" hbxta hbxtb

# --- top in a real terminal (tmux): rows, PSI, updates, q.
l=$($hbx layer add "$work/good.erofs" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
mkdir -p /sys/fs/cgroup/hbxtop 2>/dev/null
export TERM=xterm
tmux new-session -d -s top -x 80 -y 24 "$hbx top -d 0.5 --cgroup /sys/fs/cgroup/hbxtop; echo TOP-EXITED \$?; sleep 60"
tap_result $? "top.starts_in_tmux_80x24"
screen() { tmux capture-pane -p -t top; }
has() { screen | grep -qE "$1"; }
# Its BPF programs load first: slow on the debug kernel, like the tracer's.
hbx_wait_until "$(hbx_scaled 30)" has "^hbx$l "
tap_result $? "top.layer_row_appears"
has "^PSI host +some cpu +[0-9.]+% mem +[0-9.]+% io +[0-9.]+%" &&
	has "^PSI cgroup +some cpu"
tap_result $? "top.psi_lines_for_the_host_and_the_cgroup"
screen > "$work/top1"
sed 's/^/# | /' "$work/top1"
tap_check "top.fits_80x24" sh -c "test \$(awk '{ if (length > m) m = length } END { print m }' '$work/top1') -le 80"
# Reads go on while we look: a rate is the last interval's, and looking
# (tmux, awk) may take longer than an interval under emulation.
(for _ in $(seq 100); do
	dd if=/dev/hbx$l of=/dev/null bs=64k count=16 iflag=direct 2> /dev/null
	sleep 0.1
done) &
reader=$!
reads() { screen | awk -v d="hbx$l" '$1 == d && $2 + 0 > 0 { f = 1 } END { exit !f }'; }
hbx_wait_until "$(hbx_scaled 20)" reads
tap_result $? "top.layer_row_updates_with_reads"
kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
c1=$(screen | head -n 1)
sleep 1.2
c2=$(screen | head -n 1)
tap_check "top.the_clock_updates" test "$c1" != "$c2"
tmux send-keys -t top q
hbx_wait_until "$(hbx_scaled 10)" has "TOP-EXITED 0"
tap_result $? "top.q_quits_with_status_0"
# The alternate screen is gone: the shell's screen is back, the cursor shown.
! has "^PSI host" && ! has "^hbx$l "
tap_result $? "top.the_terminal_is_restored"
tmux kill-session -t top
$hbx top -j -d 0.3 > "$work/top.json" && python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert any(x["index"] == int(sys.argv[2]) for x in v["layers"]), v["layers"]
assert "some" in v["psi"]["cpu"] and "avg10" in v["psi"]["io"]["full"], v["psi"]
assert v["bpf"]["run-count"] >= 0
' "$work/top.json" "$l"
tap_result $? "top.j_prints_one_json_snapshot"
$hbx top -b -n 2 -d 0.3 > "$work/topb.out" &&
	test "$(grep -c '^hbx top - ' "$work/topb.out")" -eq 2 &&
	test "$(grep -c "^hbx$l " "$work/topb.out")" -eq 2 &&
	! grep -q "$(printf '\033')" "$work/topb.out"
tap_result $? "top.b_n_2_prints_two_plain_frames"
rmdir /sys/fs/cgroup/hbxtop 2>/dev/null
$hbx layer del "$l"

# --- otlp: each interval's metrics reach a receiver that checks them.
port=4318
python3 "$receiver" serve $port "$work/otlp.log" > "$work/recv.err" 2>&1 &
recv=$!
pids="$pids $recv"
hbx_wait_until "$(hbx_scaled 10)" python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()"
l=$($hbx layer add "$work/good.erofs" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
(while sleep 0.2; do dd if=/dev/hbx$l of=/dev/null bs=64k count=2 iflag=direct 2>/dev/null; done) &
reader=$!
pids="$pids $reader"
timeout 60 $hbx trace -j -i 0.5 -c 3 --otlp "http://127.0.0.1:$port" \
	--otlp-file "$work/otlp.jsonl" > "$work/otlp.out" 2> "$work/otlp.err"
tap_result $? "otlp.trace_with_otlp_runs"
cat "$work/otlp.log" | sed 's/^/# receiver: /'
test "$(grep -c '^ok ' "$work/otlp.log")" -eq 3 && ! grep -q '^bad' "$work/otlp.log"
tap_result $? "otlp.receiver_gets_one_well_formed_request_per_interval"
python3 "$receiver" check "$work/otlp.jsonl" > /dev/null &&
	test "$(wc -l < "$work/otlp.jsonl")" -eq 3
tap_result $? "otlp.otlp_file_has_the_same_json_lines"
kill "$recv"
wait "$recv" 2>/dev/null
timeout 60 $hbx trace -j -i 0.3 -c 3 --otlp "http://127.0.0.1:$port" > "$work/down.out" 2> "$work/down.err"
rc=$?
sed 's/^/# /' "$work/down.err"
test $rc -eq 0 && test "$(wc -l < "$work/down.out")" -eq 3 &&
	test "$(grep -c 'OTLP export to http://127.0.0.1:4318 failed (Connection refused); tracing goes on' "$work/down.err")" -eq 1 &&
	json_last "$work/down.out" | grep -q '"otlp-failures":3'
tap_result $? "otlp.receiver_down_tracing_goes_on_says_so_once_and_counts"
kill "$reader"
wait "$reader" 2>/dev/null
$hbx layer del "$l"

# --- bad input: a sentence each, a non-zero exit.
# bad NAME STATUS PATTERN CMD...: CMD exits STATUS and says PATTERN.
bad() {
	local name=$1 want=$2 pattern=$3 rc
	shift 3
	"$@" > "$work/bad.out" 2> "$work/bad.err"
	rc=$?
	if [ $rc -eq "$want" ] && grep -qE "$pattern" "$work/bad.err" &&
	   [ "$(wc -l < "$work/bad.err")" -le 2 ]; then
		tap_result 0 "bad.$name"
	else
		echo "# $name: exit $rc, stderr: $(cat "$work/bad.err")"
		tap_result 1 "bad.$name"
	fi
}
bad unknown_layer 1 "^hbx: trace: no layer 200 is attached" $hbx trace --layer 200 -c 1
bad unknown_peer 1 "^hbx: trace: no peer 4000 in this network namespace" $hbx trace --peer 4000 -c 1
bad bad_layer 2 "^hbx: trace: --layer 'x' is not a number" $hbx trace --layer x
bad bad_peer 2 "^hbx: trace events: --peer '-1' is negative" $hbx trace events --peer -1
bad zero_interval 2 "^hbx: trace: --interval '0' is out of range" $hbx trace -i 0
bad word_interval 2 "^hbx: trace: --interval 'soon' is not a number" $hbx trace -i soon
bad zero_count 2 "^hbx: trace: --count '0' is out of range" $hbx trace -c 0
bad negative_count 2 "^hbx: trace: --count '-3' is negative" $hbx trace -c -3
bad https_otlp 2 "^hbx: trace: bad OTLP URL 'https://c:4318'" $hbx trace --otlp https://c:4318
bad top_zero_n 2 "^hbx: top: --iterations '0' is out of range" $hbx top -b -n 0
bad top_bad_delay 2 "^hbx: top: --delay 'x' is not a number" $hbx top -b -d x
bad top_no_cgroup 2 "^hbx: top: no cgroup /sys/fs/cgroup/nonesuch" $hbx top -b --cgroup nonesuch
bad top_not_a_tty 2 "^hbx: top: standard output is not a terminal: use -b" $hbx top
bad not_root 1 "^hbx: trace: not allowed to load BPF programs: run as root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups $hbx trace -c 1
bad top_not_root 1 "^hbx: top: not allowed to load BPF programs: run as root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups $hbx top -b -n 1
# An older module: its events are not in tracefs (hidden in a mount namespace).
bad old_module 1 "^hbx: trace: the loaded hyperbox module has no tracepoints .* older than this hbx" \
	unshare -m sh -c "mount -t tmpfs none $tracing/events && exec $hbx trace -c 1"
bad old_module_one_event 1 "^hbx: trace: the loaded hyperbox module has no hbx_pull_finish tracepoint" \
	unshare -m sh -c "mount -t tmpfs none $tracing/events/hyperbox/hbx_pull_finish && exec $hbx trace -c 1"
# No kernel BTF: the programs need none (classic tracepoints, no CO-RE relocations).
unshare -m sh -c "mount -t tmpfs none /sys/kernel/btf && exec $hbx trace -j -i 0.2 -c 1" > "$work/nobtf.json" 2>&1
tap_result $? "bad.no_btf_is_no_problem"
# The module not loaded: only when nothing else uses it, and the file it
# was loaded from is found again (by its srcversion) to load it back.
ko=
for f in build/*/src/kmod/hyperbox.ko build/hbxtrace/*/kmod/hyperbox.ko; do
	case $(modinfo -F vermagic "$f" 2>/dev/null) in "$(uname -r) "*) ;; *) continue ;; esac
	[ -f "$f" ] && [ "$(modinfo -F srcversion "$f" 2>/dev/null)" = "$(cat /sys/module/hyperbox/srcversion)" ] &&
		ko=$f
done
if [ -n "$ko" ] && [ -z "$($hbx layer list -j | grep -o index)" ] &&
   [ -z "$($hbx peer list -j | grep -o '"id"')" ] && rmmod hyperbox 2>/dev/null; then
	bad module_not_loaded 1 "^hbx: trace: the hyperbox module is not loaded" $hbx trace -c 1
	bad top_module_not_loaded 1 "^hbx: top: the hyperbox module is not loaded" $hbx top -j
	insmod "$ko"
	tap_result $? "bad.module_loads_again"
else
	echo "ok $((tap_n + 1)) # SKIP bad.module_not_loaded: the module is in use"
	tap_n=$((tap_n + 1))
fi
tap_end
