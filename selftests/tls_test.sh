#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The secure transport's userspace half (user/tls.c): a mutually
# authenticated TLS 1.2 handshake with mbedTLS, then kTLS on the same socket
# for both directions, driven through tests/tls_pair.  Each cipher carries
# 150000 bytes each way through plain read()/write() (kTLS between our two
# ends, and against OpenSSL through python3's ssl in both roles); every bad
# certificate, a wrong name, a plaintext peer, a peer without a certificate,
# a cipher mismatch and a silent peer are refused with a sentence that names
# the reason.  Runs inside the VM (kTLS needs the tls module); needs openssl
# and python3.  HBX_TLS_PAIR overrides the helper's path.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
pair=${HBX_TLS_PAIR:-$PWD/tests/tls_pair}

tap_begin
skip_all() {
	echo "ok 1 # SKIP $*"
	echo "1..1"
	exit 0
}
[ -x "$pair" ] || skip_all "$pair is not built (make tests/tls_pair)"
command -v openssl >/dev/null || skip_all "no openssl to make certificates"
command -v python3 >/dev/null || skip_all "no python3"
# Only the VM gets its modules loaded and its sysctls changed.
[ -n "${HBX_VM:-}" ] && hbx_vm_prepare
grep -q '^tls ' /proc/modules 2>/dev/null || modprobe -q tls 2>/dev/null ||
	[ -d /sys/module/tls ] || skip_all "kTLS is not available (modprobe tls)"

