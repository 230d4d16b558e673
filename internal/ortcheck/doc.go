// Package ortcheck holds the cross-check of kiln's ONNX exporter against
// ONNX Runtime: models are exported, run in ONNX Runtime through
// github.com/yalue/onnxruntime_go, and compared with kiln's own outputs.
// The test is behind the "ort" build tag (it needs cgo and the ONNX
// Runtime shared library); run it with `make test-ort`.
package ortcheck
