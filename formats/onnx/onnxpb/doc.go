// Package onnxpb holds Go bindings for the ONNX protobuf schema: ModelProto,
// GraphProto, NodeProto, TensorProto and the rest of the ONNX IR (version 13),
// plus SequenceProto, MapProto and OptionalProto from onnx-data.proto.
//
// The schema lives in onnx.proto next to this file. It is wire-compatible
// with upstream onnx/onnx.proto (proto2, package onnx), so .onnx model files
// and serialized test tensors (.pb) decode directly with proto.Unmarshal:
//
//	var m onnxpb.ModelProto
//	err := proto.Unmarshal(data, &m)
//
// onnx.pb.go is generated and checked in, so building this package needs no
// protoc. To regenerate it after editing onnx.proto, install protoc and
// protoc-gen-go v1.36.12 (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12)
// and run, in this directory:
//
//	go generate
//
// which executes:
//
//	protoc --proto_path=../../.. --go_out=../../.. --go_opt=paths=source_relative formats/onnx/onnxpb/onnx.proto
package onnxpb
