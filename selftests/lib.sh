# SPDX-License-Identifier: GPL-2.0
# Shared by the scripts that run inside the VM.

# No udev in the VM: load by hand what the kernel would have autoloaded,
# the accelerated crypto drivers first so every path uses them.
hbx_vm_prepare() {
	for m in aesni_intel ghash_clmulni_intel sha256_ssse3 \
		 chacha_x86_64 poly1305_x86_64 chacha20poly1305 \
		 erofs overlay loop dm_verity tls veth nbd; do
		modprobe -q "$m" 2>/dev/null || true
	done
	# Fail a stuck task loudly rather than sit in D state for 120 s.
	echo 30 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
	return 0
}

# TAP for shell tests: tap_check NAME COMMAND... runs COMMAND and reports it.
tap_n=0
tap_failed=0
tap_begin() {
	echo "TAP version 13"
}
tap_result() {	# tap_result STATUS NAME
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n $2"
	else
		echo "not ok $tap_n $2"
		tap_failed=$((tap_failed + 1))
	fi
}
tap_check() {	# tap_check NAME COMMAND...
	local name=$1
	shift
	"$@"
	tap_result $? "$name"
}
tap_end() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
