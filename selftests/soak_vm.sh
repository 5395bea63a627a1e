#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The soak, inside the VM (make soak: tools/soak.sh boots the VM and runs
# this).  Not named *_test.sh: run_vm.sh, and so CI, does not run it.
#
# Three nodes, each a network namespace of this kernel, joined by veth pairs:
# A (10.79.0.1) - B (10.79.0.2 | 10.79.1.2) - C (10.79.1.3).  A seeds a layer
# of 8-32 MiB of random data (hbx layer build) and serves it over kTLS; B
# pulls it from A with --prefetch and re-serves it; C reads it from B and A.
# Every client peer is hbx peer connect --persist --timeout-ms 3000.  Then,
# for MINUTES, a seeded RNG churns:
#   attach       a remote layer on B (exported, so C can fetch from it) or C,
#                with a fresh cache or a used one (resume), with or without
#                --prefetch; its peer list honest peers plus, at times, a
#                liar (tests/stoq_liar: corrupt chunks) and a silent one
#                (stoq_liar --mode stall), in random order
#   detach       hbx layer del (refused while open: counted as such)
#   force        hbx layer del --force while readers are in the middle of it
#   kill         A's or B's hbx serve killed (TERM or KILL), at times with
#                every connection it had handed to the kernel deleted too,
#                so the clients' --persist reconnects; restarted seconds later
#   slow         tc netem delay, jitter and loss (or 100% loss) on one end of
#                a veth for seconds, then removed
#   export       B stops exporting a layer, or starts (fetch or not-here)
# while readers read random ranges of every /dev/hbxN (direct and buffered)
# and compare each byte with the image: a read returns the right bytes or
# fails with EIO, nothing else.  A watchdog flags any read in flight for
# longer than its bound (read_limit below), and every control command is
# bounded.  Then: a fresh attach on C pulls the whole layer right, every
# layer is detached, every peer deleted, hyperbox.ko unloads and the
# unreclaimable slab is back within a margin of where it started.  Prints TAP; action lines start with
# "# | " (tools/soak.sh keeps them in the log, off the terminal).
#
#   usage: soak_vm.sh HYPERBOX.KO [MINUTES]
# HBX_SOAK_SEED=N replays a run's decisions (timing still varies);
# HBX_SOAK_BIN: the directory holding hbx and stoq_liar (default: the tree's).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ko=${1:?usage: soak_vm.sh HYPERBOX.KO [MINUTES]}
minutes=${2:-10}

# The watchdog's bound on one read of a remote layer.  Every peer connect
# says --timeout-ms 3000: T = 3 s.  A chunk's fetch asks the layer's peers in
# turn and gives up once T has passed, but fetch.c looks at that deadline
# only between rounds over the peers, and each peer in the round under way
# still gets its whole T: one fetch can take T + P x T, with P <= 4 peers on
# a layer here (C: B, A, the liar, the silent one), 15 s.  A read is at most
# 64 KiB, so one request (at most a chunk's 64 KiB) spans at most two chunks,
# verified one after the other: 2 x 15 = 30 s.  That is "T plus several fetch
# rounds"; longer is a wait without a bound (a lost wakeup, a stuck lock),
# which is what this is here to catch.  Reads of A's local layer must not
# wait on any network at all: 10 s (emulation on two shared CPUs).  The
# summary gives the longest read of each kind and how many took over 2T.
read_limit=30
local_read_limit=10
# Unreclaimable slab after the run, against before the module was loaded.
# Not all of the difference is ours: the kernel keeps the worker threads a
# loaded run made (idle kworkers live 5 minutes: task_struct, sighand, ...)
# and 9p's inodes; 2-minute runs ended about 2.2 MiB up with nothing of ours
# left.  A leak per request, chunk or connection shows up far above 4 MiB in a
# long run (the figures below name the caches that grew).
slab_margin_kb=4096

work=$(mktemp -d /tmp/hbx-soak.XXXXXX)
mkdir -p "$work/bin"
if [ -n "${HBX_SOAK_BIN:-}" ]; then
	cp "$HBX_SOAK_BIN/hbx" "$HBX_SOAK_BIN/stoq_liar" "$work/bin/"
else
	cp "$here/../tools/hbx/hbx" "$here/../tests/stoq_liar" "$work/bin/"
fi || exit 1
hbx=$work/bin/hbx

