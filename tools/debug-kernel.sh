#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build (once, then reuse) a debug kernel from Debian's linux-source-6.1:
# Debian's own config, trimmed by localmodconfig to the modules the VM and the
# selftests load, plus KASAN (generic, inline), KFENCE, lockdep, kmemleak,
# debug objects and fault injection.  Everything lives in build/debug-kernel/:
#   linux-source-6.1/   the source, built in tree (hyperbox.ko builds against it)
#   install/lib/modules/KVER/   the modules, as tools/vm/run --modules wants them
#   build.log           the last build's output
# When nothing that goes into the kernel changed, it returns at once.  Prints
# kver=, image=, modules= and kdir= lines for tools/check-debug.sh to eval.
#   usage: tools/debug-kernel.sh [-j N]     (HBX_DEBUG_KERNEL_JOBS, default 2)
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$PWD

jobs=${HBX_DEBUG_KERNEL_JOBS:-2}
if [[ ${1:-} == -j ]]; then jobs=${2:?-j needs a number}; elif [[ ${1:-} == -j* ]]; then jobs=${1#-j}; fi

say() { echo "debug-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

tarball=${HBX_DEBUG_KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
base=${HBX_DEBUG_KERNEL_BASE:-$(printf '%s\n' /boot/config-6.1.* | sort -V | tail -n 1)}
[[ -r $tarball ]] || die "$tarball not found (apt-get install linux-source-6.1)"
[[ -r $base ]] || die "no Debian 6.1 config in /boot (apt-get install linux-image-amd64)"
for t in gcc make flex bison bc pahole perl xz; do
	command -v "$t" >/dev/null || die "$t not found (apt-get install build-essential flex bison bc dwarves libelf-dev libssl-dev)"
done

dir=build/debug-kernel
src=$dir/linux-source-6.1
inst=$dir/install
localversion=-hbxdebug

# Modules the VM needs (tools/vm/init, tools/vm/run's initramfs) and that the
# selftests (wireguard: hostile_test.sh), the demo and hbx_vm_prepare
# modprobe, with what they depend on
# (modprobe -S 6.1.0-x-amd64 --show-depends).  localmodconfig keeps these as
# modules, as Debian ships them, and drops every other module.
modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
virtio_blk 9pnet 9pnet_virtio netfs fscache 9p overlay erofs tls loop dm_mod
dm_bufio dm_verity reed_solomon dm_flakey veth nbd null_blk sch_tbf sch_netem
configfs ext4 jbd2 mbcache crc16 libcrc32c crc32c_generic crc32c_intel
crc32_pclmul aesni_intel crypto_simd cryptd ghash_clmulni_intel ghash_generic
gf128mul sha256_ssse3 sha512_ssse3 sha512_generic chacha_x86_64 libchacha
poly1305_x86_64 chacha20poly1305 gcm ccm ctr ecb xts wireguard udp_tunnel
ip6_udp_tunnel libcurve25519_generic curve25519_x86_64 libchacha20poly1305"

# On top of Debian's config.  KASAN generic inline (about 2x faster than
# outline; the larger text does not matter here) with vmalloc checks; KFENCE
# as a sampling second opinion; lockdep with RCU checks (bigger tables: the
# defaults overflow with debug objects and a whole selftest run, which logs
# "BUG: MAX_LOCKDEP_..." and ends lockdep); kmemleak without the automatic
# scan (a 10-minute background scan of 3 GiB under TCG stalls the tests and
# reports mid-run; tools/check-debug.sh scans once at the end); debug
# objects; every fault-injection knob the tests aim with.  BTF stays on:
# hbx seccomp learn's BPF program is CO-RE (BPF_CORE_READ on task_struct) and
# needs /sys/kernel/btf/vmlinux in the guest.  No module signing: Debian's
# certs are not in the source.
#
# Trimmed further than localmodconfig can (it leaves every =y alone): the
# built-in parts a QEMU guest booted with -kernel never uses (Xen, EFI,
# SGX/SEV/TDX, kexec, suspend, hibernation, NUMA, memory hotplug, cpufreq,
# APEI, CXL, PCI hotplug, IOMMUs, framebuffers, wireless, netfilter, MPTCP,
# multicast routing, MPLS: no test uses them) and the LSMs Debian builds in (SELinux, AppArmor, TOMOYO, IMA/EVM, lockdown:
# nothing in the VM loads a policy).  Without lockdown nothing selects
# MODULE_SIG, so modules are simply unsigned.
fragment="
CONFIG_LOCALVERSION=\"$localversion\"
# CONFIG_LOCALVERSION_AUTO is not set
# CONFIG_MODULE_SIG is not set
# CONFIG_MODULE_SIG_ALL is not set
# CONFIG_XEN is not set
# CONFIG_EFI is not set
# CONFIG_AMD_MEM_ENCRYPT is not set
# CONFIG_X86_SGX is not set
# CONFIG_INTEL_TDX_GUEST is not set
# CONFIG_KEXEC is not set
# CONFIG_KEXEC_FILE is not set
# CONFIG_CRASH_DUMP is not set
# CONFIG_HIBERNATION is not set
# CONFIG_SUSPEND is not set
# CONFIG_NUMA is not set
# CONFIG_MEMORY_HOTPLUG is not set
# CONFIG_MEMORY_FAILURE is not set
# CONFIG_SCHED_MC_PRIO is not set
# CONFIG_CPU_FREQ is not set
# CONFIG_ACPI_APEI is not set
# CONFIG_CXL_BUS is not set
# CONFIG_HOTPLUG_PCI is not set
# CONFIG_LIVEPATCH is not set
# CONFIG_GOOGLE_FIRMWARE is not set
# CONFIG_NETFILTER is not set
# CONFIG_MPTCP is not set
# CONFIG_IP_MROUTE is not set
# CONFIG_IPV6_MROUTE is not set
# CONFIG_MPLS is not set
# CONFIG_NETLABEL is not set
# CONFIG_HAMRADIO is not set
# CONFIG_AMD_IOMMU is not set
# CONFIG_INTEL_IOMMU is not set
# CONFIG_FB is not set
# CONFIG_DRM is not set
# CONFIG_WIRELESS is not set
# CONFIG_WLAN is not set
# CONFIG_X86_X32_ABI is not set
# CONFIG_SECURITY_SELINUX is not set
# CONFIG_SECURITY_SMACK is not set
# CONFIG_SECURITY_TOMOYO is not set
# CONFIG_SECURITY_APPARMOR is not set
# CONFIG_SECURITY_LOADPIN is not set
# CONFIG_SECURITY_SAFESETID is not set
# CONFIG_SECURITY_LOCKDOWN_LSM is not set
# CONFIG_INTEGRITY is not set
# CONFIG_IMA is not set
# CONFIG_EVM is not set
CONFIG_SYSTEM_TRUSTED_KEYS=\"\"
CONFIG_MODULE_COMPRESS_NONE=y
CONFIG_KERNEL_GZIP=y
# CONFIG_KERNEL_XZ is not set
CONFIG_DEBUG_INFO=y
CONFIG_DEBUG_INFO_BTF=y
CONFIG_DEBUG_INFO_BTF_MODULES=y
CONFIG_KASAN=y
CONFIG_KASAN_GENERIC=y
CONFIG_KASAN_INLINE=y
# CONFIG_KASAN_OUTLINE is not set
CONFIG_KASAN_VMALLOC=y
CONFIG_KFENCE=y
CONFIG_PROVE_LOCKING=y
CONFIG_PROVE_RCU=y
CONFIG_DEBUG_ATOMIC_SLEEP=y
CONFIG_LOCKDEP_BITS=17
CONFIG_LOCKDEP_CHAINS_BITS=18
CONFIG_LOCKDEP_STACK_TRACE_BITS=20
CONFIG_LOCKDEP_STACK_TRACE_HASH_BITS=16
CONFIG_LOCKDEP_CIRCULAR_QUEUE_BITS=12
CONFIG_DEBUG_KMEMLEAK=y
CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE=40000
# CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF is not set
# CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN is not set
CONFIG_DEBUG_OBJECTS=y
CONFIG_DEBUG_OBJECTS_FREE=y
CONFIG_DEBUG_OBJECTS_TIMERS=y
CONFIG_DEBUG_OBJECTS_WORK=y
CONFIG_DEBUG_OBJECTS_RCU_HEAD=y
CONFIG_DEBUG_OBJECTS_PERCPU_COUNTER=y
CONFIG_DEBUG_OBJECTS_ENABLE_DEFAULT=1
CONFIG_DEBUG_LIST=y
CONFIG_FAULT_INJECTION=y
CONFIG_FAILSLAB=y
CONFIG_FAIL_PAGE_ALLOC=y
CONFIG_FAIL_MAKE_REQUEST=y
CONFIG_FAIL_IO_TIMEOUT=y
CONFIG_FUNCTION_ERROR_INJECTION=y
CONFIG_FAIL_FUNCTION=y
CONFIG_FAULT_INJECTION_DEBUG_FS=y
"

# Everything that decides the kernel: when this key is unchanged and the
# outputs exist, nothing is run.
key=$( {
	stat -c '%n %s %Y' "$tarball" "$base"
	sha256sum "$base"
	gcc --version | head -n 1
	pahole --version
	printf '%s\n' "$modules" "$fragment"
} | sha256sum | cut -d' ' -f1)

mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9

report() {
	local kver
	kver=$(cat "$src/include/config/kernel.release")
	echo "kver=$kver"
	echo "image=$(realpath "$src/arch/x86/boot/bzImage")"
	echo "modules=$(realpath "$inst/lib/modules/$kver")"
	echo "kdir=$(realpath "$src")"
}

if [[ -e $dir/stamp && $(cat "$dir/stamp") == "$key" && -s $src/arch/x86/boot/bzImage &&
	-e $src/include/config/kernel.release &&
	-e $inst/lib/modules/$(cat "$src/include/config/kernel.release")/modules.dep ]]; then
	say "up to date ($src)"
	report
	exit 0
fi
rm -f "$dir/stamp"

log=$dir/build.log
: >"$log"
start=$(date +%s)

# The source: extracted once per tarball.
tkey=$(stat -c '%n %s %Y' "$tarball")
if [[ ! -e $src/.hbx-extracted || $(cat "$src/.hbx-extracted") != "$tkey" ]]; then
	say "extracting $tarball"
	rm -rf "$src"
	tar -xJf "$tarball" -C "$dir"
	[[ -d $src ]] || die "$tarball did not unpack to $src"
	echo "$tkey" >"$src/.hbx-extracted"
fi

# The config: Debian's, trimmed, then the fragment.  olddefconfig after the
# fragment resolves what the fragment's options select; the check below makes
# sure none of them was dropped for an unmet dependency.
say "configuring (log: $log)"
lsmod=$dir/lsmod
{
	echo "Module Size Used by"
	for m in $modules; do echo "$m 0 0"; done
} >"$lsmod"
cp "$base" "$src/.config"
nice -n 19 make -C "$src" olddefconfig >>"$log" 2>&1
nice -n 19 make -C "$src" LSMOD="$top/$lsmod" localmodconfig >>"$log" 2>&1 </dev/null
printf '%s\n' "$fragment" >"$dir/fragment.config"
(cd "$src" && scripts/kconfig/merge_config.sh -m .config "$top/$dir/fragment.config") >>"$log" 2>&1
nice -n 19 make -C "$src" olddefconfig >>"$log" 2>&1
missing=""
while read -r line; do
	case $line in
	CONFIG_*) grep -qxF -- "$line" "$src/.config" ;;
	"# CONFIG_"*" is not set")
		line=${line#\# } line=${line% is not set}
		! grep -q "^$line=" "$src/.config" ;;
	*) continue ;;
	esac || missing+=" $line"
done <<<"$fragment"
[[ -z $missing ]] || die "the config lost:$missing (see $log)"

say "building with make -j$jobs at nice 19 (log: $log)"
if ! nice -n 19 make -C "$src" -j"$jobs" bzImage modules >>"$log" 2>&1; then
	tail -n 30 "$log" >&2
	die "build failed (see $log)"
fi
kver=$(cat "$src/include/config/kernel.release")
rm -rf "$inst"
# Stripped of DWARF (BTF stays): the guest reads them over 9p.
nice -n 19 make -C "$src" INSTALL_MOD_PATH="$top/$inst" INSTALL_MOD_STRIP=1 \
	modules_install >>"$log" 2>&1 || die "modules_install failed (see $log)"
for m in $modules; do
	modprobe -C /dev/null -d "$top/$inst" -S "$kver" --show-depends "$m" >/dev/null 2>&1 ||
		die "module $m is missing from the debug kernel (see $log)"
done
echo "$key" >"$dir/stamp"
say "built $kver in $(( $(date +%s) - start )) s"
report
