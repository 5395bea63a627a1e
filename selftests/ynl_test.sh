#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The spec is the contract: the kernel's own ynl CLI (tools/net/ynl from
# linux-source-6.12, extracted by `make ynl` into build/ynl) reads
# kmod/hyperbox.yaml, talks to the module, and what it decodes agrees with
# hbx -j: get-info, a layer-get dump, a peer-get dump; an invalid request
# brings back the kernel's extack message.  Runs inside the VM with
# hyperbox.ko loaded.
set -u
cd "$(dirname "$0")/.." || exit 1
. selftests/lib.sh
hbx=$PWD/tools/hbx/hbx
ynldir=$PWD/build/ynl
py=/usr/bin/python3
spec=$PWD/kmod/hyperbox.yaml

tap_begin
if [ ! -e "$ynldir/tools/net/ynl/cli.py" ] || ! $py -c 'import yaml, jsonschema' 2>/dev/null; then
	echo "ok 1 ynl.cli # SKIP no build/ynl (make ynl) or no python3-yaml/jsonschema"
	echo "1..1"
	exit 0
fi
proto=$(sed -n 's/^protocol: *//p' "$spec")
ynl() {
	$py "$ynldir/tools/net/ynl/cli.py" --spec "$spec" \
		--schema "$ynldir/Documentation/netlink/$proto.yaml" --output-json "$@"
}

work=$(mktemp -d /tmp/hbx-ynl.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	hbx_detach_all "$hbx"
	hbx_forget_peers "$hbx"
	rm -rf "$work"
}
trap cleanup EXIT

# agree KIND YNL_JSON HBX_JSON: every key both sides have holds the same
# value, once ynl's raw forms (hex bytes, flag sets, present flags) are put
# the way hbx prints them; at least one object, and the same objects.
agree() {
	$py - "$spec" "$@" <<'PY'
import json, sys, yaml
spec, kind = yaml.safe_load(open(sys.argv[1])), sys.argv[2]
y, h = json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
y = y if isinstance(y, list) else [y]
h = h if isinstance(h, list) else [h]
flags = {d["name"]: [e["name"] if isinstance(e, dict) else e for e in d["entries"]]
         for d in spec["definitions"] if d["type"] == "flags"}
def norm(k, v, hv):
    if isinstance(v, list) and k == "features":
        return sum(1 << flags["feature"].index(n) for n in v)
    if isinstance(hv, bool):
        return bool(v)
    if isinstance(hv, str) and hv.startswith("sha256:") and isinstance(v, str):
        return "sha256:" + v
    return v
key = "index" if kind == "layer" else "id" if kind == "peer" else None
if key:
    y = sorted(y, key=lambda o: o[key]); h = sorted(h, key=lambda o: o[key])
bad, same = [], 0
if len(y) != len(h) or not y:
    bad.append(f"{len(y)} objects from ynl, {len(h)} from hbx")
for yo, ho in zip(y, h):
    for k, yv in yo.items():
        if k not in ho or isinstance(ho[k], (dict, list)):
            continue
        if norm(k, yv, ho[k]) != ho[k]:
            bad.append(f"{k}: ynl {yv!r}, hbx {ho[k]!r}")
        else:
            same += 1
for b in bad:
    print("#", kind, b)
print(f"# {kind}: {same} values agree")
sys.exit(1 if bad or same < 3 else 0)
PY
}

ynl --list-ops > "$work/ops" 2>&1
tap_result $? "ynl.cli_accepts_the_spec"
for op in get-info layer-get peer-get; do
	grep -q "^$op " "$work/ops"
	tap_result $? "ynl.spec_has_$op"
done

ynl --do get-info > "$work/info.ynl" && $hbx info -j > "$work/info.hbx"
tap_result $? "ynl.get_info_answers"
agree info "$work/info.ynl" "$work/info.hbx"
tap_result $? "ynl.get_info_agrees_with_hbx_info"

# Two layers, one exported, and a pair of peers over loopback (plaintext:
# the dumps are what this test is about, not TLS).
mkdir -p "$work/src" && head -c 300000 /dev/urandom > "$work/src/blob"
$hbx layer build "$work/src" -o "$work/a.erofs" --chunk-size 64K > /dev/null &&
	a=$($hbx layer add "$work/a.erofs" -j | sed -n 's/.*"index":\([0-9]*\).*/\1/p') &&
	$hbx layer add "$work/a.erofs" > /dev/null && $hbx layer export "$a" &&
	head -c 70000 "/dev/hbx$a" > /dev/null
tap_result $? "ynl.two_layers_attached"
# peers_up N: at least N peers (the server's side shows up after its handshake)
peers_up() { [ "$($hbx peer list -j | grep -o '"id"' | wc -l)" -ge "$1" ]; }
$hbx serve --listen 127.0.0.1:7431 --insecure > "$work/serve.log" 2>&1 &
pids="$pids $!"
hbx_wait_listening "$work/serve.log" &&
	$hbx peer connect 127.0.0.1:7431 --insecure --connections 2 > /dev/null &&
	hbx_wait_until "$(hbx_scaled 10)" peers_up 2
tap_result $? "ynl.two_peers_up"

ynl --dump layer-get > "$work/layers.ynl" && $hbx layer list -j > "$work/layers.hbx"
tap_result $? "ynl.layer_get_dump_answers"
agree layer "$work/layers.ynl" "$work/layers.hbx"
tap_result $? "ynl.layer_get_dump_agrees_with_hbx_layer_list"

ynl --dump peer-get > "$work/peers.ynl" && $hbx peer list -j > "$work/peers.hbx"
tap_result $? "ynl.peer_get_dump_answers"
agree peer "$work/peers.ynl" "$work/peers.hbx"
tap_result $? "ynl.peer_get_dump_agrees_with_hbx_peer_list"

# Invalid requests: the kernel's sentence comes back through ynl.
ynl --do layer-get --json '{"index": 255}' > "$work/err1" 2>&1
rc=$?
cat "$work/err1" | sed 's/^/# /'
[ $rc -ne 0 ] && grep -q "no layer with that index" "$work/err1"
tap_result $? "ynl.unknown_layer_gets_the_extack_message"
ynl --do peer-get --json '{}' > "$work/err2" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "peer id is required" "$work/err2"
tap_result $? "ynl.missing_attribute_gets_the_extack_message"
ynl --do layer-get --json '{"index": 300}' > "$work/err3" 2>&1
rc=$?
sed 's/^/# /' "$work/err3"
[ $rc -ne 0 ] && grep -qi "bad-attr\|out of range\|range" "$work/err3"
tap_result $? "ynl.policy_rejects_an_index_out_of_range_with_extack"

tap_end
