# Orbital — the Makefile is the project's command interface.
#
#   make demo       install toolchains, build orbital + examples, start a node with the demo system
#   make tour       run each single-module example confined (scripts/demo.sh)
#   make test       every test: vet, gofmt check, race tests, WASI conformance, short fuzzing
#   make build      build bin/orbital (the device binary) and bin/orbital-server (+ embedded NATS, X11 display)
#   make examples   build every guest module in examples/ into build/wasm/
#   make bench      run the benchmarks of docs/bench/report.toml, record them, regenerate docs/BENCHMARKS.md's tables
#                   (make bench-report: only regenerate the tables; make bench-all: every benchmark once)
#   make lint       gofmt + go vet
#   make clean      remove build/ and bin/
#
# Toolchains: Go (host and wasip1 guests), plus clang/lld/wasi-libc and wabt
# for the C and WAT guests: run `scripts/install-deps.sh` once (as root).

# ---- variables (reuse these in other targets) -------------------------------

GO       ?= go
BUILD    ?= build
WASM     := $(BUILD)/wasm
OBJ      := $(BUILD)/obj

CLANG    ?= clang
WAT2WASM ?= wat2wasm

# Go guests: wasip1 command modules, or reactors with -buildmode=c-shared.
GO_WASM_ENV := GOOS=wasip1 GOARCH=wasm
GOFLAGS_WASM ?= -trimpath -buildvcs=false

# C guests. -ftls-model=local-exec: wasi-libc's errno is thread-local and clang 14
# only supports that model for wasm32-wasi. No -O at link time, so clang never runs wasm-opt (binaryen's
# wasm-opt rejects the bulk-memory code that -mbulk-memory produces).
WASI_TARGET  := --target=wasm32-wasi
WASI_CFLAGS  ?= -O2 -mbulk-memory -ftls-model=local-exec -Wall -Wextra
WASI_LDFLAGS ?= -Wl,--allow-undefined

WAT2WASM_FLAGS ?=

# ---- example discovery -------------------------------------------------------
# An example is a directory examples/NAME/. Its language is picked by the
# sources it holds (*.go, *.c or *.wat); it is a reactor when its
# orbital.toml says `type = "reactor"` (only [entry] can). Adding an example
# is adding a directory: no edit here.

