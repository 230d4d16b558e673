# kiln: `make demo` runs the main job on bundled data, `make test` runs every test.

GO      ?= go
CORPUS  ?= $(if $(KILN_CORPUS),$(KILN_CORPUS),../shared/corpus/onnx)
BIN     := bin

# Conformance floors: `make test` fails if a suite passes fewer tests than this.
# They are the counts reached when they were last raised; raise them as kiln improves.
MIN_NODE   ?= 1573
MIN_SIMPLE ?= 21
MIN_PYCONV ?= 82
MIN_PYOP   ?= 35
MIN_MODELS ?= 13

.PHONY: all build demo test unit conformance fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/krun ./cmd/krun
	$(GO) build -o $(BIN)/kconv ./cmd/kconv

demo: build
	$(GO) run ./examples/mnist

unit:
	$(GO) vet ./...
	$(GO) test ./...

conformance: build
	@if [ -d "$(CORPUS)/node" ]; then \
		set -e; \
		echo "== ONNX conformance: node ($(CORPUS)/node)"; \
		$(BIN)/krun conformance -q --min-pass $(MIN_NODE) --json $(BIN)/conformance-node.json $(CORPUS)/node; \
		echo "== ONNX conformance: simple"; \
		$(BIN)/krun conformance -q --min-pass $(MIN_SIMPLE) $(CORPUS)/simple; \
		echo "== ONNX conformance: pytorch-converted"; \
		$(BIN)/krun conformance -q --min-pass $(MIN_PYCONV) $(CORPUS)/pytorch-converted; \
		echo "== ONNX conformance: pytorch-operator"; \
		$(BIN)/krun conformance -q --min-pass $(MIN_PYOP) $(CORPUS)/pytorch-operator; \
		echo "== ONNX conformance: models"; \
		$(BIN)/krun conformance -v --runs 1 --timeout 15m --min-pass $(MIN_MODELS) $(CORPUS)/models; \
	else \
		echo "== ONNX conformance suites skipped: no corpus at $(CORPUS) (set KILN_CORPUS to the ONNX corpus directory)"; \
	fi

test: unit conformance

fuzz:
	$(GO) test ./formats/onnx -run '^$$' -fuzz FuzzDecode -fuzztime 30s
	$(GO) test ./formats/npy -run '^$$' -fuzz FuzzRead -fuzztime 30s

clean:
	rm -rf $(BIN)
