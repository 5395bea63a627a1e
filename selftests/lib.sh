# SPDX-License-Identifier: GPL-2.0
# Shared by the scripts that run inside the VM.

# No udev in the VM: load by hand what the kernel would have autoloaded,
# the accelerated crypto drivers first so every path uses them.
hbx_vm_prepare() {
	for m in aesni_intel ghash_clmulni_intel sha256_ssse3 \
		 chacha20_x86_64 poly1305_x86_64 chacha20poly1305 \
		 erofs overlay loop dm_verity tls veth nbd; do
		modprobe -q "$m" 2>/dev/null
	done
	# Fail a stuck task loudly rather than sit in D state for 120 s.
	echo 30 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
	return 0
}
