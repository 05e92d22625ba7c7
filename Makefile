# mfs build and test entry points. `make demo` and `make test` set up a fresh Debian machine.
SHELL := /bin/bash
GO ?= go
BIN := bin/mfs
PKGS := libseccomp-dev pkg-config fuse3 rsync attr mergerfs sqlite3 busybox-static
export CGO_ENABLED ?= 1

.PHONY: all deps build test lint bench bench-quick bench-report fuzz demo clean

all: build

# Install the system packages mfs and its tests need; a quiet no-op when all are present.
deps:
	@missing=""; for p in $(PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

build:
	$(GO) build -o $(BIN) ./cmd/mfs

test: deps lint
	$(GO) test -race -count=1 -timeout 12m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./vfs/...
	$(GO) test -run '^$$' -bench RoundTrip -count 5 ./intercept/
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 5 ./bench/

# Side by side with native and mergerfs, about half a minute; see bench/RESULTS.md for full runs.
bench-quick: deps build
	./$(BIN) bench --quick

# Reruns the set bench/RESULTS.md analyses (40-60 min; BENCH_REPORT=quick or reps
# for fewer sets) and regenerates its tables below the marker line.
bench-report: deps build
	scripts/bench-report.sh ./$(BIN) bench/RESULTS.md

# Fuzz each parser for FUZZTIME (not part of make test). A crasher lands in
# testdata/fuzz/ and then runs as a regression case in every make test.
FUZZTIME ?= 60s
FUZZ := ./vfs/config:FuzzParseBranches ./vfs/config:FuzzParseOptions ./vfs:FuzzParseDirents ./vfs:FuzzCleanAbs ./vfs:FuzzResolve
fuzz:
	@for t in $(FUZZ); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

demo: deps build
	./scripts/demo.sh $(BIN)

clean:
	rm -rf bin
	$(GO) clean -testcache
