#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The packages as an administrator meets them: build hyperbox-dkms and
# hyperbox-tools (make deb, from the last commit), install them on this
# machine with apt, check that DKMS built the module for every kernel, then
# in a VM booting each kernel, from the installed paths only: hbx info
# autoloads the module by its genl family alias, the ExecStart and
# ExecStopPost lines of hbx-serve@ and hbx-peer@ serve and keep a peer over
# mutual TLS and clean up, and the installed completion offers the live peer
# and layer.  Then one more VM, booted with systemd as PID 1: systemctl
# starts and stops both units, with their hardening in force, restarts a
# killed server and leaves a bad config failed.  Last, purge and check that
# nothing is left: files, DKMS trees, the module of any kernel.  Prints TAP.
#   usage: tools/deb-check.sh [KVER...]    (default: every kernel with headers)
# It owns /usr/src/hyperbox-VERSION and DKMS's hyperbox tree while it runs:
# do not run it alongside make dkms or tools/dkms-check.sh.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD

if [ "${1:-}" = --in-vm ]; then
	# --- inside the VM: nothing of the checkout but this script
	cd / || exit 1
	export PATH=/usr/sbin:/usr/bin:/sbin:/bin
	n=0
	tap() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi; }
	k=$(uname -r)
	for m in aesni_intel ghash_clmulni_intel sha256_ssse3 tls erofs; do modprobe -q "$m"; done
	! grep -q '^hyperbox ' /proc/modules
	tap $? "vm.$k.module_not_loaded_before_first_use"
	hbx info -j > /tmp/info.json
	tap $? "vm.$k.installed_hbx_info_autoloads_the_module"
	grep -q '^hyperbox ' /proc/modules && modinfo -F filename hyperbox | grep -q "/updates/dkms/hyperbox.ko"
	tap $? "vm.$k.loaded_module_is_the_one_dkms_built"
	modinfo -F alias hyperbox | grep -qx "net-pf-16-proto-16-family-hyperbox"
	tap $? "vm.$k.module_carries_the_genl_family_alias"

	# The units' commands, as systemd would run them for instance "vm".
	unit_cmd() {	# unit_cmd UNIT KEY: the KEY= line of UNIT with %i expanded
		sed -n "s/^$2=//p" "/lib/systemd/system/$1@.service" | sed 's/%i/vm/g'
	}
	mkdir -p /etc/hyperbox/serve /etc/hyperbox/peer
	hbx cert init --force --name vm-cluster > /dev/null &&
		hbx cert issue node --force --san dns:node,ip:127.0.0.1 --out /etc/hyperbox/node > /dev/null
	tap $? "vm.$k.cert_init_and_issue_to_the_default_paths"
	echo "LISTEN=127.0.0.1:7411" > /etc/hyperbox/serve/vm.conf
	printf 'CONNECT=127.0.0.1:7411\nNAME=node\nCONNECTIONS=2\n' > /etc/hyperbox/peer/vm.conf
	serve=$(unit_cmd hbx-serve ExecStart)
	peer=$(unit_cmd hbx-peer ExecStart)
	peer_stop=$(unit_cmd hbx-peer ExecStopPost)
	echo "# serve: $serve"
	echo "# peer: $peer; stop: $peer_stop"
	# shellcheck disable=SC2086 # the unit's command line is words
	setsid $serve > /tmp/serve.log 2>&1 &
	spid=$!
	for _ in $(seq 100); do grep -q "serving on" /tmp/serve.log && break; sleep 0.1; done
	grep -q "serving on" /tmp/serve.log
	tap $? "vm.$k.hbx-serve@_ExecStart_serves"
	sed 's/^/# serve: /' /tmp/serve.log
	export RUNTIME_DIRECTORY=/run/hyperbox/peer-vm
	mkdir -p "$RUNTIME_DIRECTORY"
	# shellcheck disable=SC2086
	setsid $peer > /tmp/peer.log 2>&1 &
	ppid_=$!
	for _ in $(seq 100); do [ -s "$RUNTIME_DIRECTORY/id" ] && break; sleep 0.1; done
	id=$(cat "$RUNTIME_DIRECTORY/id" 2>/dev/null)
	hbx peer list -j > /tmp/peers.json
	grep -q "\"id\":$id,\"name\":\"node\",.*\"role\":\"client\"" /tmp/peers.json
	tap $? "vm.$k.hbx-peer@_ExecStart_connects_over_tls_and_records_the_peer_id"
	sed 's/^/# peer: /' /tmp/peer.log
	kill -0 "$ppid_" 2> /dev/null
	tap $? "vm.$k.hbx-peer@_stays_to_reconnect"

	# The installed completion, with live objects from the module.
	head -c 65536 /dev/urandom > /tmp/blob && mkdir -p /tmp/src && mv /tmp/blob /tmp/src/ &&
		hbx layer build /tmp/src -o /tmp/l.erofs > /dev/null && hbx layer add /tmp/l.erofs > /tmp/add.out
	idx=$(sed -n 's|^/dev/hbx\([0-9]*\) .*|\1|p' /tmp/add.out)
	comp() {
		bash -c '. /usr/share/bash-completion/completions/hbx; COMP_WORDS=("$@")
			COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _hbx; echo " ${COMPREPLY[*]} "' _ "$@"
	}
	[[ $(comp hbx peer del "") == *" $id "* ]] && [[ $(comp hbx layer del "") == *" $idx "* ]] &&
		[[ $(comp hbx layer add --remote "") == *" $id "* ]]
	tap $? "vm.$k.installed_completion_offers_the_live_peer_and_layer"
	hbx layer del "$idx" > /dev/null

	# systemctl stop: SIGTERM to the unit's processes, then ExecStopPost.
	kill -TERM -- -"$ppid_" 2> /dev/null
	wait "$ppid_"
	# shellcheck disable=SC2086
	$peer_stop
	tap $? "vm.$k.hbx-peer@_ExecStopPost_succeeds"
	! hbx peer list -j | grep -q "\"id\":$id,"
	tap $? "vm.$k.stopping_hbx-peer@_deletes_its_peer"
	kill -TERM -- -"$spid" 2> /dev/null
	wait "$spid"
	rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 143 ]
	tap $? "vm.$k.hbx-serve@_stops_on_SIGTERM"
	for p in $(hbx peer list -j | grep -o '"id":[0-9]*' | cut -d: -f2); do hbx peer del "$p"; done
	rmmod hyperbox
	tap $? "vm.$k.module_unloads"
	exit 0
