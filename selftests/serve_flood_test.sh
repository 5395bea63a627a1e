#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# hbx serve against connections that never speak (issue 11, defects 11 and
# 12): they do not lock real peers out, each source address gets a bounded
# number of handshakes, revocation is checked without --crl, and --no-crl
# is said in the log.  Runs inside the VM with hyperbox.ko loaded.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
work=$(mktemp -d /tmp/hbx-flood.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	hbx_forget_peers "$hbx"
	rm -rf "$work"
}
trap cleanup EXIT

tap_begin
modprobe tls 2>/dev/null

$hbx cert init --dir "$work/ca" --name flood-cluster > /dev/null &&
	$hbx cert issue server --san dns:server,ip:127.0.0.1 --dir "$work/ca" \
		--out "$work/server" > /dev/null &&
	$hbx cert issue client --dir "$work/ca" --out "$work/client" > /dev/null &&
	$hbx cert issue gone --dir "$work/ca" --out "$work/gone" > /dev/null
tap_result $? "flood.certificates_from_hbx_cert"

start_server() {	# start_server PORT ARGS...: waits until it listens
	local port=$1 log=$work/serve-$1.log
	shift
	$hbx serve --listen "127.0.0.1:$port" "$@" > "$log" 2>&1 &
	pids="$pids $!"
	hbx_wait_listening "$log"
}
server=(--cert "$work/server.crt" --key "$work/server.key" --ca "$work/ca/ca.crt")
start_server 7451 "${server[@]}" --per-source 3
tap_result $? "flood.serve_listens"

# Connections that never speak: 3 from 127.0.0.2, 5 from 127.0.0.3 (2 over
# --per-source), held open until killed.
python3 - "$work/idle-ready" <<'EOF' &
import socket, sys, time
held = []
for src, n in (("127.0.0.2", 3), ("127.0.0.3", 5)):
    for _ in range(n):
        s = socket.socket()
        s.bind((src, 0))
        s.connect(("127.0.0.1", 7451))
        held.append(s)
open(sys.argv[1], "w").write("ready\n")
time.sleep(120)
EOF
pids="$pids $!"
for _ in $(seq 100); do [ -s "$work/idle-ready" ] && break; sleep 0.1; done
sleep 1	# let hbx serve accept them all

peer_connect() {	# peer_connect CERT-PREFIX: prints the peer id
	timeout 60 $hbx peer connect 127.0.0.1:7451 --cert "$1.crt" --key "$1.key" \
		--ca "$work/ca/ca.crt" --name server --timeout-ms 5000
}
t0=$(date +%s%N)
peer_connect "$work/client" > "$work/connect.out" 2> "$work/connect.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# a real peer behind 8 idle connections: rc $rc after $ms ms"
sed 's/^/# /' "$work/connect.err"
tap_result $rc "flood.real_peer_connects_past_idle_connections"
tap_check "flood.real_peer_is_not_kept_waiting" test "$rc" -eq 0 -a "$ms" -lt 8000
test "$(grep -c '127\.0\.0\.3:[0-9]*: refused: 3 handshakes from its address are in progress' \
	"$work/serve-7451.log")" -eq 2
tap_result $? "flood.per_source_limit_refuses_the_excess"
! grep -q '127\.0\.0\.2:[0-9]*: refused' "$work/serve-7451.log"
tap_result $? "flood.other_sources_are_not_refused"

# --- revocation: the CA directory's CRL without --crl
grep -q "revocation: $work/ca/ca.crl" "$work/serve-7451.log"
tap_result $? "revocation.serve_says_which_crl_it_checks"
$hbx cert revoke gone --dir "$work/ca" > /dev/null
! peer_connect "$work/gone" > /dev/null 2> "$work/gone.err"
tap_result $? "revocation.revoked_peer_is_refused_without_--crl"
sleep 0.5
grep -q "peer certificate was revoked (gone" "$work/serve-7451.log"
tap_result $? "revocation.the_server_names_the_revocation"
start_server 7452 "${server[@]}" --no-crl &&
	grep -q "revocation checks are OFF (--no-crl)" "$work/serve-7452.log"
tap_result $? "revocation.no_crl_is_said_in_the_log"
sed 's/^/# serve: /' "$work/serve-7451.log"
tap_end