work=$(mktemp -d /tmp/hbx-tls.XXXXXX)
cleanup() {
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
t0=$(date +%s)

# --- certificates: a cluster CA, good nodes, and one of each kind of bad ---
mkdir -p "$work/ca/new"
: > "$work/ca/index.txt"
echo 1000 > "$work/ca/serial"
echo 1000 > "$work/ca/crlnumber"
cat > "$work/ca/ca.cnf" <<EOF
[ ca ]
default_ca = hbx
[ hbx ]
dir = $work/ca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_days = 30
default_crl_days = 30
policy = any
unique_subject = no
[ any ]
commonName = supplied
[ node ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = \${ENV::SAN}
[ caext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
EOF
# Few openssl runs: under TCG each costs most of a second.
newca() {	# newca DIR: a self-signed CA, always with the same name
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$work/$1/ca.key" -out "$work/$1/ca.pem" -days 3650 \
		-subj "/CN=HyperBox test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
request() {	# request NAME: an EC P-256 key and a CSR for CN=NAME
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$work/$1.key" -subj "/CN=$1" -out "$work/$1.csr" 2>/dev/null
}
issue() {	# issue CADIR NAME KEY [openssl ca options]: $work/NAME.{pem,key}
	local cadir=$1 name=$2 key=$3
	shift 3
	[ "$key" = "$name" ] || cp "$work/$key.key" "$work/$name.key"
	SAN="DNS:$key,IP:127.0.0.1" openssl ca -batch -notext \
		-config "$work/$cadir/ca.cnf" -extensions node \
		-in "$work/$key.csr" -out "$work/$name.pem" "$@" 2>"$work/$name.err"
}
certs() {
	newca ca && request node1 && request node2 &&
	issue ca node1 node1 &&
	issue ca node2 node2 &&
	issue ca expired node2 -startdate 20200101000000Z -enddate 20200102000000Z &&
	issue ca future node2 -startdate 20990101000000Z -enddate 20991231000000Z &&
	issue ca revoked node2 &&
	SAN=DNS:none openssl ca -batch -config "$work/ca/ca.cnf" -revoke "$work/revoked.pem" 2>/dev/null &&
	SAN=DNS:none openssl ca -batch -config "$work/ca/ca.cnf" -gencrl -out "$work/crl.pem" 2>/dev/null &&
	cp "$work/ca/ca.pem" "$work/ca.pem" &&
	# A rogue CA with the very same name: only the signature tells them apart.
	mkdir -p "$work/rogue/new" && : > "$work/rogue/index.txt" &&
	echo 1000 > "$work/rogue/serial" &&
	sed "s|$work/ca|$work/rogue|" "$work/ca/ca.cnf" > "$work/rogue/ca.cnf" &&
	newca rogue &&
	issue rogue rogue1 node1 &&
	issue rogue rogue2 node2 &&
	echo 1000 > "$work/rogue/crlnumber" &&
	SAN=DNS:none openssl ca -batch -config "$work/rogue/ca.cnf" -gencrl -out "$work/rogue-crl.pem" 2>/dev/null &&
	# A CA that expired in 2020, and a certificate from it valid today.
	mkdir -p "$work/old/new" && : > "$work/old/index.txt" &&
	echo 1000 > "$work/old/serial" &&
	sed "s|$work/ca|$work/old|" "$work/ca/ca.cnf" > "$work/old/ca.cnf" &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$work/old/ca.key" -subj "/CN=HyperBox old CA" \
		-out "$work/old-ca.csr" 2>/dev/null &&
	SAN=DNS:none openssl ca -batch -notext -selfsign -config "$work/old/ca.cnf" \
		-keyfile "$work/old/ca.key" -extensions caext -in "$work/old-ca.csr" \
		-out "$work/old/ca.pem" -startdate 20200101000000Z \
		-enddate 20200102000000Z 2>"$work/old-ca.err" &&
	issue old oldnode1 node1
}
certs
tap_result $? "certs.generated_with_openssl"
echo "# certificates: $(( $(date +%s) - t0 )) s"

ca=(--ca "$work/ca.pem" --crl "$work/crl.pem")
as() {	# as NAME: our certificate options
	echo --cert "$work/$1.pem" --key "$work/$1.key"
}
spki_id() {	# the identity hbx_tls reports for NAME's key
	echo "sha256:$(openssl pkey -in "$work/$1.key" -pubout -outform DER |
		sha256sum | cut -d' ' -f1)"
}

# serve TAG ARGS...: one tls_pair server in the background on a free port.
serve() {
	local tag=$1 i
	shift
	rm -f "$work/ready"
	timeout 60 "$pair" server 0 --ready "$work/ready" "$@" \
		> "$work/$tag.server" 2>&1 &
	spid=$!
	for i in $(seq 200); do
		[ -s "$work/ready" ] && break
		sleep 0.05
	done
	port=$(cat "$work/ready" 2>/dev/null)
}
# client TAG ARGS...: tls_pair client against it; then wait for the server.
client() {
	local tag=$1
	shift
	timeout 60 "$pair" client "127.0.0.1:$port" "$@" > "$work/$tag.client" 2>&1
	crc=$?
	wait "$spid"
	src=$?
	sed "s/^/# $tag: /" "$work/$tag.server" "$work/$tag.client"
}
has() {	# has FILE TEXT: FILE contains TEXT (fixed string)
	grep -qF -- "$2" "$1" || { echo "# no '$2' in $(basename "$1")"; return 1; }
}
stat_of() {
	awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat 2>/dev/null
}

id1=$(spki_id node1)
id2=$(spki_id node2)
dec0=$(stat_of TlsDecryptError)

# --- the good path: each cipher, kTLS on both ends -------------------------
for c in aes128 aes256 chacha; do
	# A server given a name checks the client's too.
	serve "$c" "${ca[@]}" $(as node1) --cipher "$c" --name node2
	client "$c" "${ca[@]}" $(as node2) --name node1 --cipher "$c"
	tap_check "tls.$c.150000_bytes_each_way_through_ktls" \
		test "$crc" -eq 0 -a "$src" -eq 0
	has "$work/$c.client" "150000 bytes each way, echo matches"
	tap_result $? "tls.$c.client_checks_the_reversed_echo"
	has "$work/$c.client" "ktls tx $c seq 1, rx $c seq 1" &&
		has "$work/$c.server" "ktls tx $c seq 1, rx $c seq 1"
	tap_result $? "tls.$c.ktls_installed_both_ways_from_record_1"
	has "$work/$c.client" "peer node1 $id1" &&
		has "$work/$c.server" "peer node2 $id2"
	tap_result $? "tls.$c.peers_named_by_cn_and_public_key_digest"
done
test "$(stat_of TlsDecryptError)" = "$dec0"
tap_result $? "tls.no_kernel_decrypt_errors"

# --- against OpenSSL (python3's ssl) in both roles --------------------------
cat > "$work/peer.py" <<'EOF'
import os, socket, ssl, struct, sys
role, cipher, ca, cert, key, arg = sys.argv[1:7]
suites = {"aes128": "ECDHE-ECDSA-AES128-GCM-SHA256",
          "aes256": "ECDHE-ECDSA-AES256-GCM-SHA384",
          "chacha": "ECDHE-ECDSA-CHACHA20-POLY1305"}
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if role == "server"
                     else ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers(suites[cipher])
ctx.load_verify_locations(ca)
ctx.verify_mode = ssl.CERT_REQUIRED
if cert != "-":
    ctx.load_cert_chain(cert, key)

def recvn(s, n):
    b = bytearray()
    while len(b) < n:
        d = s.recv(min(n - len(b), 65536))
        if not d:
            sys.exit("python: short read")
        b += d
    return bytes(b)

if role == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    with open(arg + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(arg + ".tmp", arg)
    s = ctx.wrap_socket(ls.accept()[0], server_side=True)
    n = struct.unpack(">Q", recvn(s, 8))[0]
    s.sendall(recvn(s, n)[::-1])
    print("python server: echoed %d bytes with %s" % (n, s.cipher()[0]))
else:
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(arg))),
                            server_hostname="node1")
    except (ssl.SSLError, OSError) as e:
        sys.exit("python client: %s" % e)
    data = os.urandom(150000)
    s.sendall(struct.pack(">Q", len(data)) + data)
    ok = recvn(s, len(data)) == data[::-1]
    print("python client: %s with %s" % ("echo matches" if ok else "ECHO DIFFERS",
                                         s.cipher()[0]))
    sys.exit(0 if ok else 1)
s.close()
EOF
for c in aes128 aes256 chacha; do
	rm -f "$work/ready"
	timeout 60 python3 "$work/peer.py" server "$c" "$work/ca.pem" \
		"$work/node1.pem" "$work/node1.key" "$work/ready" \
		> "$work/py-$c.server" 2>&1 &
	spid=$!
	for i in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
	port=$(cat "$work/ready" 2>/dev/null)
	client "py-$c" "${ca[@]}" $(as node2) --name node1 --cipher "$c"
	tap_check "openssl.$c.our_ktls_client_and_an_openssl_server" \
		test "$crc" -eq 0 -a "$src" -eq 0

	serve "py-$c" "${ca[@]}" $(as node1) --cipher "$c"
	timeout 60 python3 "$work/peer.py" client "$c" "$work/ca.pem" \
		"$work/node2.pem" "$work/node2.key" "$port" > "$work/py-$c.client" 2>&1
	crc=$?
	wait "$spid"
	src=$?
	sed "s/^/# py-$c: /" "$work/py-$c.server" "$work/py-$c.client"
	tap_check "openssl.$c.an_openssl_client_and_our_ktls_server" \
		test "$crc" -eq 0 -a "$src" -eq 0
done
echo "# good paths: $(( $(date +%s) - t0 )) s"

# --- refusals: expect CASE SIDE TEXT, after serve + client -----------------
expect() {	# expect NAME FILE TEXT: the run failed and FILE says TEXT
	local name=$1 file=$2 text=$3
	[ "$crc" -ne 0 ] && [ "$src" -ne 0 ] && has "$file" "$text"
	tap_result $? "$name"
}

for bad in expired future revoked rogue2; do
	serve "client-$bad" "${ca[@]}" $(as node1)
	client "client-$bad" "${ca[@]}" $(as "$bad") --name node1
	case $bad in
	expired) server_says="peer certificate has expired"
		 client_says="peer rejected our certificate: it has expired" ;;
	future)  server_says="peer certificate is not yet valid"
		 client_says="peer rejected our certificate: not yet valid" ;;
	revoked) server_says="peer certificate was revoked"
		 client_says="peer rejected our certificate: it was revoked" ;;
	rogue2)  server_says="peer certificate is not signed by the cluster CA"
		 client_says="peer rejected our certificate: it is not signed by the peer's CA" ;;
	esac
	expect "refuse.$bad.client_certificate:server_says_why" \
		"$work/client-$bad.server" "tls_pair: server: $server_says"
	expect "refuse.$bad.client_certificate:client_hears_why" \
		"$work/client-$bad.client" "tls_pair: client: $client_says"
