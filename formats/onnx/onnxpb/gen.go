package onnxpb

// Regenerates onnx.pb.go from onnx.proto; see the package documentation.
//go:generate protoc --proto_path=../../.. --go_out=../../.. --go_opt=paths=source_relative formats/onnx/onnxpb/onnx.proto
