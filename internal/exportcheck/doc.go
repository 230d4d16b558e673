// Package exportcheck holds the cross-checks of kiln's ONNX exporter on
// the model corpora: every Keras model kiln loads is converted to ONNX and
// must compute the same outputs in kiln after re-import (1e-5), and, behind
// the "ort" build tag (cgo and the ONNX Runtime shared library; run it with
// `make test-ort`), the exported models are run in ONNX Runtime through
// github.com/yalue/onnxruntime_go and compared with kiln's outputs (1e-4).
package exportcheck