done

for bad in expired rogue1; do
	serve "server-$bad" "${ca[@]}" $(as "$bad")
	client "server-$bad" "${ca[@]}" $(as node2) --name "$([ "$bad" = rogue1 ] && echo node1 || echo node2)"
	case $bad in
	expired) client_says="peer certificate has expired (node2, valid until 2020-01-02 00:00 UTC)" ;;
	rogue1)  client_says="peer certificate is not signed by the cluster CA" ;;
	esac
	expect "refuse.$bad.server_certificate:client_says_why" \
		"$work/server-$bad.client" "tls_pair: client: $client_says"
done

serve name "${ca[@]}" $(as node1)
client name "${ca[@]}" $(as node2) --name node9
expect "refuse.wrong_name:client_says_why" "$work/name.client" \
	"tls_pair: client: peer name does not match (wanted node9, certificate is for node1)"

# Both ends trust a CA that has expired: the client, first to verify, says
# it is the CA, not the peer's certificate.
serve old-ca --ca "$work/old/ca.pem" --no-crl $(as oldnode1)
client old-ca --ca "$work/old/ca.pem" --no-crl $(as oldnode1) --name node1
expect "refuse.expired_ca:client_says_why" "$work/old-ca.client" \
	"tls_pair: client: the cluster CA certificate (HyperBox old CA) has expired"

# A CRL that claims to be the CA's but is not signed by it.
serve bad-crl --ca "$work/ca.pem" --crl "$work/rogue-crl.pem" $(as node1)
client bad-crl "${ca[@]}" $(as node2) --name node1
expect "refuse.crl_not_from_the_ca:server_says_why" "$work/bad-crl.server" \
	"tls_pair: server: our revocation list $work/rogue-crl.pem is not validly signed by the cluster CA"

