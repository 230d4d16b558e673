# kiln: `make demo` runs the main job on bundled data, `make test` runs every test.

SHELL   := /bin/bash
.SHELLFLAGS := -o pipefail -c
GO      ?= go
CORPUS  ?= $(if $(KILN_CORPUS),$(KILN_CORPUS),../shared/corpus/onnx)
BIN     := bin
KERAS_CORPUS ?= $(if $(KILN_KERAS_CORPUS),$(KILN_KERAS_CORPUS),../shared/corpus/keras)

# formats/h5 links libhdf5 through cgo. Debian and Ubuntu install the serial
# build under hdf5/serial, outside the default search paths.
HDF5_INC ?= $(firstword $(wildcard /usr/include/hdf5/serial) /usr/include)
HDF5_LIB ?= $(firstword $(wildcard /usr/lib/$(shell uname -m)-linux-gnu/hdf5/serial) /usr/lib)
export CGO_CFLAGS  ?= -I$(HDF5_INC)
export CGO_LDFLAGS ?= -L$(HDF5_LIB)

# Conformance floors: `make test` fails if a suite passes fewer tests than this.
# They are the counts reached when they were last raised; raise them as kiln improves.
MIN_NODE   ?= 1788
MIN_SIMPLE ?= 23
MIN_PYCONV ?= 82
MIN_PYOP   ?= 35
MIN_MODELS ?= 13

.PHONY: all build nocgo demo test unit conformance keras fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/krun ./cmd/krun
	$(GO) build -o $(BIN)/kconv ./cmd/kconv

# The static build: ONNX only, and a clear message for Keras files.
nocgo:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/krun-static ./cmd/krun

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

# The Keras corpus suite: reference predictions and the load-or-reject table.
keras:
	@if [ -f "$(KERAS_CORPUS)/MANIFEST.tsv" ]; then \
		echo "== Keras corpus ($(KERAS_CORPUS))"; \
		KILN_KERAS_CORPUS=$(abspath $(KERAS_CORPUS)) $(GO) test ./formats/h5 -count=1 -run 'TestCorpus' -v | grep -v '^=== RUN' ; \
	else \
		echo "== Keras corpus suite skipped: no corpus at $(KERAS_CORPUS) (set KILN_KERAS_CORPUS)"; \
	fi

test: unit nocgo conformance keras

fuzz:
	$(GO) test ./formats/onnx -run '^$$' -fuzz FuzzDecode -fuzztime 30s
	$(GO) test ./formats/npy -run '^$$' -fuzz FuzzRead -fuzztime 30s
	$(GO) test ./formats/h5 -run '^$$' -fuzz FuzzKerasZip -fuzztime 30s
	$(GO) test ./formats/h5 -run '^$$' -fuzz FuzzSniff -fuzztime 30s

clean:
	rm -rf $(BIN)
