# parrun - a parallel job runner.  See README.md.
#
#   make            build parrun and parrun-worker into $(BUILD)/
#   make demo       install what is missing, build, run the notes' examples
#   make test       install what the tests need, build, run every test
#                   (unit, bats, sanitizers, short fuzz)
#   make bench      the benchmark suite against the peers
#   make install    honours PREFIX and DESTDIR
#
# CFLAGS belongs to you; the flags parrun needs live in PR_CFLAGS.
# SANITIZE=address,undefined builds with the sanitizers (into build-san/).
# DEVELOPER=1 (set by make test and CI) adds -Werror.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
PKG_CONFIG ?= pkg-config

ifdef SANITIZE
BUILD   ?= build-san
else
BUILD   ?= build
endif

WARN = -Wall -Wextra -Wpedantic -Wstrict-prototypes -Wmissing-prototypes \
       -Wshadow -Wwrite-strings -Wformat=2 -Wvla -Wundef
ifeq ($(DEVELOPER),1)
WARN += -Werror
endif

PKGS       = libuv libssh2 libcjson libcrypto
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# The kernels dlopen OpenBLAS/LAPACKE on first use (lib/kernels/blas.h):
# the worker and the unit tests take only the headers; the bench's direct
# baseline links the libraries.
LAPACK_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags openblas lapacke 2>/dev/null)
LAPACK_LIBS   ?= $(shell $(PKG_CONFIG) --libs openblas lapacke 2>/dev/null)
DL_LIBS       ?= -ldl

PR_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
            -iquote lib $(WARN) $(DEP_CFLAGS) -MMD -MP
ifdef SANITIZE
PR_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
PR_LDFLAGS += -fsanitize=$(SANITIZE)
endif
LIBS = $(DEP_LIBS) -lm -lpthread

ifeq ($(V),1)
Q =
else
Q = @
endif

LIB_SRC    := $(sort $(wildcard lib/*.c))
KERNEL_SRC := $(sort $(wildcard lib/kernels/*.c))
CMD_SRC    := $(sort $(wildcard cmd/*.c))
WORKER_SRC := $(sort $(wildcard workers/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/*.c))
BENCH_SRC  := $(sort $(wildcard tests/bench/*.c))

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
KERNEL_OBJ := $(KERNEL_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ    := $(CMD_SRC:%.c=$(BUILD)/%.o)
WORKER_OBJ := $(WORKER_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ   := $(UNIT_SRC:%.c=$(BUILD)/%.o)
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

PARRUN  = $(BUILD)/parrun
WORKER  = $(BUILD)/parrun-worker
UNIT    = $(BUILD)/unit-tests

all: $(PARRUN) $(WORKER)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(PR_CFLAGS) $(CFLAGS) -c -o $@ $<

$(KERNEL_OBJ): PR_CFLAGS += $(LAPACK_CFLAGS)
$(WORKER_OBJ): PR_CFLAGS += $(LAPACK_CFLAGS)
$(UNIT_OBJ):   PR_CFLAGS += $(LAPACK_CFLAGS) -iquote tests/unit

$(BUILD)/libparrun.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libparrun_kernels.a: $(KERNEL_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(PARRUN): $(CMD_OBJ) $(BUILD)/libparrun.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(PR_LDFLAGS) $(LDFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/libparrun.a $(LIBS)

$(WORKER): $(WORKER_OBJ) $(BUILD)/libparrun_kernels.a $(BUILD)/libparrun.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(PR_LDFLAGS) $(LDFLAGS) -o $@ $(WORKER_OBJ) \
		$(BUILD)/libparrun_kernels.a $(BUILD)/libparrun.a $(DL_LIBS) $(LIBS)

$(UNIT): $(UNIT_OBJ) $(BUILD)/libparrun_kernels.a $(BUILD)/libparrun.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(PR_LDFLAGS) $(LDFLAGS) -o $@ $(UNIT_OBJ) \
		$(BUILD)/libparrun_kernels.a $(BUILD)/libparrun.a $(DL_LIBS) $(LIBS)

$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libparrun_kernels.a $(BUILD)/libparrun.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(PR_CFLAGS) $(LAPACK_CFLAGS) $(CFLAGS) $(PR_LDFLAGS) -o $@ $< \
		$(BUILD)/libparrun_kernels.a $(BUILD)/libparrun.a $(LAPACK_LIBS) \
		$(DL_LIBS) $(LIBS)

unit: $(UNIT)
bench-bins: $(BENCH_BIN)

# ---- tests -------------------------------------------------------------
# make test = install deps + build + unit + bats + the same under
# ASan/UBSan + short fuzz.  Each step is also a target of its own.
test: deps-test
	$(MAKE) DEVELOPER=1 check
	$(MAKE) DEVELOPER=1 SANITIZE=address,undefined check
	$(MAKE) lint
	$(MAKE) fuzz-short
	@echo "make test: all steps passed"

check: check-unit check-bats

check-unit: $(UNIT) all
	$(Q)tests/run-unit $(UNIT)

check-bats: all
	$(Q)PARRUN_BUILD=$(abspath $(BUILD)) PARRUN_SANITIZE=$(SANITIZE) \
		tests/run-bats

lint:
	$(Q)tests/lint

# regenerate the OPTIONS list of man/parrun.1 from cmd/opts.h
man: $(PARRUN)
	$(Q)tests/update-man $(PARRUN)

fuzz-short fuzz:
	$(Q)FUZZ_SECONDS=$(if $(filter fuzz,$@),300,10) tests/run-fuzz

deps-test:
	$(Q)tests/deps test

deps-demo:
	$(Q)tests/deps demo

demo: deps-demo
	$(MAKE) all
	$(Q)examples/demo.sh $(abspath $(BUILD))

bench: deps-bench
	$(MAKE) all bench-bins
	$(Q)tests/bench/run $(abspath $(BUILD)) full

bench-quick: deps-bench
	$(MAKE) all bench-bins
	$(Q)tests/bench/run $(abspath $(BUILD)) quick

deps-bench:
	$(Q)tests/deps bench

# ---- install -------------------------------------------------------------
MANPAGES := $(wildcard man/*.[1-8])

install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(PARRUN) $(WORKER) $(DESTDIR)$(BINDIR)/
	@for m in $(MANPAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		echo install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/parrun $(DESTDIR)$(BINDIR)/parrun-worker
	@for m in $(MANPAGES); do \
		s=$${m##*.}; b=$${m##*/}; \
		echo rm -f $(DESTDIR)$(MANDIR)/man$$s/$$b; \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$$b; \
	done

clean:
	rm -rf build build-san build-fuzz

.PHONY: man all unit bench-bins test check check-unit check-bats lint fuzz \
	fuzz-short deps-test deps-demo deps-bench demo bench bench-quick \
	install uninstall clean

-include $(LIB_OBJ:.o=.d) $(KERNEL_OBJ:.o=.d) $(CMD_OBJ:.o=.d) \
	$(WORKER_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