# A server without the CRL lets the revoked certificate in: the CRL is what
# refused it above.
serve client-name "${ca[@]}" $(as node1) --name node7
client client-name "${ca[@]}" $(as node2) --name node1
expect "refuse.wrong_client_name:server_says_why" "$work/client-name.server" \
	"tls_pair: server: peer name does not match (wanted node7, certificate is for node2)"

serve nocrl --ca "$work/ca.pem" --no-crl $(as node1)
client nocrl --ca "$work/ca.pem" --no-crl $(as revoked) --name node1
tap_check "refuse.revoked_only_with_the_crl" test "$crc" -eq 0 -a "$src" -eq 0

# Without --crl the CRL next to the CA certificate is required: there is
# none next to $work/ca.pem, so the server refuses to run the handshake.
serve crl-required --ca "$work/ca.pem" $(as node1)
client crl-required --ca "$work/ca.pem" --no-crl $(as node2) --name node1
expect "refuse.no_crl_without_no_crl:server_says_why" "$work/crl-required.server" \
	"tls_pair: server: there is no revocation list next to the CA certificate"

serve cipher "${ca[@]}" $(as node1) --cipher aes256
client cipher "${ca[@]}" $(as node2) --name node1 --cipher chacha
expect "refuse.cipher_mismatch:server_says_why" "$work/cipher.server" \
	"tls_pair: server: peer offers none of our cipher suites"
expect "refuse.cipher_mismatch:client_hears_why" "$work/cipher.client" \
	"tls_pair: client: peer refused the handshake"

# Plaintext: bash's /dev/tcp.
serve plain "${ca[@]}" $(as node1)
(exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'hello\n' >&3 && sleep 1) 2>/dev/null
crc=1
wait "$spid"
src=$?
sed "s/^/# plain: /" "$work/plain.server"
expect "refuse.plaintext_client:server_says_why" "$work/plain.server" \
	'tls_pair: server: peer does not speak TLS (plaintext? it sent "hello")'

# A TLS client without a certificate: OpenSSL through python3.
serve nocert "${ca[@]}" $(as node1)
timeout 60 python3 "$work/peer.py" client aes256 "$work/ca.pem" - - "$port" \
	> "$work/nocert.client" 2>&1
crc=$?
wait "$spid"
src=$?
sed "s/^/# nocert: /" "$work/nocert.server" "$work/nocert.client"
expect "refuse.client_without_certificate:server_says_why" \
	"$work/nocert.server" "tls_pair: server: peer sent no certificate"

# Silent peers: a client that connects and says nothing, a server that
# accepts and says nothing.
serve silent "${ca[@]}" $(as node1) --timeout 1500
(exec 3<>"/dev/tcp/127.0.0.1/$port" && sleep 4) 2>/dev/null &
wait "$spid"
src=$?
crc=1
sed "s/^/# silent: /" "$work/silent.server"
expect "refuse.silent_client:server_times_out" "$work/silent.server" \
	"tls_pair: server: handshake timed out"
cat > "$work/silent.py" <<'EOF'
import os, socket, sys, time
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % ls.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
c = ls.accept()[0]
time.sleep(4)
EOF
rm -f "$work/ready"
python3 "$work/silent.py" "$work/ready" > "$work/silent2.server" 2>&1 &
spid=$!
for i in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
port=$(cat "$work/ready")
client silent2 "${ca[@]}" $(as node2) --name node1 --timeout 1500
src=1
expect "refuse.silent_server:client_times_out" "$work/silent2.client" \
	"tls_pair: client: handshake timed out"

test "$(stat_of TlsDecryptError)" = "$dec0"
tap_result $? "tls.still_no_kernel_decrypt_errors"

# Without the tls module (and with autoloading off) both ends say so before
# the handshake.  Only in the VM: it unloads a module.
modprobe_path=$(cat /proc/sys/kernel/modprobe 2>/dev/null)
if [ -n "${HBX_VM:-}" ] && sleep 1 && rmmod tls 2>/dev/null; then
	echo /bin/false > /proc/sys/kernel/modprobe
	serve noktls "${ca[@]}" $(as node1)
	client noktls "${ca[@]}" $(as node2) --name node1
	echo "$modprobe_path" > /proc/sys/kernel/modprobe
	modprobe tls
	expect "refuse.no_ktls:client_says_why" "$work/noktls.client" \
		"tls_pair: client: kTLS is not available in this kernel (modprobe tls)"
	expect "refuse.no_ktls:server_says_why" "$work/noktls.server" \
		"tls_pair: server: kTLS is not available in this kernel (modprobe tls)"
else
	echo "ok $((tap_n += 1)) refuse.no_ktls # SKIP cannot unload tls here"
fi
echo "# $(( $(date +%s) - t0 )) s"
tap_end
