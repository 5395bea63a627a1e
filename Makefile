# SPDX-License-Identifier: GPL-2.0
#
# make            hyperbox.ko (against KDIR), libhbx, hbx, the selftests
# make deps       install every Debian package the project needs
# make check      host unit tests, then the VM kselftests on every installed
#                 kernel that has headers; ends with "N passed, N failed"
# make demo       build, boot a VM, load the module, show it working
# make bench      benchmarks in the VM (see tools/bench/)
# make dkms-check dkms add + build, then load the DKMS-built module in a VM

VERSION := $(shell sed -n 's/^\#define HBX_VERSION "\(.*\)"/\1/p' kmod/version.h)

# The running kernel's build dir if it has one, else the newest installed.
KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
		    $(lastword $(sort $(wildcard /lib/modules/*/build))))
KVER ?= $(notdir $(patsubst %/,%,$(dir $(KDIR))))

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wno-unused-parameter
NL_CFLAGS := $(shell pkg-config --cflags libnl-genl-3.0 2>/dev/null)
NL_LIBS   := $(shell pkg-config --libs libnl-genl-3.0 2>/dev/null || echo -lnl-genl-3 -lnl-3)
# mbedTLS: x509 for hbx cert, tls for the handshake, crypto (SHA-256) for all.
TLS_LIBS  := -lmbedtls -lmbedx509 -lmbedcrypto
# hbx seccomp: libbpf (the learn tracer), libseccomp (filters), json-c (profiles).
SECCOMP_LIBS := $(shell pkg-config --libs libbpf libseccomp json-c 2>/dev/null || echo -lbpf -lseccomp -ljson-c)
# hbx image: libarchive unpacks OCI layers (gzip, zstd) and image archives.
# It is loaded when first used (user/archive_dl.h), not linked: only its
# headers are needed to build.
HBX_CFLAGS = $(CFLAGS) $(WARN) -D_GNU_SOURCE -Iuser -Ikmod/uapi -Ikmod -Ibpf $(NL_CFLAGS)

LIB_SRCS := $(wildcard user/*.c)
LIB_OBJS := $(LIB_SRCS:.c=.o)
HBX_SRCS := $(wildcard tools/hbx/*.c)
HBX_OBJS := $(HBX_SRCS:.c=.o)
KMOD_SRCS := $(wildcard kmod/*.c kmod/*.h kmod/compat/*.h kmod/uapi/linux/*.h) kmod/Kbuild

.PHONY: all module tools selftests unit-tests bpf deps check check-host check-vm check-debug demo soak \
	bench install install-module install-dkms deb ynl dkms dkms-check clean
all: module tools selftests unit-tests bpf

module: kmod/hyperbox.ko
kmod/hyperbox.ko: $(KMOD_SRCS)
	@test -d "$(KDIR)" || { echo "no kernel build dir (KDIR=$(KDIR)); run: make deps" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

tools: user/libhbx.a tools/hbx/hbx

user/%.o: user/%.c $(wildcard user/*.h) kmod/uapi/linux/hyperbox.h
	$(CC) $(HBX_CFLAGS) -c -o $@ $<
# hbx seccomp learn embeds its BPF object (a libbpf-tools style skeleton).
# One rule makes it, for tools and for bpf, so make -j builds it once.
bpf/syscalls.skel.h: bpf/syscalls.bpf.c bpf/syscalls.h
	$(MAKE) -C bpf syscalls.skel.h
user/seccomp_learn.o: bpf/syscalls.skel.h
user/seccomp_learn.o user/seccomp_rules.o tools/hbx/seccomp.o: bpf/syscalls.h
# hbx trace and hbx top: bpf/hbxtrace.bpf.c on the module's tracepoints.
bpf/hbxtrace.skel.h: bpf/hbxtrace.bpf.c bpf/hbxtrace.h
	$(MAKE) -C bpf hbxtrace.skel.h
tools/hbx/trace_bpf.o: bpf/hbxtrace.skel.h
tools/hbx/trace.o tools/hbx/trace_bpf.o tools/hbx/otlp.o tools/hbx/top.o tools/hbx/hbx.o: bpf/hbxtrace.h
user/libhbx.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

tools/hbx/%.o: tools/hbx/%.c $(wildcard tools/hbx/*.h) $(wildcard user/*.h) kmod/uapi/linux/hyperbox.h kmod/version.h
	$(CC) $(HBX_CFLAGS) -c -o $@ $<
tools/hbx/hbx: $(HBX_OBJS) user/libhbx.a
	$(CC) $(CFLAGS) -o $@ $(HBX_OBJS) user/libhbx.a $(NL_LIBS) $(TLS_LIBS) $(SECCOMP_LIBS)

selftests: tools tests/tls_pair tests/stoq_fetch tests/stoq_liar
	$(MAKE) -C selftests

# The helper of selftests/tls_test.sh: a kTLS echo pair over libhbx's handshake.
tests/tls_pair: tests/tls_pair.c user/libhbx.a
	$(CC) $(HBX_CFLAGS) -o $@ $< user/libhbx.a $(TLS_LIBS)

# The STOQ client of selftests/serve_tls_test.sh (the kernel's client is to come).
tests/stoq_fetch: tests/stoq_fetch.c tests/stoq_wire.h user/libhbx.a
	$(CC) $(HBX_CFLAGS) -o $@ $< user/libhbx.a $(TLS_LIBS)

# A peer that sends corrupt chunks, for selftests/lazy_test.sh.
tests/stoq_liar: tests/stoq_liar.c tests/stoq_wire.h user/libhbx.a
	$(CC) $(HBX_CFLAGS) -o $@ $< user/libhbx.a

# Host unit tests share the selftests' harness header.
UNIT_TESTS := $(patsubst %.c,%,$(wildcard tests/*_test.c))
unit-tests: $(UNIT_TESTS)
tests/%_test: tests/%_test.c user/libhbx.a selftests
	$(CC) $(HBX_CFLAGS) -Wno-sign-compare -Wno-missing-prototypes -Ibuild/kselftest -o $@ $< user/libhbx.a $(NL_LIBS) $(TLS_LIBS) $(SECCOMP_LIBS)
# cert_test also runs the CLI (tests/../tools/hbx/hbx).
tests/cert_test: tools/hbx/hbx

bpf: bpf/syscalls.skel.h bpf/hbxtrace.skel.h
	$(MAKE) -C bpf

deps:
	tools/deps.sh

# Host unit tests, then the VM suite for each kernel we have headers for.
check: all ynl
	tools/check.sh

# The VM selftests on a debug build of Debian's 6.1 (KASAN, lockdep, kmemleak,
# fault injection; built once into build/debug-kernel), then a kmemleak scan.
check-debug: tools selftests ynl
	tools/check-debug.sh

# Three nodes under random churn for MINUTES (default 10) in one VM on KVER
# (default: the newest kernel); ends with "N passed, N failed" (tools/soak.sh).
soak: tools selftests tests/stoq_liar
	tools/soak.sh $(if $(filter command line environment,$(origin KVER)),--kernel $(KVER)) $(or $(MINUTES),10)

demo: all
	ko=$$(tools/kmod-build.sh $(KVER)) && \
		tools/vm/run --kernel $(KVER) --timeout 900 -- tools/demo.sh $$ko

bench: all tools/bench/readbench tools/bench/ktls_stream
	tools/bench/run --kernel $(KVER)

# make install [DESTDIR=] [PREFIX=/usr/local]: hbx, its man pages, bash
# completion, the systemd units and their wrapper.  The module is DKMS's job
# (make dkms, or the hyperbox-dkms package); make install-module installs
# one built against KDIR.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/hyperbox
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
install: tools
	install -D -m 0755 tools/hbx/hbx $(DESTDIR)$(SBINDIR)/hbx
	install -D -m 0755 tools/systemd/hbx-service $(DESTDIR)$(LIBEXECDIR)/hbx-service
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -D -m 0644 completion/hbx.bash $(DESTDIR)$(BASHCOMPDIR)/hbx
	for u in tools/systemd/*.service; do \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' \
		    -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/}; \
	done
	sed -i -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		$(DESTDIR)$(LIBEXECDIR)/hbx-service
install-module: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_DIR=updates modules_install

# make install-dkms [DESTDIR=]: the module's sources where DKMS wants them.
install-dkms:
	install -d $(DESTDIR)/usr/src/hyperbox-$(VERSION)
	cp -r Kbuild dkms.conf kmod $(DESTDIR)/usr/src/hyperbox-$(VERSION)/
	find $(DESTDIR)/usr/src/hyperbox-$(VERSION) \( -name '*.o' -o -name '*.ko' -o \
		-name '*.mod*' -o -name '.*.cmd' -o -name '*.symvers' -o -name '*.order' -o \
		-name '*.md' \) -delete

# make deb: hyperbox-dkms and hyperbox-tools in build/deb, built from the
# last commit (DEB_WORKTREE=1: from the working tree) in build/deb/src;
# fails if lintian finds an error; its full verdict is build/deb/lintian.log.
deb:
	rm -rf build/deb && mkdir -p build/deb/src
	$(if $(DEB_WORKTREE),git ls-files -co --exclude-standard -z | \
		xargs -0 cp --parents -t build/deb/src 2>/dev/null || true, \
		git archive HEAD | tar -x -C build/deb/src)
	cd build/deb/src && dpkg-buildpackage -b -us -uc > ../build.log 2>&1 || \
		{ tail -30 ../build.log >&2; exit 1; }
	lintian --fail-on error --tag-display-limit 0 -I build/deb/*.changes \
		> build/deb/lintian.log 2>&1; rc=$$?; cat build/deb/lintian.log; \
		ls build/deb/*.deb; exit $$rc

# The kernel's own ynl CLI (tools/net/ynl of linux-source-6.12), for
# selftests/ynl_test.sh; extracted, never committed.
YNL_TAR := $(lastword $(sort $(wildcard /usr/src/linux-source-6.12*.tar.xz)))
ynl: build/ynl/tools/net/ynl/cli.py
build/ynl/tools/net/ynl/cli.py:
	@test -n "$(YNL_TAR)" || { echo "no /usr/src/linux-source-6.12.tar.xz; run: make deps" >&2; exit 1; }
	rm -rf build/ynl && mkdir -p build/ynl
	tar -xJf $(YNL_TAR) -C build/ynl --strip-components=1 --wildcards \
		'*/tools/net/ynl/*' '*/Documentation/netlink/*.yaml'
	touch $@

# DKMS: the source tree as dkms.conf expects it, under /usr/src.
DKMS_SRC := /usr/src/hyperbox-$(VERSION)
dkms:
	rm -rf $(DKMS_SRC) && mkdir -p $(DKMS_SRC)
	cp -r Kbuild dkms.conf kmod $(DKMS_SRC)/
	find $(DKMS_SRC) -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' | xargs rm -f
	dkms remove -m hyperbox -v $(VERSION) --all >/dev/null 2>&1 || true
	dkms add -m hyperbox -v $(VERSION)

dkms-check: dkms tools selftests
	tools/dkms-check.sh $(VERSION) $(KVER)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean >/dev/null 2>&1
	rm -f $(LIB_OBJS) $(HBX_OBJS) user/libhbx.a tools/hbx/hbx tests/tls_pair tests/stoq_fetch tests/stoq_liar tests/*_test
	-$(MAKE) -C selftests clean
	-$(MAKE) -C bpf clean
	rm -rf build

tools/bench/readbench: tools/bench/readbench.c
	$(CC) $(CFLAGS) $(WARN) -o $@ $<

tools/bench/ktls_stream: tools/bench/ktls_stream.c user/libhbx.a
	$(CC) $(HBX_CFLAGS) -o $@ $< user/libhbx.a $(TLS_LIBS)