fi

if [ "${1:-}" = --in-vm-systemd ]; then
	# --- inside a VM booted with systemd as PID 1 (tools/vm/run --systemd):
	# the installed units started and stopped by systemd itself, with
	# their hardening in force.
	cd / || exit 1
	export PATH=/usr/sbin:/usr/bin:/sbin:/bin
	n=0
	tap() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi; }
	k=$(uname -r)
	# until SECS CMD...: CMD succeeds within SECS seconds.
	until_ok() { local t=$(($1 * 10)); shift; while ! "$@"; do t=$((t - 1)); [ $t -gt 0 ] || return 1; sleep 0.1; done; }
	prop() { systemctl show -P "$2" "$1"; }	# prop UNIT PROPERTY
	journal() { journalctl -q -o cat -u "$1" --no-pager; }
	[ "$(cat /proc/1/comm)" = systemd ]
	tap $? "systemd.$k.pid_1_is_systemd"
	echo "# system: $(systemctl is-system-running 2>&1)"
	systemctl --failed --no-legend --plain | sed 's/^/# failed unit: /'
	for m in aesni_intel ghash_clmulni_intel sha256_ssse3 tls; do modprobe -q "$m"; done

	mkdir -p /etc/hyperbox/serve /etc/hyperbox/peer
	hbx cert init --force --name vm-cluster > /dev/null &&
		hbx cert issue node --force --san dns:node --out /etc/hyperbox/node > /dev/null
	tap $? "systemd.$k.cert_init_and_issue_to_the_default_paths"
	# :7411 is every address: one peer comes over IPv4, one over IPv6.
	printf 'LISTEN=:7411\nTIMEOUT=20s\n' > /etc/hyperbox/serve/vm.conf
	printf 'CONNECT=127.0.0.1:7411\nNAME=node\nCONNECTIONS=2\n' > /etc/hyperbox/peer/v4.conf
	printf 'CONNECT=[::1]:7411\nNAME=node\nTIMEOUT_MS=15000\n' > /etc/hyperbox/peer/v6.conf

	systemctl start hbx-serve@vm && until_ok 20 sh -c 'journalctl -q -o cat -u hbx-serve@vm | grep -q "serving on"'
	tap $? "systemd.$k.systemctl_start_hbx-serve@vm"
	journal hbx-serve@vm | sed 's/^/# serve: /'
	journal hbx-serve@vm | grep -q "serving on :7411 (every address, IPv6 and IPv4, port 7411)"
	tap $? "systemd.$k.hbx-serve@_listens_on_every_address_for_:PORT"
	spid=$(prop hbx-serve@vm MainPID)
	# The hardening is in force: bounding set CAP_NET_ADMIN (12) and
	# CAP_NET_BIND_SERVICE (10), no new privileges, / read-only.
	grep -q '^CapBnd:[[:space:]]*0000000000001400$' "/proc/$spid/status" &&
		grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$spid/status" &&
		awk '$5 == "/" { o = $6 } END { print o }' "/proc/$spid/mountinfo" | grep -q '^ro'
	tap $? "systemd.$k.hbx-serve@_runs_with_its_hardening"
	grep -E '^(CapBnd|NoNewPrivs)' "/proc/$spid/status" | sed 's/^/# serve: /'

	declare -A ids
	for p in v4 v6; do
		systemctl start "hbx-peer@$p" && until_ok 30 test -s "/run/hyperbox/peer-$p/id"
		id=$(cat "/run/hyperbox/peer-$p/id" 2> /dev/null)
		hbx peer list -j | grep -q "\"id\":$id,\"name\":\"node\",\"identity\":\"[^\"]*\",\"role\":\"client\""
		tap $? "systemd.$k.systemctl_start_hbx-peer@${p}_connects_and_records_the_peer_id"
		ids[$p]=$id
	done
	journal hbx-peer@v4 | sed 's/^/# peer v4: /'
	journal hbx-peer@v6 | sed 's/^/# peer v6: /'
	journal hbx-serve@vm | grep -q "::ffff:127.0.0.1:.* node " &&
		journal hbx-serve@vm | grep -q ": ::1:[0-9]* node "
	tap $? "systemd.$k.hbx-serve@_took_a_peer_over_IPv4_and_one_over_IPv6"
	ppid_=$(prop hbx-peer@v4 MainPID)
	grep -q '^CapBnd:[[:space:]]*0000000000001000$' "/proc/$ppid_/status" &&
		grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$ppid_/status"
	tap $? "systemd.$k.hbx-peer@_runs_with_only_CAP_NET_ADMIN"

	# Restart=on-failure: a killed server comes back by itself.
	kill -KILL "$spid"
	until_ok 15 sh -c '[ "$(systemctl show -P NRestarts hbx-serve@vm)" = 1 ] &&
		[ "$(systemctl show -P ActiveState hbx-serve@vm)" = active ]'
	tap $? "systemd.$k.hbx-serve@_restarts_after_SIGKILL"

	systemctl stop hbx-peer@v6
	rc=$?
	[ $rc -eq 0 ] && [ "$(prop hbx-peer@v6 ActiveState)" = inactive ] &&
		! hbx peer list -j | grep -q "\"id\":${ids[v6]},"
	tap $? "systemd.$k.systemctl_stop_hbx-peer@_stops_cleanly_and_deletes_its_peer"
	systemctl stop hbx-peer@v4 && systemctl stop hbx-serve@vm
	rc=$?
	[ $rc -eq 0 ] && [ "$(prop hbx-serve@vm ActiveState)" = inactive ] &&
		[ "$(prop hbx-peer@v4 ActiveState)" = inactive ] &&
		! hbx peer list -j | grep -q "\"id\":${ids[v4]},"
	tap $? "systemd.$k.systemctl_stop_hbx-serve@_and_the_other_peer"

	# Exit status 2 (a bad config) fails the unit for good: no restarts.
	printf 'LISTEN=:7411\nTIMEOUT=5x\n' > /etc/hyperbox/serve/bad.conf
	systemctl start hbx-serve@bad
	until_ok 10 sh -c '[ "$(systemctl show -P ActiveState hbx-serve@bad)" = failed ]'
	sleep 3	# RestartSec=2s: a restart would have come by now
	[ "$(prop hbx-serve@bad ActiveState)" = failed ] && [ "$(prop hbx-serve@bad NRestarts)" = 0 ] &&
		journal hbx-serve@bad | grep -q "^hbx: serve: --timeout '5x' has a unit hbx does not know"
	tap $? "systemd.$k.bad_config_exits_2_and_is_not_restarted"
	journal hbx-serve@bad | sed 's/^/# bad: /'
	systemctl reset-failed hbx-serve@bad

	for p in $(hbx peer list -j | grep -o '"id":[0-9]*' | cut -d: -f2); do hbx peer del "$p"; done
	rmmod hyperbox
	tap $? "systemd.$k.module_unloads"
	exit 0