example_names = $(patsubst examples/%/,%,$(sort $(dir $(wildcard examples/*/$(1)))))

GO_EXAMPLES  := $(call example_names,*.go)
C_EXAMPLES   := $(call example_names,*.c)
WAT_EXAMPLES := $(call example_names,*.wat)
EXAMPLES     := $(sort $(GO_EXAMPLES) $(C_EXAMPLES) $(WAT_EXAMPLES))
REACTORS     := $(patsubst examples/%/orbital.toml,%,$(shell grep -lEs \
	'^[[:space:]]*type[[:space:]]*=[[:space:]]*"reactor"' examples/*/orbital.toml))
MANIFESTS    := $(patsubst examples/%/orbital.toml,%,$(wildcard examples/*/orbital.toml))

EXAMPLE_WASM      := $(EXAMPLES:%=$(WASM)/%.wasm)
EXAMPLE_MANIFESTS := $(patsubst %,$(WASM)/%.orbital.toml,$(filter $(EXAMPLES),$(MANIFESTS)))

is_reactor = $(filter $(1),$(REACTORS))
c_objs     = $(patsubst examples/%.c,$(OBJ)/%.o,$(wildcard examples/$(1)/*.c))

# ---- targets -----------------------------------------------------------------

.PHONY: examples clean FORCE deps build demo tour test lint fuzz bench bench-report bench-all

BIN       := bin/orbital
SERVER_BIN := bin/orbital-server
# A count, not a duration: duration-based -fuzztime hits a race in Go's fuzz
# coordinator (golang/go#75804, fixed in Go 1.27) that fails a clean run with
# "context deadline exceeded". Minimizing a new input is bounded too.
FUZZTIME  ?= 100000x
FUZZMIN   ?= 5s
# Packages with fuzz targets, as "package:FuzzName".
FUZZ_TARGETS := ./internal/subject:FuzzMatch ./internal/bus:FuzzPermits ./internal/node/config:FuzzParseConfig ./internal/manifest:FuzzParse ./internal/manifest:FuzzPositions ./internal/engine:FuzzCompile ./internal/engine:FuzzCustomSection ./internal/engine:FuzzDecodeEnvelope ./internal/shape:FuzzParse ./internal/shape:FuzzValidate ./internal/capability:FuzzParseCallFlag ./internal/library:FuzzCallArgs ./internal/pack:FuzzOpen ./internal/fetch:FuzzParseRef ./internal/leb128:FuzzUint32 ./internal/wasi:FuzzFunctions ./internal/cluster:FuzzWire ./internal/raster:FuzzSubmit ./drivers/wire:FuzzDecode ./examples/vision/pico:FuzzParse ./examples/vision/faces:FuzzDetect ./internal/benchreport:FuzzReplace ./internal/benchreport:FuzzReadResults

## deps: install the guest toolchains from apt (needs root; no-op when present)
deps:
	@if [ "$$(id -u)" -eq 0 ]; then scripts/install-deps.sh; \
	elif command -v sudo >/dev/null; then sudo scripts/install-deps.sh; \
	else echo "run scripts/install-deps.sh as root first"; fi

## build: build the device binary (joins a NATS server), orbital-server (the same with an embedded NATS server and the X11 display) and the camera driver as a program of its own
# CGO_ENABLED=0: pure Go, statically linked (go-landlock's psx helper
# would otherwise pull in cgo and the dynamic loader).
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/orbital
	CGO_ENABLED=0 $(GO) build -tags embednats,x11 -o $(SERVER_BIN) ./cmd/orbital
	CGO_ENABLED=0 $(GO) build -o bin/camera-driver ./drivers/camera/cmd/camera-driver
	cp drivers/camera/orbital.toml bin/camera-driver.orbital.toml

## demo: build everything and start a node with the demo system, as a one-node cluster other nodes may join (Ctrl-C stops it)
demo: deps build examples
	$(SERVER_BIN) up --cluster demo --cluster-listen 127.0.0.1:0

## tour: run each single-module example through the kernel, confined
tour: deps build examples
	scripts/demo.sh $(BIN) $(WASM)

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags embednats,x11 ./internal/cluster ./internal/node/screen ./cmd/orbital
	$(GO_WASM_ENV) $(GO) vet ./examples/...

## test: every test (race detector on), then short fuzz runs
test: deps examples lint
	@# Compile every example once, without -race, into the tests' shared compile cache.
	ORBITAL_WARM=1 $(GO) test -count=1 -v -run TestWarm ./internal/testwasm/warm
	$(GO) test -race -count=1 -timeout 20m ./...
	@# The embedded NATS server (bin/orbital-server's build) routed over TLS.
	$(GO) test -race -count=1 -tags embednats ./internal/cluster
	@# The X11 display wired into the node (bin/orbital-server's build).
	$(GO) test -race -count=1 -tags x11 ./internal/node/screen
	$(MAKE) --no-print-directory fuzz

## fuzz: run each fuzz target for FUZZTIME
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) $$pkg || exit 1; \
	done

## bench: run the benchmarks of docs/bench/report.toml (progress on the terminal), record them in docs/bench/results.txt and regenerate docs/BENCHMARKS.md's tables (BENCH_ONLY=PKG: only those runs)
bench: examples
	$(GO) run ./internal/benchreport/cmd/benchreport -run $(if $(BENCH_ONLY),-only $(BENCH_ONLY))

## bench-report: regenerate docs/BENCHMARKS.md's tables from docs/bench/results.txt
bench-report:
	$(GO) run ./internal/benchreport/cmd/benchreport

## bench-all: every benchmark of every package once, printed only
bench-all: examples
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

## examples: build every example into build/wasm/NAME.wasm (+ NAME.orbital.toml)
examples: $(EXAMPLE_WASM) $(EXAMPLE_MANIFESTS)

## clean: remove all build output
clean:
	rm -rf $(BUILD) bin

.SECONDEXPANSION:

# Go: always hand over to `go build` (FORCE): its cache makes a no-op rebuild
# cheap and it tracks imports across packages, which make cannot. The output
# only replaces NAME.wasm when it changed, so its mtime stays meaningful.
$(GO_EXAMPLES:%=$(WASM)/%.wasm): $(WASM)/%.wasm: FORCE | $(WASM)
	$(GO_WASM_ENV) $(GO) build $(GOFLAGS_WASM) $(if $(call is_reactor,$*),-buildmode=c-shared) -o $@.tmp ./examples/$*
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

# C: compile each examples/NAME/*.c to build/obj/NAME/*.o, then link.
$(OBJ)/%.o: examples/%.c
	@mkdir -p $(@D)
	$(CLANG) $(WASI_TARGET) $(WASI_CFLAGS) -c $< -o $@

$(C_EXAMPLES:%=$(WASM)/%.wasm): $(WASM)/%.wasm: $$(call c_objs,$$*) | $(WASM)
	$(CLANG) $(WASI_TARGET) $(if $(call is_reactor,$*),-mexec-model=reactor) $(WASI_LDFLAGS) $^ -o $@

# WAT: one examples/NAME/*.wat per example.
$(WAT_EXAMPLES:%=$(WASM)/%.wasm): $(WASM)/%.wasm: $$(wildcard examples/$$*/*.wat) | $(WASM)
	$(WAT2WASM) $(WAT2WASM_FLAGS) $< -o $@

# Manifests travel next to the module they describe.
$(WASM)/%.orbital.toml: examples/%/orbital.toml | $(WASM)
	cp $< $@

$(WASM):
	@mkdir -p $@

FORCE:
