# SPDX-License-Identifier: GPL-2.0
#
# make            build the module against KDIR, the selftests and the tools
# make check      install what is missing, build, run every test (also on
#                 the debugging kernel, built once per machine)
# make deps       install build and test dependencies (Debian, as root)
# make vm CMD=..  run a command as root in the test VM (KVER=6.1 or 6.12)
# make bench      loopback benchmark, ULP vs plain TCP and user space, in the VM
#                 (KVER; ICOUNT=1: instructions as time, no drift)
# make fuzz       libFuzzer over kmod/lib (FUZZ_SECONDS each), then the in-kernel fuzzers
#                 in the VM: FUZZ_FRAMES hostile frames, FUZZ_OPS syscalls per kernel
# make checkpatch run checkpatch --strict on kmod/
# make install    causalctl, causald, their bash completion and man pages
#                 (PREFIX=/usr/local, DESTDIR)
# make clean
#
# KDIR defaults to the running kernel's build tree when there is one, else to
# the headers of the VM kernel KVER (default 6.1). V=1 shows every command.

.DEFAULT_GOAL := all
TOP := $(CURDIR)
# The one version of the module (MODULE_VERSION, /sys/module/causal/version)
# and of the tools (--version); a package build may set it.
CAUSAL_VERSION ?= $(shell git -C $(TOP) describe --always --dirty 2>/dev/null || echo unknown)
KVER ?= 6.1
B := build

ifeq ($(V),1)
Q :=
else
Q := @
MAKEFLAGS += --no-print-directory
endif

HOST_KDIR := /lib/modules/$(shell uname -r)/build
ifeq ($(wildcard $(HOST_KDIR)),)
KDIR ?= /lib/modules/$(shell $(TOP)/tools/kernel-release $(KVER))/build
else
KDIR ?= $(HOST_KDIR)
endif

CC ?= gcc
CFLAGS ?= -O2 -g
WARNINGS := -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers
USER_CFLAGS = $(CFLAGS) $(WARNINGS) -Ikmod/uapi -Ikmod/lib -Ibpf -Iuser/lib

# kselftest harness and checkpatch come from Debian's linux-source tarball.
LINUX_SRC_TAR = $(lastword $(sort $(wildcard /usr/src/linux-source-*.tar.xz)))
KSRC := $(B)/ksrc
KSRC_FILES := tools/testing/selftests/kselftest_harness.h \
	tools/testing/selftests/kselftest.h \
	scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch

KMOD_SRCS := $(filter-out %.mod.c,$(wildcard kmod/*.c kmod/*.h kmod/lib/*.c kmod/lib/*.h \
	kmod/uapi/linux/*.h))
SELFTESTS := $(patsubst selftests/%.c,$(B)/selftests/%,$(wildcard selftests/causal_*.c))
UNIT_TESTS := $(patsubst user/tests/%.c,$(B)/unit/%,$(wildcard user/tests/test_*.c))

TOOLS := $(B)/tools/demo_node $(B)/tools/causal_bench $(B)/tools/log_writer
BINS := $(B)/bin/causalctl $(B)/bin/causald

.PHONY: FORCE all install module modules-vm modules-debug selftests unit-build fuzz-build fuzz tools bpf check demo \
	bench deps vm checkpatch clean

all: module selftests unit-build tools

module:
	$(Q)$(MAKE) -C $(KDIR) M=$(TOP) W=1 CAUSAL_VERSION=$(CAUSAL_VERSION) modules

# One build tree per test kernel (a symlink farm of the sources only), so both
# can coexist with an in-tree build.
VM_RELEASES = $(shell $(TOP)/tools/kernel-release --list)
modules-vm:
	$(Q)set -e; for rel in $(VM_RELEASES); do \
		d=$(TOP)/$(B)/mod/$$rel; mkdir -p $$d; \
		find $$d -type l -delete; \
		for f in Kbuild kmod/Kbuild $(KMOD_SRCS); do \
			mkdir -p $$d/$$(dirname $$f); ln -sf $(TOP)/$$f $$d/$$f; \
		done; \
		echo "  MODULE  $$rel"; \
		$(MAKE) -C /lib/modules/$$rel/build M=$$d W=1 \
			CAUSAL_VERSION=$(CAUSAL_VERSION) modules \
			$(if $(filter 1,$(V)),,>$$d/build.log 2>&1) || \
			{ cat $$d/build.log; exit 1; }; \
		! grep -E 'warning:|error:' $$d/build.log 2>/dev/null || \
			{ echo "modules-vm: warnings on $$rel" >&2; exit 1; }; \
	done

# The module for the debugging kernel, which is built (once, cached outside
# the tree) if it is not there yet.
modules-debug:
	$(Q)rel=$$($(TOP)/tools/vm/debug-kernel) && \
		$(MAKE) modules-vm VM_RELEASES=$$rel

$(KSRC)/.stamp:
	@test -n "$(LINUX_SRC_TAR)" || { echo "no /usr/src/linux-source-*.tar.xz: run 'make deps'" >&2; exit 1; }
	$(Q)mkdir -p $(KSRC)
	$(Q)tar -xJf $(LINUX_SRC_TAR) -C $(KSRC) --strip-components=1 \
		$(addprefix $(notdir $(LINUX_SRC_TAR:.tar.xz=))/,$(KSRC_FILES))
	$(Q)touch $@

selftests: $(SELFTESTS)

LIB_SRCS := $(wildcard kmod/lib/*.c)

# The tools' library (event log, analysis, export, helpers) is plain C on
# json-c; with the shared codec of kmod/lib it is one static library, from
# which each program links what it uses. The unit tests build the sources
# themselves, with the sanitizers.
TOOLS_LIB_SRCS := $(wildcard user/lib/*.c)
TOOLS_LIB_DEPS := $(TOOLS_LIB_SRCS) $(wildcard user/lib/*.h) bpf/causal_event.h
TOOLS_LIBS := -ljson-c -lz -lm
LIBCAUSAL := $(B)/lib/libcausal.a
LIBCAUSAL_OBJS := $(patsubst %.c,$(B)/lib/%.o,$(TOOLS_LIB_SRCS) $(LIB_SRCS))

$(B)/lib/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(USER_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBCAUSAL): $(LIBCAUSAL_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && $(AR) rcs $@ $^

-include $(LIBCAUSAL_OBJS:.o=.d)

$(B)/selftests/%: selftests/%.c selftests/*.h $(KMOD_SRCS) $(LIBCAUSAL) $(KSRC)/.stamp
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(USER_CFLAGS) -I$(KSRC)/tools/testing/selftests -o $@ $< \
		$(LIBCAUSAL) -lpthread

unit-build: $(UNIT_TESTS)


$(B)/unit/%: user/tests/%.c $(wildcard user/tests/*.h) $(KMOD_SRCS) $(TOOLS_LIB_DEPS) \
		$(KSRC)/.stamp
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(USER_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -I$(KSRC)/tools/testing/selftests \
		-o $@ $< $(LIB_SRCS) $(TOOLS_LIB_SRCS) $(TOOLS_LIBS)

# libFuzzer harnesses over kmod/lib (user/fuzz/); tools/fuzz/libfuzzer runs
# them over their seed corpus, 'make fuzz' for FUZZ_SECONDS each.
FUZZERS := $(patsubst user/fuzz/%.c,$(B)/fuzz/%,$(wildcard user/fuzz/fuzz_*.c))
FUZZ_CFLAGS = -g -O1 $(WARNINGS) -Ikmod/uapi -Ikmod/lib \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 600
FUZZ_SEED ?= 1
FUZZ_FRAMES ?= 1000000
FUZZ_OPS ?= 1000000

fuzz-build: $(FUZZERS)

$(B)/fuzz/%: user/fuzz/%.c user/tests/test_bytes.h $(KMOD_SRCS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS)

fuzz: fuzz-build modules-vm modules-debug selftests
	$(Q)$(TOP)/tools/fuzz/libfuzzer -t $(FUZZ_SECONDS) -s $(FUZZ_SEED)
	$(Q)$(TOP)/tools/fuzz/vm -f $(FUZZ_FRAMES) -n $(FUZZ_OPS) -s $(FUZZ_SEED)

tools: $(TOOLS) $(BINS)

# BPF: vmlinux.h from the running kernel's BTF (VMLINUX_BTF=file for
# another, VMLINUX_H=header to skip generation); CO-RE relocates the object
# to the kernel it runs on. The skeleton embeds the object in the tools.
CLANG ?= clang
BPFTOOL ?= bpftool
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

$(B)/bpf/vmlinux.h:
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)if [ -n "$(VMLINUX_H)" ]; then cp "$(VMLINUX_H)" $@; \
	elif [ -r $(VMLINUX_BTF) ]; then $(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@; \
	else echo "no BTF at $(VMLINUX_BTF): give VMLINUX_BTF=file or VMLINUX_H=header" >&2; exit 1; fi

$(B)/bpf/causal.bpf.o: bpf/causal.bpf.c bpf/causal_event.h kmod/lib/causal_tp_args.h $(B)/bpf/vmlinux.h
	@echo "  BPF     $@"
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
		-I$(B)/bpf -Ibpf -Ikmod/lib -c $< -o $@

$(B)/bpf/causal.skel.h: $(B)/bpf/causal.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name causal_bpf > $@.tmp && mv $@.tmp $@

bpf: $(B)/bpf/causal.skel.h

# Rewritten only when the version changes: the tools are rebuilt then, and
# say the version the module built with them has.
$(B)/version.h: FORCE
	@mkdir -p $(dir $@)
	$(Q)v='#define CAUSAL_VERSION "$(CAUSAL_VERSION)"'; \
		[ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" >$@

TOOL_CFLAGS = $(USER_CFLAGS) -I$(B)/bpf -include $(B)/version.h
TRACER_DEPS := user/tracer.c user/tracer.h $(B)/bpf/causal.skel.h $(LIBCAUSAL) \
	$(B)/version.h

$(B)/bin/causalctl: user/causalctl.c user/causalctl_analyze.c user/causalctl.h $(TRACER_DEPS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(TOOL_CFLAGS) -o $@ user/causalctl.c user/causalctl_analyze.c \
		user/tracer.c $(LIBCAUSAL) -lbpf -lelf -lz $(TOOLS_LIBS)

$(B)/bin/causald: user/causald.c $(TRACER_DEPS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(TOOL_CFLAGS) -o $@ user/causald.c user/tracer.c $(LIBCAUSAL) \
		-lbpf -lelf -lz -lmicrohttpd -lpthread $(TOOLS_LIBS)

$(B)/tools/demo_node: tools/demo/demo_node.c kmod/uapi/linux/causal.h $(LIBCAUSAL)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(USER_CFLAGS) -o $@ $< $(LIBCAUSAL)

$(B)/tools/causal_bench: tools/bench/causal_bench.c $(LIBCAUSAL)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(USER_CFLAGS) -o $@ $< $(LIBCAUSAL) -lpthread

# The log writer's hot path: build/tools/log_writer [N [FILE]] prints ns/event.
$(B)/tools/log_writer: tools/bench/log_writer.c $(LIBCAUSAL)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(USER_CFLAGS) -o $@ $< $(LIBCAUSAL) $(TOOLS_LIBS)

# The tools with their bash completion (tools/completion) and man pages;
# the module installs through DKMS or modules_install.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
install: $(BINS)
	$(Q)install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR)
	$(Q)install -m 0755 $(BINS) $(DESTDIR)$(SBINDIR)/
	$(Q)install -m 0644 docs/man/causalctl.8 docs/man/causald.8 $(DESTDIR)$(MANDIR)/man8/
	$(Q)install -m 0644 tools/completion/causalctl tools/completion/causald \
		$(DESTDIR)$(BASHCOMPDIR)/

deps:
	$(Q)$(TOP)/tools/deps

# Loopback benchmark, ULP against length-framed TCP and the protocol in user
# space, in the test VM (KVER); ICOUNT=1 counts instructions instead of host
# time (tools/vm/run -i), so the figures do not drift with the host's load.
bench: deps
	$(Q)$(MAKE) all modules-vm
	$(Q)$(TOP)/tools/vm/run -k $(KVER) -c 2 -t 3600 $(if $(filter 1,$(ICOUNT)),-i) \
		-- tools/bench/run.sh

# On a host that can load modules the demo runs right here; elsewhere in the
# test VM (KVER).
demo: deps
	$(Q)$(MAKE) all modules-vm
	$(Q)if [ -d $(HOST_KDIR) ] && [ -e /proc/modules ]; then \
		tools/demo/run.sh kmod/causal.ko $(B)/tools/demo_node $(B)/bin $(TOP)/$(B)/demo; \
	else \
		rel=$$(tools/kernel-release $(KVER)); \
		tools/vm/run -k $$rel -t 300 -w $(B)/demo -- tools/demo/run.sh \
			$(B)/mod/$$rel/kmod/causal.ko $(B)/tools/demo_node $(B)/bin \
			$(TOP)/$(B)/demo; \
	fi

check: deps
	$(Q)$(MAKE) all modules-vm modules-debug fuzz-build
	$(Q)$(TOP)/tools/check

vm: modules-vm selftests
	$(Q)$(TOP)/tools/vm/run -k $(KVER) -- $(CMD)

# Five exceptions, each for one reason: our proto_ops are copied from the
# live socket at run time, so they cannot be const (as in net/tls); trace
# event headers use the TRACE_EVENT layout that the alignment checks do not
# understand, and TRACE_DEFINE_ENUM statements from a symbol list; the compat header is the one place for version tests; the
# wire header's list of error names is a bare symbol list, as trace headers
# keep them (include/trace/events/rxrpc.h), for initializers and
# __print_symbolic alike; the uapi header's helper is __inline__, which C90
# programs (and the kernel's own check of uapi headers, -std=c90) accept.
CHECKPATCH := perl $(KSRC)/scripts/checkpatch.pl --strict --no-tree --terse \
	--ignore CONST_STRUCT -f
checkpatch: $(KSRC)/.stamp
	$(Q)$(CHECKPATCH) $(filter-out %_trace.h %_compat.h %/causal_wire.h %/uapi/linux/causal.h,$(filter %.c %.h,$(KMOD_SRCS)))
	$(Q)$(CHECKPATCH) --ignore INLINE $(filter %/uapi/linux/causal.h,$(KMOD_SRCS))
	$(Q)$(CHECKPATCH) --ignore COMPLEX_MACRO $(filter %/causal_wire.h,$(KMOD_SRCS))
	$(Q)$(CHECKPATCH) --ignore OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT,TRAILING_SEMICOLON,MACRO_ARG_UNUSED \
		$(filter %_trace.h,$(KMOD_SRCS))
	$(Q)$(CHECKPATCH) --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON \
		$(filter %_compat.h,$(KMOD_SRCS))

clean:
	$(Q)if [ -d $(KDIR) ]; then $(MAKE) -C $(KDIR) M=$(TOP) clean; fi
	$(Q)rm -rf $(B)