fi

# --- on the host
n=0
tap() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi; }
version=$(sed -n 's/^#define HBX_VERSION "\(.*\)"/\1/p' kmod/version.h)
kernels=${*:-}
if [ -z "$kernels" ]; then
	for d in /lib/modules/*/build; do
		k=$(basename "$(dirname "$d")")
		[ -e "/boot/vmlinuz-$k" ] && kernels="$kernels $k"
	done
fi
out=build/check
mkdir -p "$out"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive

make -s deb > "$out/deb-build.log" 2>&1
tap $? "deb.make_deb"
debs=$(ls build/deb/hyperbox-dkms_"$version"_all.deb build/deb/hyperbox-tools_"$version"_*.deb 2>/dev/null)
[ "$(echo "$debs" | wc -w)" -eq 2 ] || { echo "1..$n"; exit 1; }

# A source tree from make dkms (not the package's) would be in the way.
apt-get purge -y -q hyperbox-dkms hyperbox-tools > /dev/null 2>&1
dkms remove -m hyperbox -v "$version" --all > /dev/null 2>&1
dpkg -S "/usr/src/hyperbox-$version" > /dev/null 2>&1 || rm -rf "/usr/src/hyperbox-$version"

t=$(date +%s)
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $(printf './%s ' $debs) > "$out/deb-install.log" 2>&1
tap $? "deb.apt_install_both_packages"
echo "# install (DKMS builds): $(( $(date +%s) - t )) s"
for k in $kernels; do
	dkms status -m hyperbox -v "$version" -k "$k" 2>/dev/null | grep -q installed
	tap $? "deb.dkms_installed_the_module_for_$k"
	ko=$(ls /lib/modules/"$k"/updates/dkms/hyperbox.ko* 2>/dev/null | head -n1)
	[ -n "$ko" ] && grep -q "updates/dkms/hyperbox.ko" "/lib/modules/$k/modules.dep"
	tap $? "deb.module_file_and_depmod_for_$k"
	grep -q "^alias net-pf-16-proto-16-family-hyperbox hyperbox$" "/lib/modules/$k/modules.alias"
	tap $? "deb.family_alias_in_modules.alias_for_$k"
done
man -w hbx-layer 2>/dev/null | grep -q "^/usr/share/man/man8/hbx-layer.8.gz$" &&
	[ "$(man hbx-peer 2>&1 > /dev/null)" = "" ]
tap $? "deb.man_finds_the_installed_pages"

# relay LOG: the guest's TAP lines and comments as this script's.
relay() {
	local l name
	while IFS= read -r l; do
		case $l in
		'# '*) echo "$l" ;;
		*) name=${l#* }; [ "${l%% *}" = ok ] && tap 0 "$name" || tap 1 "$name" ;;
		esac
	done < <(grep -E '^(ok|not ok) |^# ' "$1" | sed -E 's/^(ok|not ok) [0-9]+ /\1 /; s/^not ok /not_ok /')
}

for k in $kernels; do
	t=$(date +%s)
	tools/vm/run --kernel "$k" --timeout 300 --log "$out/console-deb-$k.log" -- \
		"$top/tools/deb-check.sh" --in-vm > "$out/deb-vm-$k.log" 2>&1
	rc=$?
	relay "$out/deb-vm-$k.log"
	tap $rc "deb.vm.$k.ran_with_a_clean_kernel_log"
	echo "# VM $k: $(( $(date +%s) - t )) s"
done

# The units under systemd itself, in a VM booted with systemd as PID 1: one
# boot of the newest kernel (the units do not differ between kernels, and
# the module's kernels were covered above).
k=$(printf '%s\n' $kernels | sort -V | tail -n 1)
t=$(date +%s)
tools/vm/run --systemd --kernel "$k" --timeout 400 --log "$out/console-deb-systemd-$k.log" -- \
	"$top/tools/deb-check.sh" --in-vm-systemd > "$out/deb-systemd-$k.log" 2>&1
rc=$?
relay "$out/deb-systemd-$k.log"
tap $rc "deb.systemd.$k.ran_with_a_clean_kernel_log"
echo "# VM $k with systemd: $(( $(date +%s) - t )) s"

t=$(date +%s)
apt-get purge -y -q hyperbox-dkms hyperbox-tools > "$out/deb-purge.log" 2>&1
tap $? "deb.apt_purge_both_packages"
left=$( { ls -d /usr/src/hyperbox-* /var/lib/dkms/hyperbox /usr/sbin/hbx /usr/libexec/hyperbox \
	/usr/share/man/man8/hbx*.8* /usr/share/bash-completion/completions/hbx \
	/lib/systemd/system/hbx-*.service /usr/share/doc/hyperbox-* 2>/dev/null
	find /lib/modules -name 'hyperbox.ko*' 2>/dev/null
	grep -l 'family-hyperbox' /lib/modules/*/modules.alias 2>/dev/null
	dpkg -l 'hyperbox-*' 2>/dev/null | grep '^[a-z][a-z] ' | grep -v '^un '; } | sort -u)
[ -z "$left" ] || echo "$left" | sed 's/^/# left after purge: /'
[ -z "$left" ]
tap $? "deb.purge_leaves_no_files_dkms_trees_modules_or_aliases"
echo "# purge: $(( $(date +%s) - t )) s; total $(( $(date +%s) - start )) s"
echo "1..$n"
