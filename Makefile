# dosguard: `make` builds the plugin and the CLI, `make demo` runs the main
# job on the bundled sample (dry-run), `make test` runs every test.
GO      ?= go
SO      := out_dosguard.so
CLI     := dosguard
GOFILES := $(shell find . -name '*.go' -not -path './docker/*' -not -name '*_test.go') go.mod go.sum
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# fail a target with a bare "context deadline exceeded" at the deadline on a
# loaded machine (Go issue 75804, fixed in Go 1.27).
FUZZTIME ?= 20000x
# Fuzz targets run briefly in `make test`: package:target.
FUZZ    := ./chunk:FuzzReader ./chunk:FuzzLookup ./chunk:FuzzParsePath ./chunk/logline:FuzzParse \
           ./detector:FuzzParseAddr ./detector:FuzzClientAddr ./detector:FuzzParseQuery \
           ./detector:FuzzCompileCond ./notify:FuzzSubject

.PHONY: all demo test test-go test-nocgo test-race fuzz vet bench bench-flb docker clean

all: $(SO) $(CLI)

$(SO): $(GOFILES)
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath -o $@ ./plugin

$(CLI): $(GOFILES)
	$(GO) build -trimpath -o $@ ./cmd/dosguard

demo: $(CLI)
	./$(CLI) replay -c docker/fluent-bit.conf docker/samples/apache_access.log

test: $(SO) vet test-nocgo test-go test-race fuzz
	cd docker && $(GO) test -count=1 ./...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

# The domain packages must build and pass without cgo.
test-nocgo:
	CGO_ENABLED=0 $(GO) test -count=1 ./chunk/... ./detector/... ./quiet/... ./ban/... ./policy/... ./target/... ./store/... ./acl/... ./wafipset/... ./enforce/... ./notify/... ./conf/... ./guard/... ./cmd/... \
	  ./metrics/... ./peaks/... ./shared/...

# Everything, including the real .so driven by the C host (plugin/).
test-go:
	$(GO) test -count=1 ./...

# The packages with goroutines or state shared across them, under the race
# detector (needs cgo).
test-race:
	CGO_ENABLED=1 $(GO) test -race -count=1 ./quiet/... ./guard/... ./notify/... ./enforce/... ./acl/... ./wafipset/... ./cmd/... \
	  ./metrics/... ./shared/...

fuzz:
	@set -e; for t in $(FUZZ); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./chunk/ ./detector/ ./guard/ ./plugin/ ./metrics/ ./shared/

# dosguard's CPU cost inside a real Fluent Bit (on PATH, or FLUENT_BIT=path),
# against the same pipeline into out null; not part of make test. See
# bench/flb.sh for CLIENTS, LINES, ROUNDS, CPU (the CPU runs are pinned to)
# and MALLOC (glibc malloc thresholds fixed for both runs, or left as is).
CLIENTS ?= 1000 20000
bench-flb:
	@bench/flb.sh --check
	$(MAKE) $(SO)
	bench/flb.sh $(CLIENTS)

docker:
	docker build -f docker/Dockerfile -t dosguard:dev .

clean:
	rm -f $(SO) out_dosguard.h $(CLI)
