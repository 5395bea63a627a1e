#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The secure serving path end to end: certificates from hbx cert, hbx serve
# doing the mutual-TLS handshake and handing kTLS sockets to hyperbox.ko, the
# kernel serving an exported layer's verified chunks, and every refusal
# (another CA, a revoked certificate, plaintext) stopping before the kernel.
# Runs inside the VM with hyperbox.ko loaded.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
fetch=$PWD/tests/stoq_fetch
work=$(mktemp -d /tmp/hbx-serve.XXXXXX)
servers=
cleanup() {
	for p in $servers; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	hbx_forget_peers "$hbx"
	[ -n "${index:-}" ] && $hbx layer del "$index" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

tap_begin
modprobe tls 2>/dev/null

# --- a cluster CA, a server and a client; and a rogue CA of the same name
ok=0
$hbx cert init --dir "$work/ca" --name test-cluster > /dev/null || ok=1
$hbx cert issue server --san dns:server,ip:127.0.0.1 --dir "$work/ca" --out "$work/server" > /dev/null || ok=1
$hbx cert issue client --dir "$work/ca" --out "$work/client" > /dev/null || ok=1
$hbx cert init --dir "$work/rogue" --name test-cluster > /dev/null || ok=1
$hbx cert issue client --dir "$work/rogue" --out "$work/rogue-client" > /dev/null || ok=1
tap_result $ok "serve.certificates_from_hbx_cert"

# --- an exported layer
mkdir -p "$work/src"
head -c 1048576 /dev/urandom > "$work/src/blob"
cp -a /usr/share/zoneinfo/Europe "$work/src/" 2>/dev/null
digest=$($hbx layer build "$work/src" -o "$work/layer.erofs")
index=$($hbx layer add "$work/layer.erofs" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
$hbx layer export "$index"
tap_result $? "serve.layer_exported"

start_server() {	# start_server PORT ARGS...: waits until it listens
	local port=$1 log=$work/serve-$1.log
	shift
	$hbx serve --listen "127.0.0.1:$port" "$@" > "$log" 2>&1 &
	servers="$servers $!"
	hbx_wait_listening "$log"
}
tls=(--ca "$work/ca/ca.crt")
start_server 7411 --cert "$work/server.crt" --key "$work/server.key" \
	"${tls[@]}" --crl "$work/ca/ca.crl"
tap_result $? "serve.listens"

client() {	# client CERT-PREFIX OUT: fetch the layer through the server
	$fetch 127.0.0.1:7411 --digest "$digest" -o "$2" "${tls[@]}" \
		--cert "$1.crt" --key "$1.key" --name server
}
client "$work/client" "$work/fetched" > "$work/fetch.out" 2>&1
tap_result $? "serve.fetch_over_ktls_succeeds"
cmp -s "$work/layer.erofs" "$work/fetched"
tap_result $? "serve.fetched_bytes_are_the_image"
grep -q "peer [0-9]*: 127.0.0.1:[0-9]* client sha256:[0-9a-f]\{64\}" "$work/serve-7411.log"
tap_result $? "serve.logs_the_peer_name_and_identity"
$hbx peer list -j > "$work/peers.json"
python3 - "$work/peers.json" <<'EOF'
import json, sys
peers = json.load(open(sys.argv[1]))
assert len(peers) == 1, peers
p = peers[0]
assert p["name"] == "client" and p["identity"].startswith("sha256:"), p
assert p["role"] == "server" and not p["insecure"] and p["requests"] > 2, p
EOF
tap_result $? "serve.peer_list_shows_the_handed_in_socket"
peers_before=$($hbx peer list -j | grep -o '"id"' | wc -l)

# --- refusals never reach the kernel
! client "$work/rogue-client" "$work/x" > /dev/null 2>&1
tap_result $? "refuse.client_of_another_ca_is_refused"
sleep 0.5
grep -q "not signed by the cluster CA" "$work/serve-7411.log"
tap_result $? "refuse.the_server_says_why"

python3 - <<'EOF'
import socket
s = socket.create_connection(("127.0.0.1", 7411))
s.sendall(b"hello, plaintext\n")
s.settimeout(10)
try:
    s.recv(100)
except OSError:
    pass
EOF
sleep 0.5
grep -q "does not speak TLS" "$work/serve-7411.log"
tap_result $? "refuse.plaintext_client_is_refused"

$hbx cert revoke client --dir "$work/ca" > /dev/null
! client "$work/client" "$work/x" > /dev/null 2>&1
tap_result $? "refuse.revoked_client_is_refused"
sleep 0.5
grep -q "revoked" "$work/serve-7411.log"
tap_result $? "refuse.the_server_names_the_revocation"
tap_check "refuse.nothing_reached_the_kernel" \
	test "$($hbx peer list -j | grep -o '"id"' | wc -l)" = "$peers_before"

# --- plaintext only when asked for, and shown
start_server 7412 --insecure
$fetch 127.0.0.1:7412 --digest "$digest" -o "$work/plain" --insecure > /dev/null 2>&1 &&
	cmp -s "$work/layer.erofs" "$work/plain"
tap_result $? "insecure.plaintext_server_serves_when_asked"
$hbx peer list -j | grep -q '"insecure":true'
tap_result $? "insecure.peer_list_shows_it"

# --- an unexported layer is not served
$hbx layer export "$index" --off
! $fetch 127.0.0.1:7412 --digest "$digest" -o "$work/y" --insecure > "$work/unexp" 2>&1 &&
	grep -q "unknown layer" "$work/unexp"
tap_result $? "export.unexported_layer_is_refused"

tap_end