cleanup() {
	hbx_detach_all "$hbx"
	hbx_forget_peers "$hbx" soaka soakb soakc
	for ns in soaka soakb soakc; do ip netns del $ns 2>/dev/null; done
	rmmod hyperbox 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

sunreclaim() { awk '/^SUnreclaim:/ { print $2 }' /proc/meminfo; }
# slab_bytes: bytes per slab cache (active objects x object size).
slab_bytes() { awk 'NR > 2 { print $1, $2 * $4 }' /proc/slabinfo | sort -k1,1; }
settle() { sync; echo 3 > /proc/sys/vm/drop_caches; sleep "$1"; }

tap_begin
hbx_vm_prepare
modprobe -q sch_netem 2>/dev/null

seed=${HBX_SOAK_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# seed $seed (replay: HBX_SOAK_SEED=$seed make soak MINUTES=$minutes)"

# --- the layer: 8-32 MiB of random data, drawn from the seed.
mkdir -p "$work/src"
python3 - "$seed" "$work/src" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
mib = r.randint(8, 32)
open(sys.argv[2] + "/blob", "wb").write(r.randbytes(mib << 20))
open(sys.argv[2] + "/small", "wb").write(r.randbytes(r.randint(1, 65536)))
print("# the layer holds %d MiB of random data" % mib)
PY
digest=$("$hbx" layer build "$work/src" -o "$work/layer.erofs") && test -n "$digest"
tap_result $? "soak.layer_built"
echo "# layer $digest, image $(stat -c %s "$work/layer.erofs") bytes"

# --- before anything of ours is in the kernel.
settle 2
slab_before=$(sunreclaim)
tasks_before=$(ls -d /proc/[0-9]* | wc -l)
slab_bytes > "$work/slab.before"

insmod "$ko"
tap_result $? "soak.module_loads"

hbx_veth soaka 10.79.0.1/24 soakb 10.79.0.2/24 &&
	hbx_veth soakb 10.79.1.2/24 soakc 10.79.1.3/24 &&
	ip netns exec soakb sysctl -qw net.ipv4.ip_forward=1 &&
	ip -n soaka route add 10.79.1.0/24 via 10.79.0.2 &&
	ip -n soakc route add 10.79.0.0/24 via 10.79.1.2
tap_result $? "soak.three_nodes_a_b_c"

"$hbx" cert init --dir "$work/ca" --name soak-cluster > /dev/null &&
	"$hbx" cert issue node-a --san dns:node-a,ip:10.79.0.1 --dir "$work/ca" --out "$work/a" > /dev/null &&
	"$hbx" cert issue node-b --san dns:node-b,ip:10.79.0.2,ip:10.79.1.2 --dir "$work/ca" --out "$work/b" > /dev/null &&
	"$hbx" cert issue node-c --san dns:node-c,ip:10.79.1.3 --dir "$work/ca" --out "$work/c" > /dev/null
tap_result $? "soak.certificates"

cat > "$work/config.json" <<EOF
{"work": "$work", "hbx": "$hbx", "liar": "$work/bin/stoq_liar", "seed": $seed,
 "minutes": $minutes, "digest": "$digest", "read_limit": $read_limit,
 "local_read_limit": $local_read_limit}
EOF

# --- the churn, the readers and the watchdog; results in $work/results.
python3 - "$work/config.json" <<'PY'
import atexit, errno, json, mmap, os, random, select, signal, subprocess, sys, threading, time
from collections import Counter

cfg = json.load(open(sys.argv[1]))
W, HBX, LIAR = cfg["work"], cfg["hbx"], cfg["liar"]
SEED, MINUTES, DIGEST = cfg["seed"], cfg["minutes"], cfg["digest"]
READ_LIMIT = cfg["read_limit"]
LOCAL_READ_LIMIT = cfg["local_read_limit"]
CA = W + "/ca/ca.crt"
TIMEOUT_MS = 3000
CTL_LIMIT = 30		# any one hbx, ip or tc command
FORCE_DEL_LIMIT = 10	# hbx layer del --force under I/O (hostile_test: 5 s)
MAX_LAYERS = {"b": 3, "c": 3}
N_READERS = 4
MAX_READ = 16 * 4096	# one chunk: a request spans at most two
IMAGE = open(W + "/layer.erofs", "rb").read()
SIZE = len(IMAGE)
NS = {"a": "soaka", "b": "soakb", "c": "soakc"}
SERVE_ADDR = {"a": "10.79.0.1", "b": "10.79.1.2"}
LIAR_ADDR, STALL_ADDR = "10.79.0.1:7439", "10.79.0.1:7440"
# One end of each veth: (node, interface).
LINKS = [("a", "vsoakb"), ("b", "vsoaka"), ("b", "vsoakc"), ("c", "vsoakb")]
T0 = time.monotonic()

lock = threading.Lock()
actions = Counter()
reads = Counter()
failures = []
longest = {}		# what -> (seconds, detail)
results = []
durations = Counter()	# read time buckets
BUCKETS = [0.1, 0.5, 1, 3, 6, 10, 15, 30]

def now():
    return time.monotonic() - T0

def log(msg):
    print("# | %7.1fs %s" % (now(), msg), flush=True)

def note(msg):
    print("# " + msg, flush=True)

def fail(kind, detail):
    with lock:
        failures.append((kind, detail))
    print("# FAIL %s: %s" % (kind, detail), flush=True)

def keep_longest(what, secs, detail=""):
    with lock:
        if secs > longest.get(what, (0, ""))[0]:
            longest[what] = (secs, detail)

def result(ok, name, comment=""):
    results.append((0 if ok else 1, name))
    if comment:
        note(name + ": " + comment)

def stack(pid, tid=None):
    path = "/proc/%d/task/%d/stack" % (pid, tid) if tid else "/proc/%d/stack" % pid
    try:
        return " <- ".join(l.split()[-1] for l in open(path).read().splitlines()[:12])
    except OSError as e:
        return "(%s)" % e.strerror

def on(node, *args):
    return ["ip", "netns", "exec", NS[node]] + [str(a) for a in args]

def run(cmd, what, limit=CTL_LIMIT):
    """Run a command, bounded: (status or None if it hung, stdout, stderr)."""
    cmd = [str(c) for c in cmd]
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        try:
            out, err = p.communicate(timeout=min(5, limit))
        except subprocess.TimeoutExpired:
            log("slow: %s still runs after 5 s; stack: %s" % (" ".join(cmd[-6:]), stack(p.pid)))
            out, err = p.communicate(timeout=max(limit - 5, 1))
    except subprocess.TimeoutExpired:
        st = stack(p.pid)
        p.kill()
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            out, err = "", "(unkillable)"
        fail("command_hang", "%s: more than %d s (%s); stack: %s" % (" ".join(cmd), limit, err.strip(), st))
        return None, out, err
    keep_longest("cmd " + what, time.monotonic() - t, " ".join(cmd[-6:]))
    return p.returncode, out, err

def hbx_json(node, *args):
    rc, out, err = run(on(node, HBX, *args, "-j") if node else [HBX] + list(args) + ["-j"], "list")
    try:
        return json.loads(out) if rc == 0 else []
    except ValueError:
        return []

# --- processes: servers, liars and persistent peers -------------------------

class Server:
    def __init__(self, node):
        self.node, self.proc = node, None
        self.log = "%s/serve-%s.log" % (W, node)

    def start(self):
        for _ in range(5):
            mark = os.path.getsize(self.log) if os.path.exists(self.log) else 0
            lf = open(self.log, "a")
            self.proc = subprocess.Popen(
                on(self.node, HBX, "serve", "--listen", SERVE_ADDR[self.node] + ":7431",
                   "--cert", "%s/%s.crt" % (W, self.node), "--key", "%s/%s.key" % (W, self.node),
                   "--ca", CA), stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT)
            lf.close()
            end = time.monotonic() + 15
            while time.monotonic() < end and self.proc.poll() is None:
                with open(self.log) as f:
                    f.seek(mark)
                    if "serving on" in f.read():
                        return True
                time.sleep(0.1)
            self.stop()
            time.sleep(1)
        return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                fail("serve_stop", "hbx serve on %s ignored SIGKILL for 10 s" % self.node)
                self.proc.kill()
        self.proc = None

class Liar:
    def __init__(self, mode, addr):
        self.log = "%s/liar-%s.log" % (W, mode)
        with open(self.log, "w") as lf:
            self.proc = subprocess.Popen(on("a", LIAR, "--mode", mode, addr, W + "/layer.erofs",
                                            W + "/layer.manifest"),
                                         stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while time.monotonic() < end and "lying on" not in open(self.log).read():
            time.sleep(0.1)

class Peer:
    """hbx peer connect --persist in NODE, in the background: its id."""
    def __init__(self, node, label, target, name=None, conns=2):
        cmd = on(node, HBX, "peer", "connect", target, "--timeout-ms", TIMEOUT_MS,
                 "--connections", conns, "--persist")
        if name:
            cmd += ["--cert", "%s/%s.crt" % (W, node), "--key", "%s/%s.key" % (W, node),
                    "--ca", CA, "--name", name]
        else:
            cmd += ["--insecure"]
        self.node, self.label, self.id = node, label, None
        self.errlog = "%s/peer-%s-%s.log" % (W, node, label)
        with open(self.errlog, "w") as ef:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=ef, text=True)
        if select.select([self.proc.stdout], [], [], 30)[0]:
            line = self.proc.stdout.readline().strip()
            if line.isdigit():
                self.id = int(line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

# --- readers and the watchdog -------------------------------------------------

class Layer:
    def __init__(self, idx, node, peers, cache, prefetch):
        self.idx, self.node, self.peers, self.cache = idx, node, peers, cache
        self.prefetch, self.exported = prefetch, False
        self.dev = "/dev/hbx%d" % idx

attached = {}		# index -> Layer (B's and C's remote layers)
seed_dev = None		# A's local layer
slots = []		# one per reader: [start, dev, off, len, tid, flagged]

def read_loop(r, pick, stop):
    buf = mmap.mmap(-1, MAX_READ)
    slot = [None, None, 0, 0, threading.get_native_id(), None, READ_LIMIT]
    with lock:
        slots.append(slot)
    while not stop.is_set():
        dev = pick(r)
        if dev is None:
            time.sleep(0.2)
            continue
        direct = r.random() < 0.75
        try:
            fd = os.open(dev, os.O_RDONLY | (os.O_DIRECT if direct else 0))
        except OSError as e:
            with lock:
                reads["open-" + errno.errorcode.get(e.errno, str(e.errno))] += 1
            time.sleep(0.05)
            continue
        for _ in range(r.randint(1, 8)):
            if stop.is_set():
                break
            off = r.randrange(0, SIZE // 4096) * 4096
            ln = min(r.randint(1, MAX_READ // 4096) * 4096, SIZE - off)
            mv = memoryview(buf)[:ln]
            local = dev == seed_dev
            limit = LOCAL_READ_LIMIT if local else READ_LIMIT
            slot[6] = limit
            slot[1:4] = [dev, off, ln]
            t = slot[0] = time.monotonic()
            err = None
            try:
                n = os.preadv(fd, [mv], off)
            except OSError as e:
                err = e.errno
            slot[0] = None
            dt = time.monotonic() - t
            what = "%s %s off %d len %d" % ("direct" if direct else "buffered", dev, off, ln)
            keep_longest("local read" if local else "remote read", dt, what)
            with lock:
                durations[next((b for b in BUCKETS if dt < b), "more")] += 1
            if dt > 2 * TIMEOUT_MS / 1000:
                with lock:
                    reads["over 2T (%s)" % ("local" if local else "remote")] += 1
                    l = next((l for l in attached.values() if l.dev == dev), None)
                log("slow read: %s, chunks %d-%d, %.1f s, %s, from %s" %
                    (what, off >> 16, (off + ln - 1) >> 16, dt,
                     os.strerror(err) if err else "ok", ",".join(l.peers) if l else "?"))
            if dt > limit and slot[5] != t:
                fail("local_read_over_limit" if local else "read_over_limit", "%s took %.1f s" % (what, dt))
            if err is None:
                got = bytes(mv[:n])
                if got != IMAGE[off:off + n]:
                    bad = next(i for i in range(n) if got[i] != IMAGE[off + i])
                    blk = got[bad - bad % 4096:][:4096]
                    fail("wrong_bytes", "%s: %d bytes back, first wrong byte at %d%s" %
                         (what, n, off + bad, " (a block of zeros)" if not any(blk) else ""))
                    with lock:
                        reads["wrong"] += 1
                else:
                    with lock:
                        reads["ok" if n == ln else "short"] += 1
                    if n != ln:
                        log("short read: %s: %d bytes, all right" % (what, n))
                continue
            with lock:
                reads["EIO" if err == errno.EIO else errno.errorcode.get(err, str(err))] += 1
            if err != errno.EIO:
                fail("read_errno", "%s: %s" % (what, os.strerror(err)))
            break		# another device, maybe
        os.close(fd)

def pick_any(r):
    with lock:
        devs = [l.dev for l in attached.values()]
    if seed_dev and (not devs or r.random() < 0.1):
        return seed_dev
    return r.choice(devs) if devs else None

def watchdog(stop):
    while not stop.wait(0.25):
        t = time.monotonic()
        with lock:
            snap = list(slots)
        for s in snap:
            start = s[0]
            if start is not None and t - start > s[6] and s[5] != start:
                s[5] = start
                fail("local_read_over_limit" if s[1] == seed_dev else "read_over_limit", "%s off %d len %d in flight for %.1f s; stack: %s" %
                     (s[1], s[2], s[3], t - start, stack(os.getpid(), s[4])))

# --- churn actions --------------------------------------------------------------

rng = random.Random(SEED)
servers, peers, liars = {}, {}, []
pending = []		# (when, what, fn)
slowed = set()
cache_busy = set()
HONEST = {"b": ["A"], "c": ["B", "A"]}

def cache_slot(node, fresh):
    free = [k for k in range(MAX_LAYERS[node] + 2) if (node, k) not in cache_busy]
    k = rng.choice(free)
    path = "%s/cache-%s%d" % (W, node, k)
    if fresh and os.path.exists(path):
        os.unlink(path)
    return k, path

def attach(node, labels=None, prefetch=None, export=None):
    if labels is None:
        honest = HONEST[node]
        labels = rng.sample(honest, rng.randint(1, len(honest)))
        if rng.random() < 0.3:
            labels.append("liar")
        if rng.random() < 0.3:
            labels.append("stall")
        rng.shuffle(labels)
    if prefetch is None:
        prefetch = rng.random() < (0.7 if node == "b" else 0.3)
    if export is None:
        export = node == "b" and rng.random() < 0.8
    k, cache = cache_slot(node, rng.random() < 0.5)
    cmd = on(node, HBX, "layer", "add", "--remote", ",".join(str(peers[node][l].id) for l in labels),
             "--digest", DIGEST, "--cache", cache, "-j") + (["--prefetch"] if prefetch else [])
    rc, out, err = run(cmd, "layer add")
    if rc != 0:
        actions["attach_%s_failed" % node] += 1
        log("attach on %s from %s failed: %s" % (node, labels, (err or "").strip()))
        return None
    idx = json.loads(out)["index"]
    l = Layer(idx, node, labels, cache, prefetch)
    cache_busy.add((node, k))
    l.slot = (node, k)
    if export:
        rc, _, err = run(on(node, HBX, "layer", "export", idx), "layer export")
        l.exported = rc == 0
    with lock:
        attached[idx] = l
    actions["attach_" + node] += 1
    for bad in ("liar", "stall"):
        actions["attach_with_" + bad] += bad in labels
    log("attach on %s: hbx%d from %s%s%s" % (node, idx, ",".join(labels),
        " --prefetch" if prefetch else "", ", exported" if l.exported else ""))
    return l

def forget(l):
    with lock:
        attached.pop(l.idx, None)
    cache_busy.discard(l.slot)

def act_attach():
    # C, at the end of the chain, gets more of them while it has fewer.
    counts = Counter(l.node for l in attached.values())
    node = "c" if rng.random() < (0.7 if counts["c"] < counts["b"] else 0.4) else "b"
    if len([l for l in attached.values() if l.node == node]) >= MAX_LAYERS[node]:
        return False
    attach(node)
    return True

def act_detach():
    if not attached:
        return False
    l = attached[rng.choice(sorted(attached))]
    rc, _, err = run([HBX, "layer", "del", l.idx], "layer del")
    if rc == 0:
        forget(l)
        actions["detach"] += 1
        log("detach hbx%d" % l.idx)
    else:
        actions["detach_refused"] += 1
        log("detach hbx%d refused: %s" % (l.idx, (err or "").strip()))
    return True

burst = []		# readers started for force-detaches

def act_force():
    if not attached:
        return False
    l = attached[rng.choice(sorted(attached))]
    stop = threading.Event()
    for i in range(2):
        r = random.Random(rng.random())
        t = threading.Thread(target=read_loop, args=(r, lambda r, d=l.dev: d, stop), daemon=True)
        t.start()
        burst.append((t, stop))
    time.sleep(rng.uniform(0.1, 1.5))
    with lock:
        inflight = sum(1 for s in slots if s[0] is not None and s[1] == l.dev)
    t = time.monotonic()
    rc, _, err = run([HBX, "layer", "del", l.idx, "--force"], "layer del --force")
    dt = time.monotonic() - t
    stop.set()
    keep_longest("force-detach", dt, "hbx%d, %d reads in flight" % (l.idx, inflight))
    if rc == 0:
        forget(l)
        actions["force_detach"] += 1
        actions["force_detach_reads_in_flight"] += inflight
        log("force-detach hbx%d with %d reads in flight: %.2f s" % (l.idx, inflight, dt))
        if dt > FORCE_DEL_LIMIT:
            fail("force_detach_slow", "hbx%d: %.1f s" % (l.idx, dt))
    else:
        fail("force_detach", "hbx%d: %s" % (l.idx, (err or "").strip()))
    return True

def restart(node):
    ok = servers[node].start()
    actions["restart_serve_" + node] += 1
    log("restart %s's hbx serve: %s" % (node, "serving" if ok else "FAILED"))
    if not ok:
        fail("serve_restart", "%s's hbx serve did not come back" % node)

def act_kill(node):
    drop = rng.random() < 0.6
    sig = rng.choice([signal.SIGTERM, signal.SIGKILL])
    back = rng.uniform(2, 12)
    if servers[node].proc is None:
        return False
    servers[node].stop(sig)
    actions["kill_serve_" + node] += 1
    dropped = 0
    if drop:
        for p in hbx_json(node, "peer", "list"):
            if p.get("role") == "server":
                rc, _, _ = run(on(node, HBX, "peer", "del", p["id"]), "peer del")
                dropped += rc == 0
        actions["drop_connections_" + node] += 1
    log("kill %s's hbx serve (%s)%s; back in %.0f s" % (node, signal.Signals(sig).name,
        ", %d connections deleted" % dropped if drop else "", back))
    pending.append((time.monotonic() + back, "restart " + node, lambda: restart(node)))
    return True

def unslow(node, ifc):
    run(["tc", "-n", NS[node], "qdisc", "del", "dev", ifc, "root"], "tc")
    slowed.discard((node, ifc))
    actions["unslow_link"] += 1
    log("unslow %s:%s" % (node, ifc))

def act_slow():
    node, ifc = rng.choice(LINKS)
    cut = rng.random() < 0.15
    delay = rng.randint(20, 400)
    loss = rng.choice([0, 0, 1, 2, 5, 10])
    dur = rng.uniform(3, 12) if cut else rng.uniform(5, 30)
    if (node, ifc) in slowed:
        return False
    spec = ["loss", "100%"] if cut else ["delay", "%dms" % delay, "%dms" % (delay // 4), "loss", "%d%%" % loss]
    rc, _, err = run(["tc", "-n", NS[node], "qdisc", "add", "dev", ifc, "root", "netem"] + spec, "tc")
    if rc != 0:
        fail("tc", "netem on %s:%s: %s" % (node, ifc, (err or "").strip()))
        return True
    slowed.add((node, ifc))
    actions["cut_link" if cut else "slow_link"] += 1
    log("%s %s:%s (%s) for %.0f s" % ("cut" if cut else "slow", node, ifc, " ".join(spec), dur))
    pending.append((time.monotonic() + dur, "unslow", lambda: unslow(node, ifc)))
    return True

def act_export():
    bs = [l for l in attached.values() if l.node == "b"]
    mode = rng.choice(["fetch", "not-here"])
    if not bs:
        return False
    l = rng.choice(bs)
    args = ["--off"] if l.exported else ["--missing", mode]
    rc, _, err = run(on("b", HBX, "layer", "export", l.idx, *args), "layer export")
    if rc == 0:
        l.exported = not l.exported
        actions["export_on" if l.exported else "export_off"] += 1
        log("export hbx%d %s" % (l.idx, " ".join(args)))
    else:
        fail("export", "hbx%d %s: %s" % (l.idx, args, (err or "").strip()))
    return True

KINDS = [("attach", act_attach, 4), ("detach", act_detach, 1.5), ("force", act_force, 2),
         ("kill_a", lambda: act_kill("a"), 0.75),
         ("kill_b", lambda: act_kill("b"), 0.75), ("slow", act_slow, 2), ("export", act_export, 1)]

def due(everything=False):
    t = time.monotonic()
    for p in sorted(pending, key=lambda p: p[0]):
        if everything or p[0] <= t:
            pending.remove(p)
            p[2]()

def sleep(secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        due()
        time.sleep(min(0.2, max(0, end - time.monotonic())))

def stop_all():
    """Our processes end with us, whatever happens (also at an exception)."""
    for n in peers.values():
        for p in n.values():
            p.stop()
    for s in servers.values():
        s.stop()
    for x in liars:
        if x.proc.poll() is None:
            x.proc.terminate()
            x.proc.wait()
atexit.register(stop_all)

# --- setup --------------------------------------------------------------------

ok = True
for node in "ab":
    servers[node] = Server(node)
    ok &= servers[node].start()
liars = [Liar("lie", LIAR_ADDR), Liar("stall", STALL_ADDR)]
peers = {"b": {"A": Peer("b", "A", "10.79.0.1:7431", "node-a")},
         "c": {"B": Peer("c", "B", "10.79.1.2:7431", "node-b"),
               "A": Peer("c", "A", "10.79.0.1:7431", "node-a")}}
for node in "bc":
    peers[node]["liar"] = Peer(node, "liar", LIAR_ADDR, conns=1)
    peers[node]["stall"] = Peer(node, "stall", STALL_ADDR, conns=1)
ok &= all(p.id is not None for n in peers.values() for p in n.values())
rc, out, _ = run(on("a", HBX, "layer", "add", W + "/layer.erofs", "-j"), "layer add")
if rc == 0:
    seed_idx = json.loads(out)["index"]
    seed_dev = "/dev/hbx%d" % seed_idx
    ok &= run(on("a", HBX, "layer", "export", seed_idx), "layer export")[0] == 0
else:
    ok = False
result(ok, "soak.a_and_b_serve_and_every_peer_connects")
ok = (ok and attach("b", ["A"], True, True) is not None and
      attach("c", ["B", "A"], False, False) is not None)
result(ok, "soak.b_pulls_from_a_and_reserves_c_reads_from_b_and_a")

# --- churn ----------------------------------------------------------------------

stop_readers, stop_dog = threading.Event(), threading.Event()
readers = [threading.Thread(target=read_loop, args=(random.Random(SEED * 100 + i), pick_any, stop_readers),
                            daemon=True) for i in range(N_READERS)]
dog = threading.Thread(target=watchdog, args=(stop_dog,), daemon=True)
for t in readers + [dog]:
    t.start()

end = time.monotonic() + MINUTES * 60
next_report = time.monotonic() + 60
# Each kind once first, in a seeded order, then at random by weight.
order = [k for k in KINDS]
rng.shuffle(order)
while time.monotonic() < end:
    kind = order.pop() if order else rng.choices(KINDS, weights=[k[2] for k in KINDS])[0]
    pause = rng.uniform(0.5, 3)
    if not kind[1]():
        actions["skipped_" + kind[0]] += 1
    sleep(pause)
    if time.monotonic() >= next_report:
        next_report += 60
        with lock:
            note("%.0f min: reads %s; %d layers attached; failures %d" %
                 (now() / 60, dict(reads), len(attached), len(failures)))

# --- after the churn ---------------------------------------------------------------

due(everything=True)		# links back, servers back
stop_readers.set()
for t, s in burst:
    s.set()
for t in readers + [b[0] for b in burst]:
    t.join(READ_LIMIT + 15)
stuck = [t for t in readers + [b[0] for b in burst] if t.is_alive()]
with lock:
    stacks = ["%s off %d: %s" % (s[1], s[2], stack(os.getpid(), s[4])) for s in slots if s[0] is not None]
result(not stuck, "soak.every_reader_ends", "%d stuck: %s" % (len(stuck), "; ".join(stacks)) if stuck else "")
stop_dog.set()
dog.join(5)

note("seed %d, %d minutes" % (SEED, MINUTES))
note("actions: " + ", ".join("%s %d" % kv for kv in sorted(actions.items())))
note("reads: " + ", ".join("%s %d" % kv for kv in sorted(reads.items())))
note("read times: " + ", ".join("<%ss %d" % (b, durations[b]) for b in BUCKETS if durations[b]) +
     (", more %d" % durations["more"] if durations["more"] else ""))
for what, (secs, detail) in sorted(longest.items()):
    note("longest %s: %.2f s (%s)" % (what, secs, detail))
kinds = {"attach_b", "attach_c", "detach", "force_detach", "kill_serve_a", "kill_serve_b",
         "slow_link", "attach_with_liar", "attach_with_stall"}
missing = sorted(k for k in kinds if not actions[k])
result(not missing, "soak.churn_did_every_kind", "never: " + " ".join(missing) if missing else "")
result(reads["ok"] > 0, "soak.reads_happened", "%d right, %d EIO" % (reads["ok"], reads["EIO"]))
kinds_failed = Counter(k for k, _ in failures)
result(not reads["wrong"], "soak.no_read_returned_wrong_bytes")
result(not kinds_failed["read_errno"], "soak.every_failed_read_failed_with_eio")
result(not kinds_failed["read_over_limit"], "soak.no_remote_read_took_over_%d_s" % READ_LIMIT,
       "longest %.2f s, %d over 2T" % (longest.get("remote read", (0,))[0], reads["over 2T (remote)"]))
result(not kinds_failed["local_read_over_limit"], "soak.no_local_read_took_over_%d_s" % LOCAL_READ_LIMIT,
       "longest %.2f s" % longest.get("local read", (0,))[0])
result(not kinds_failed["command_hang"], "soak.no_control_command_hung")
result(not kinds_failed["force_detach"] and not kinds_failed["force_detach_slow"],
       "soak.force_detach_returns_within_%d_s" % FORCE_DEL_LIMIT)
result(not (kinds_failed["serve_restart"] + kinds_failed["serve_stop"] + kinds_failed["tc"] +
            kinds_failed["export"]), "soak.churn_commands_worked")

# Still serving: once the peers are back, a fresh attach on C pulls it all right.
def all_up():
    return all(p.get("state") == "up" for p in hbx_json("c", "peer", "list")
               if p["id"] in (peers["c"]["A"].id, peers["c"]["B"].id))
deadline = time.monotonic() + 60
while not all_up() and time.monotonic() < deadline:
    time.sleep(0.5)
ok = False
l = attach("c", ["B", "A"], False, False)
if l:
    rc, _, err = run(on("c", HBX, "layer", "pull", l.idx, "-q"), "layer pull", limit=600)
    ok = rc == 0 and open(l.cache, "rb").read() == IMAGE
    if ok:
        fd = os.open(l.dev, os.O_RDONLY)
        data = b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
        os.close(fd)
        ok = data == IMAGE
result(ok, "soak.after_the_churn_a_fresh_attach_on_c_reads_the_whole_layer_right")

# --- teardown ---------------------------------------------------------------------

for x in hbx_json(None, "layer", "list"):
    rc, _, err = run([HBX, "layer", "del", x["index"]], "layer del")
    if rc != 0:
        note("hbx%d: %s; forced" % (x["index"], (err or "").strip()))
        run([HBX, "layer", "del", x["index"], "--force"], "layer del --force")
deadline = time.monotonic() + 30
while hbx_json(None, "layer", "list") and time.monotonic() < deadline:
    time.sleep(0.5)
left = hbx_json(None, "layer", "list")
result(not left, "soak.every_layer_detached",
       "left: " + " ".join("hbx%d (%s, %d openers)" % (x["index"], x["state"], x["openers"]) for x in left)
       if left else "")
stop_all()
for node in "abc":
    for p in hbx_json(node, "peer", "list"):
        run(on(node, HBX, "peer", "del", p["id"]), "peer del")
left = sum(len(hbx_json(node, "peer", "list")) for node in "abc")
result(left == 0, "soak.every_peer_deleted", "%d left" % left if left else "")

for kind, n in sorted(kinds_failed.items()):
    note("failures of kind %s: %d" % (kind, n))
with open(W + "/results", "w") as f:
    for st, name in results:
        f.write("%d %s\n" % (st, name))
PY
rc=$?
[ -s "$work/results" ]
tap_result $? "soak.churn_ran_to_the_end"
[ -s "$work/results" ] || echo "# the churn's python ended with status $rc"
[ -s "$work/results" ] && while read -r st name; do
	tap_result "$st" "$name"
done < "$work/results"

for ns in soaka soakb soakc; do ip netns del $ns 2>/dev/null; done
rmmod hyperbox
tap_result $? "soak.module_unloads_cleanly"
! grep -q '^hyperbox ' /proc/modules
tap_result $? "soak.module_is_gone"

# Namespaces and sockets go in RCU callbacks and workqueues: give them time.
rm -f "$work"/cache-* "$work"/*.log
for _ in 1 2 3 4 5 6; do
	settle 5
	slab_after=$(sunreclaim)
	[ "$slab_after" -le $((slab_before + slab_margin_kb)) ] && break
done
echo "# unreclaimable slab: $slab_before kB before the module, $slab_after kB after ($((slab_after - slab_before)) kB, margin $slab_margin_kb kB); tasks $tasks_before before, $(ls -d /proc/[0-9]* | wc -l) after"
slab_bytes > "$work/slab.after"
join -a 2 -e 0 -o 0,1.2,2.2 "$work/slab.before" "$work/slab.after" |
	awk '{ d = $3 - $2; if (d > 0) print d, $1 }' | sort -rn | head -n 5 |
	while read -r d name; do echo "#   grew: $name $((d / 1024)) kB"; done
tap_check "soak.unreclaimable_slab_back_within_${slab_margin_kb}_kB" \
	test "$slab_after" -le $((slab_before + slab_margin_kb))

tap_end
