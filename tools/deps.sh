#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make deps: every Debian 12 package HyperBox needs to build, test, demo and
# benchmark (flex..libssl-dev: the debug kernel of make check-debug).  Both
# supported kernels are installed (image + headers) so the VM suite runs on
# each.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
	build-essential pkg-config kmod cpio xz-utils \
	linux-image-amd64 linux-headers-amd64 \
	linux-image-6.12-amd64 linux-headers-6.12-amd64 \
	linux-source-6.1 \
	qemu-system-x86 busybox-static \
	libnl-3-dev libnl-genl-3-dev libmbedtls-dev libseccomp-dev libjson-c-dev \
	libbpf-dev bpftool clang llvm libelf-dev zlib1g-dev \
	erofs-utils dkms cryptsetup-bin nbd-server nbd-client iproute2 util-linux util-linux-extra libcap2-bin \
	time fio python3 python3-yaml attr openssl \
	libarchive-dev zstd crun runc umoci skopeo podman \
	debhelper dh-dkms lintian linux-source-6.12 python3-jsonschema tmux \
	flex bison bc dwarves libssl-dev
