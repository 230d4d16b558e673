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

.PHONY: all build nocgo demo test unit conformance keras fuzz clean test-ort test-export

all: build

build:
	$(GO) build -o $(BIN)/krun ./cmd/krun
	$(GO) build -o $(BIN)/kconv ./cmd/kconv

# The static build: ONNX only, and a clear message for Keras files.
nocgo:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/krun-static ./cmd/krun

# ONNX inference of mnist_8 on the bundled digits, then the Keras example
# convnet trained in Go on 3,000 other bundled digits, saved as .h5 and
# .onnx, both reloaded and compared with the trained model.
demo: build
	$(GO) run ./examples/mnist
	$(GO) run ./examples/train-demo

# -short leaves the long corpus suites to their own targets below.
unit:
	$(GO) vet ./...
	$(GO) test -short ./...

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
		KILN_KERAS_CORPUS=$(abspath $(KERAS_CORPUS)) KILN_KERAS_STRICT=1 KILN_ROUNDTRIP_STRICT=1 \
			$(GO) test ./formats/h5 -count=1 -timeout 60m -run 'TestCorpus' -v | grep -v '^=== RUN' ; \
	else \
		echo "== Keras corpus suite skipped: no corpus at $(KERAS_CORPUS) (set KILN_KERAS_CORPUS)"; \
	fi

test: unit nocgo conformance keras

fuzz:
	$(GO) test ./formats/onnx -run '^$$' -fuzz FuzzDecode -fuzztime 30s
	$(GO) test ./formats/npy -run '^$$' -fuzz FuzzRead -fuzztime 30s
	$(GO) test ./formats/h5 -run '^$$' -fuzz FuzzKerasZip -fuzztime 30s
	$(GO) test ./formats/h5 -run '^$$' -fuzz FuzzSniff -fuzztime 30s
	$(GO) test ./serve -run '^$$' -fuzz FuzzDecodeRequest -fuzztime 30s
	$(GO) test ./serve -run '^$$' -fuzz FuzzV2FastPath -fuzztime 30s
	$(GO) test ./train -run '^$$' -fuzz FuzzConfigJSON -fuzztime 30s

# Every loadable Keras corpus model exported to ONNX and compared with itself
# in kiln (1e-5), and the ONNX corpus through an export round trip.
test-export:
	KILN_EXPORT_KERAS=1 $(GO) test -timeout 60m -v -run 'TestKerasExportRoundTrip' ./internal/exportcheck/
	$(GO) test -v -run 'TestExportRoundTripCorpus' ./formats/onnx/

# ONNX Runtime cross-check of the exporter (needs cgo and npm): installs
# onnxruntime-node into $(ORT_DIR) when missing and runs the "ort"-tagged
# tests with its shared library.
ORT_VERSION ?= 1.30.0
ORT_DIR     ?= /tmp/kiln-ort
ORT_LIB      = $(firstword $(wildcard $(ORT_DIR)/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so*))

test-ort:
	@if [ -z "$(ORT_LIB)" ]; then \
		mkdir -p $(ORT_DIR) && cd $(ORT_DIR) && { [ -f package.json ] || npm init -y >/dev/null; } && \
		npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@$(ORT_VERSION); \
	fi
	KILN_ORT_LIB="$$(ls $(ORT_DIR)/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so* | head -n1)" \
		CGO_ENABLED=1 $(GO) test -tags ort -timeout 60m -v -run 'TestORT' ./internal/exportcheck/

clean:
	rm -rf $(BIN)

# Load test: `krun serve` on 127.0.0.1 under 32 connections for LOADTEST_TIME per
# run, each model with batching off and on; prints throughput, latency
# percentiles, errors, RSS and the on/off ratios. Bench models that are absent
# are skipped.
LOADTEST_TIME ?= 60s
BENCH_MODELS  ?= $(if $(KILN_BENCH_MODELS),$(KILN_BENCH_MODELS),../bench/bench-models)
.PHONY: loadtest
loadtest: build
	$(GO) run ./internal/loadtest/kload --krun $(BIN)/krun --duration $(LOADTEST_TIME) --conns 32 \
		--model mnist_8=testdata/models/mnist_8/model.onnx \
		--model mlp=$(BENCH_MODELS)/mlp/model.onnx \
		--model resnet18=$(BENCH_MODELS)/resnet18/model.onnx
