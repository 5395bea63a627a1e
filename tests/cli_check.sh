#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host checks of hbx's number arguments (issue 15), on the real binary: every
# bad number is refused before anything is done, with exit status 2 and one
# sentence that names the command and the option; numbers with units (sizes,
# durations) are taken.  Needs no kernel module: an accepted command goes on
# and fails later (no module: exit 1), which is not a refusal.  Prints TAP.
#   usage: tests/cli_check.sh
set -u
cd "$(dirname "$0")/.." || exit 1
hbx=$PWD/tools/hbx/hbx
work=$(mktemp -d /tmp/hbx-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT

n=0 failed=0
tap() {	# tap STATUS NAME
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; failed=$((failed + 1)); fi
}
echo "TAP version 13"
[ -x "$hbx" ] || make -s tools > "$work/make.log" 2>&1
[ -x "$hbx" ]
tap $? "cli.hbx_is_built"

# Whatever hbx does once it has taken its arguments must not matter here: a
# loaded module would make serve and connect run; timeout ends them.
run() { timeout 10 "$hbx" "$@" > "$work/out" 2> "$work/err"; }

# refused NAME REGEX ARG...: exit 2, stderr is one line matching REGEX.
refused() {
	local name=$1 re=$2 rc
	shift 2
	run "$@"
	rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -qE -- "$re" "$work/err"; then
		tap 0 "refuses.$name"
	else
		echo "# hbx $*: exit $rc, stderr:"
		sed 's/^/#   /' "$work/err"
		echo "#   wanted exit 2 and one line matching: $re"
		tap 1 "refuses.$name"
	fi
}

# The sentences of user/num.c, anchored on the whole command.
nan="is not a number: give"
range="is out of range: give"

peer=(peer connect 127.0.0.1:9 --insecure)
refused timeout_ms_abc "^hbx: peer connect: --timeout-ms 'abc' $nan a whole number from 0 to 3600000$" \
	"${peer[@]}" --timeout-ms abc
# --timeout-ms is milliseconds by its name: a unit there is refused, and the
# sentence says which option takes units.
refused timeout_ms_with_a_unit "^hbx: peer connect: --timeout-ms '5s' is not a number of milliseconds: .*, or use --timeout 5s$" \
	"${peer[@]}" --timeout-ms 5s
refused serve_timeout_ms_with_a_unit "^hbx: serve: --timeout-ms '500ms' is not a number of milliseconds: .*, or use --timeout 500ms$" \
	serve --listen :7411 --insecure --timeout-ms 500ms
refused timeout_ms_fraction "^hbx: peer connect: --timeout-ms '1.5' is not a whole number: give" \
	"${peer[@]}" --timeout-ms 1.5
refused timeout_ms_over_an_hour "^hbx: peer connect: --timeout-ms '3600001' $range" \
	"${peer[@]}" --timeout-ms 3600001
refused timeout_over_an_hour "^hbx: peer connect: --timeout '61m' $range a duration from 0s to 1h" \
	"${peer[@]}" --timeout 61m
refused timeout_unknown_unit "^hbx: peer connect: --timeout '30y' has a unit hbx does not know: give a duration" \
	"${peer[@]}" --timeout 30y
refused timeout_finer_than_a_ms "^hbx: serve: --timeout '0.0001s' is finer than a millisecond" \
	serve --listen :7411 --insecure --timeout 0.0001s
refused window_past_32_bits "^hbx: layer add: --window '4294967297' $range a whole number from 1 to 32$" \
	layer add --remote 1 --digest sha256:00 --cache "$work/c" --window 4294967297
refused pull_window_past_32_bits "^hbx: layer pull: --window '4294967297' $range" \
	layer pull 0 --window 4294967297
refused window_zero "^hbx: layer pull: --window '0' $range" layer pull 0 --window 0
refused image_pull_window_zero "^hbx: image pull: --window '0' $range" \
	image pull --remote 1 "x@sha256:$(printf '%064d' 0)" --prefetch --window 0
refused image_pull_window_without_prefetch "^hbx: image pull: --window is how many chunks --prefetch fetches at once: give --prefetch too$" \
	image pull --remote 1 "x@sha256:$(printf '%064d' 0)" --window 2
refused connections_2x "^hbx: peer connect: --connections '2x' $nan a whole number from 1 to 16$" \
	"${peer[@]}" --connections 2x
refused connections_negative "^hbx: peer connect: --connections '-1' is negative" \
	"${peer[@]}" --connections -1
refused connections_17 "^hbx: peer connect: --connections '17' $range" "${peer[@]}" --connections 17
refused connections_leading_space "^hbx: peer connect: --connections ' 2' $nan" \
	"${peer[@]}" --connections " 2"
refused connections_plus "^hbx: peer connect: --connections '\+2' $nan" "${peer[@]}" --connections +2
refused connections_hex "^hbx: peer connect: --connections '0x2' $nan" "${peer[@]}" --connections 0x2
refused max_handshakes_empty "^hbx: serve: --max-handshakes '' is empty: give" \
	serve --listen :7411 --insecure --max-handshakes ""
refused per_source_past_64_bits "^hbx: serve: --per-source '99999999999999999999' $range" \
	serve --listen :7411 --insecure --per-source 99999999999999999999
refused listen_port_word "^hbx: serve: --listen ':http': the port 'http' $nan a whole number from 0 to 65535$" \
	serve --listen :http --insecure
refused listen_port_past_16_bits "^hbx: serve: --listen ':65536': the port '65536' $range a whole number from 0 to 65535$" \
	serve --listen :65536 --insecure
refused connect_port_zero "^hbx: peer connect: '127.0.0.1:0': the port '0' $range a whole number from 1 to 65535$" \
	peer connect 127.0.0.1:0 --insecure
refused listen_without_colon "^hbx: serve: --listen '7411' is not HOST:PORT or :PORT$" \
	serve --listen 7411 --insecure
refused connect_port_trailing "^hbx: peer connect: '127.0.0.1:80x': the port '80x' $nan" \
	peer connect 127.0.0.1:80x --insecure
refused connect_needs_a_host "^hbx: peer connect: ':7411' is not HOST:PORT$" peer connect :7411 --insecure
refused peer_del_past_32_bits "^hbx: peer del: the peer id '4294967296' $range" peer del 4294967296
refused remote_list_hole "^hbx: layer add: --remote '1,,2': the peer id '' is empty" \
	layer add --remote 1,,2 --digest sha256:00 --cache "$work/c"
refused layer_del_word "^hbx: layer del: the layer 'abc' $nan .*, or /dev/hbxN" layer del abc
refused layer_export_negative "^hbx: layer export: the layer '-1' is negative" layer export -- -1
refused chunk_size_not_a_power_of_two "^hbx: layer build: --chunk-size '48K' is not a power of two" \
	layer build "$work" -o "$work/x.erofs" --chunk-size 48K
refused chunk_size_unknown_unit "^hbx: layer build: --chunk-size '64X' has a unit hbx does not know: give a size from 4K to 4M" \
	layer build "$work" -o "$work/x.erofs" --chunk-size 64X
refused chunk_size_decimal_unit "^hbx: layer build: --chunk-size '64KB' has a unit" \
	layer build "$work" -o "$work/x.erofs" --chunk-size 64KB
refused chunk_size_too_big "^hbx: layer build: --chunk-size '8M' $range" \
	layer build "$work" -o "$work/x.erofs" --chunk-size 8M
refused chunk_size_fraction "^hbx: layer build: --chunk-size '1.5M' is not a whole number" \
	layer build "$work" -o "$work/x.erofs" --chunk-size 1.5M
refused days_zero "^hbx: cert init: --days '0' $range a whole number from 1 to 36500$" \
	cert init --dir "$work/ca" --days 0
refused crl_days_word "^hbx: cert init: --crl-days 'week' $nan" cert init --dir "$work/ca" --crl-days week
refused issue_days_fraction "^hbx: cert issue: --days '1.5' is not a whole number" \
	cert issue n --dir "$work/ca" --days 1.5
refused trace_interval_zero "^hbx: trace: --interval '0' $range a duration from 50ms to 24h" trace -i 0
refused trace_interval_word "^hbx: trace: --interval 'soon' $nan" trace -i soon
refused trace_count_negative "^hbx: trace: --count '-3' is negative" trace -c -3
refused trace_layer_past_the_module "^hbx: trace: --layer '256' is out of range: the module has layers 0 to 255$" \
	trace --layer 256
refused trace_events_peer "^hbx: trace events: --peer '1e3' $nan" trace events --peer 1e3
refused top_iterations "^hbx: top: --iterations '1x' $nan" top -b -n 1x
refused top_delay_past_a_day "^hbx: top: --delay '25h' $range" top -b -d 25h
# Export names (issue 14): 1 to 127 printable characters, no spaces.
refused export_name_with_a_space "^hbx: layer export: --name 'a b' is not an export name: give 1 to 127 printable characters, no spaces$" \
	layer export 0 --name "a b"
refused export_name_empty "^hbx: layer export: --name '' is not an export name" layer export 0 --name ""
refused export_name_128_chars "^hbx: layer export: --name '$(printf 'n%.0s' $(seq 128))' is not an export name" \
	layer export 0 --name "$(printf 'n%.0s' $(seq 128))"
refused export_name_with_off "^hbx: layer export: --name is the name to serve the layer under: it does not go with --off$" \
	layer export 0 --off --name app
refused add_export_name_and_digest "^hbx: layer add: give the remote layer's --digest or its --export-name, not both$" \
	layer add --remote 1 --digest sha256:00 --export-name app --cache "$work/c"
refused add_export_name_without_remote "^hbx: layer add: --export-name is the name peers export a layer under: it needs --remote$" \
	layer add "$work/x.erofs" --export-name app
refused add_export_name_tab "^hbx: layer add: --export-name 'a.b' is not an export name" \
	layer add --remote 1 --export-name "a	b" --cache "$work/c"
refused image_pull_name_with_a_space "^hbx: image pull: 'a b' is not an image reference: give NAME or NAME@sha256:HEX" \
	image pull --remote 1 "a b"
refused image_pull_short_digest_is_not_a_name "^hbx: image pull: 'app@sha256:12' is not an image reference" \
	image pull --remote 1 app@sha256:12
refused image_pull_name_past_127 "^hbx: image pull: '$(printf 'n%.0s' $(seq 128))' is too long to be an export name \(at most 127 characters\): pull it by NAME@sha256:HEX$" \
	image pull --remote 1 "$(printf 'n%.0s' $(seq 128))"
SOURCE_DATE_EPOCH=12x refused source_date_epoch "^hbx: layer build: SOURCE_DATE_EPOCH '12x' $nan" \
	layer build "$work" -o "$work/x.erofs"

# taken NAME ARG...: hbx went past its arguments (no exit 2, no refusal).
taken() {
	local name=$1 rc
	shift
	run "$@"
	rc=$?
	if [ $rc -ne 2 ] && ! grep -qE "is (not a|negative|empty|out of range|finer)|has a unit|usage:" "$work/err"; then
		tap 0 "takes.$name"
	else
		echo "# hbx $*: exit $rc, stderr:"
		sed 's/^/#   /' "$work/err"
		tap 1 "takes.$name"
	fi
}
taken timeout_30s "${peer[@]}" --timeout 30s
taken timeout_500ms "${peer[@]}" --timeout 500ms
taken timeout_2m "${peer[@]}" --timeout 2m
taken timeout_1_5s "${peer[@]}" --timeout 1.5s
taken timeout_bare_seconds "${peer[@]}" --timeout 30
taken timeout_ms_bare "${peer[@]}" --timeout-ms 1500
taken timeout_ms_zero_is_forever "${peer[@]}" --timeout-ms 0
taken connections_16 "${peer[@]}" --connections 16
taken serve_listen_all_with_a_timeout serve --listen :7411 --insecure --timeout 1m --max-handshakes 8
taken serve_listen_v6 serve --listen "[::1]:7411" --insecure
taken window_32_and_a_remote_list layer add --remote 1,2 --digest sha256:00 --cache "$work/c" --window 32
taken layer_dev_name layer del /dev/hbx3
taken export_name layer export 0 --name registry.local/app:1.2
taken add_by_export_name layer add --remote 1,2 --export-name app --cache "$work/c"
taken image_pull_by_bare_name image pull --remote 1 app --store "$work/store"
taken image_pull_by_bare_name_as_another image pull --remote 1 app --name app2 --store "$work/store"
taken trace_interval_500ms trace -i 500ms -c 1
taken trace_interval_fraction_of_seconds trace -i 0.3 -c 1
taken top_delay_1s top -b -n 1 -d 1s

# Sizes with units land as bytes in the manifest.
mkdir -p "$work/src" && head -c 300000 /dev/urandom > "$work/src/blob"
for cs in 64K:65536 64k:65536 1M:1048576 1MiB:1048576 4096:4096 4K:4096; do
	run layer build "$work/src" -o "$work/l.erofs" --chunk-size "${cs%%:*}" -j
	rc=$?
	[ $rc -eq 0 ] && grep -q "\"chunk-size\":${cs#*:}," "$work/out"
	tap $? "takes.chunk_size_${cs%%:*}_as_${cs#*:}_bytes"
	[ $rc -eq 0 ] || sed 's/^/#   /' "$work/err"
done
run cert init --dir "$work/ca" --days 30 --crl-days 7
tap $? "takes.cert_days"

echo "1..$n"
[ "$failed" -eq 0 ]
