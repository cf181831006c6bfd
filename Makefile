# Shepherd: a Kubernetes-compatible orchestrator for lab clusters.

GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS  := -X github.com/shepherd-lab/shepherd/internal/version.GitCommit=$(COMMIT)
# go test's per-package limit; the whole suite stays well inside CI's.
TEST_TIMEOUT ?= 25m

.PHONY: all build deps test test-vm run lint bench test-image clean

all: build

## build: compile every command into bin/ (shepherd-apiserver, ...)
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

## deps: install what make run and make test need from Debian (as root), or name what is missing (hack/deps.sh lists it)
deps:
	./hack/deps.sh all

## test: the whole test suite (unit, integration, e2e); root-only tests skip with a reason when not root
test:
	./hack/deps.sh test
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-vm: the runtime's cgroup v2 tests inside a qemu VM (needs qemu-system-x86 and a linux-image-cloud-amd64 kernel)
test-vm:
	./hack/deps.sh test
	$(GO) test -count=1 -v ./test/vm/

## run: build, then start a single-node cluster in the foreground (Ctrl-C stops it)
run:
	./hack/deps.sh run
	$(MAKE) build
	./hack/run.sh

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## bench: the performance benchmarks; figures go to stdout
bench:
	$(GO) run ./test/bench/apiserver
	$(GO) run ./test/bench/scheduler
	$(GO) run ./test/bench/runtime
	$(GO) run ./test/bench/kubelet
	$(GO) run ./test/bench/controllermanager

## test-image: write _output/images/busybox.tar (a busybox image from Debian's busybox-static) for offline use
test-image:
	$(GO) run ./hack/testimage -o _output/images/busybox.tar

clean:
	rm -rf $(BIN) _output
