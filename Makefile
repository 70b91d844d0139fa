# minzheng - build, run and test.  See README.md.
#
#   make deps    install missing Debian packages (and web packages)
#   make         build build/minzheng
#   make run     deps + build + demo database + serve on 127.0.0.1:8080
#   make test    deps + build + every suite (also under ASan+UBSan)
#   make bench   performance runs -> docs/benchmarks.md

CC      ?= cc
# libcrypto (OpenSSL) only for HMAC-SHA1 in TOTP (src/auth/totp.c): libsodium has no SHA-1.
# pangocairo + cairo: printable PDFs (src/core/pdf.c), with fonts-noto-cjk.
PKGS    := libmicrohttpd jansson sqlite3 libsodium libzip expat xlsxwriter libcrypto libpq opencc pangocairo cairo
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wno-unused-parameter
CSTD    := -std=c17 -D_GNU_SOURCE
CFLAGS  ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -Iinclude -Isrc -Ibuild/gen $(PKG_CFLAGS) -MMD -MP
LIBS    := $(PKG_LIBS) -lcsv -lpthread -lm

BUILD   ?= build
SRC     := $(sort $(wildcard src/*/*.c src/modules/*/*.c))
MAIN    := src/cli/main.c
LIBSRC  := $(filter-out $(MAIN),$(SRC))
OBJ     := $(LIBSRC:%.c=$(BUILD)/obj/%.o)
# Generated sources (in build/gen, shared by every BUILD): the pinyin table.
GEN_SRC := build/gen/pinyin_table.c
OBJ     += $(GEN_SRC:%.c=$(BUILD)/obj/%.o)
UNIHAN_READINGS ?= /usr/share/unicode/Unihan_Readings.txt.bz2
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
SAMPLE_SRC := $(sort $(wildcard tests/sample/*.c))

.PHONY: all deps run test unit api e2e fuzz-replay asan bench clean web format check-format

all: $(BUILD)/minzheng $(BUILD)/minzheng-sample

# Quiet by default; V=1 shows the commands.
Q := $(if $(V),,@)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libminzheng.a: $(OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/minzheng: $(BUILD)/obj/$(MAIN:.c=.o) $(BUILD)/libminzheng.a
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

# The binary with the sample module of tests/sample linked in (never shipped).
$(BUILD)/minzheng-sample: $(SAMPLE_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/libminzheng.a
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libminzheng.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< $(BUILD)/libminzheng.a $(LIBS) -lcmocka

# The registry's street list (NBS codes) compiled in: src/registry/divisions.c
# includes the generated rows.
build/gen/tianjin_streets.inc: data/tianjin-streets.csv
	@mkdir -p build/gen
	awk -F, 'NR > 1 && NF >= 3 { gsub(/\r/, ""); printf "{\"%s\", \"%s\", \"%s\"},\n", $$1, $$2, $$3 }' $< > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/src/registry/divisions.o: build/gen/tianjin_streets.inc

# The policy library's first document, the portal record of data/seed/, as the
# bytes of a C array: src/modules/policy/seed.c includes them and parses them.
build/gen/policy_seed.inc: data/seed/tianjin-2012-civil-affairs-work-plan.txt
	@mkdir -p build/gen
	od -An -v -tx1 $< | awk '{ for (i = 1; i <= NF; i++) printf "0x%s,", $$i; printf "\n" }' > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/src/modules/policy/seed.o: build/gen/policy_seed.inc

unit-bin: $(UNIT_BIN)

# The pinyin table, generated from Debian's Unihan readings (never committed).
build/tools/gen_pinyin: tools/gen_pinyin.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $@")
	$(Q)$(CC) $(CSTD) $(WARN) -O2 -o $@ $<

build/gen/pinyin_table.c: build/tools/gen_pinyin $(UNIHAN_READINGS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  GEN     $@")
	$(Q)bzcat $(UNIHAN_READINGS) | build/tools/gen_pinyin > $@.tmp 2>$@.log || { cat $@.log; exit 1; }
	@mv $@.tmp $@

deps:
	@scripts/deps.sh

web:
	@scripts/web.sh

run: deps all web
	@scripts/run.sh

# Every suite; the summary line comes from scripts/test.sh.
NPROC := $(shell nproc 2>/dev/null || echo 2)

test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all unit-bin
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all unit-bin
	@$(MAKE) --no-print-directory web
	@scripts/test.sh

bench: deps all $(BUILD)/bench/verify $(BUILD)/bench/payroll $(BUILD)/bench/persons_csv
	@scripts/bench.sh

# The monthly payroll benchmark of the assistance module (bench/payroll.c).
$(BUILD)/bench/payroll: bench/payroll.c $(BUILD)/libminzheng.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libminzheng.a $(LIBS)

# The persons CSV of the 1,000,000-person import benchmark (bench/persons_csv.c).
$(BUILD)/bench/persons_csv: bench/persons_csv.c $(BUILD)/libminzheng.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libminzheng.a $(LIBS)

# The bulk re-check benchmark of the verification module (bench/verify.c).
$(BUILD)/bench/verify: bench/verify.c $(BUILD)/libminzheng.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libminzheng.a $(LIBS)

format:
	clang-format -i $(SRC) $(wildcard include/mz/*.h src/*/*.h tests/unit/*.c tests/sample/*.c tests/fuzz/*.c)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# libFuzzer targets (clang); each replays its corpus in make test. The library
# is compiled once with clang and the sanitizers, then linked into each target.
FUZZ_CFLAGS := $(CSTD) -g -O1 -fsanitize=address,undefined -Iinclude -Isrc -Ibuild/gen $(PKG_CFLAGS)
FUZZ_OBJ := $(LIBSRC:%.c=build/fuzz/obj/%.o) $(GEN_SRC:%.c=build/fuzz/obj/%.o)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CLANG   $<")
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build/fuzz/libminzheng.a: $(FUZZ_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libminzheng.a
	@$(if $(V),,echo "  FUZZ    $@")
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libminzheng.a $(LIBS)
