package onnx

import (
	"errors"
	"fmt"
	"os"

	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"google.golang.org/protobuf/proto"
)

func errorsIs(err error) bool { return errors.Is(err, ErrUnsupported) }

// LoadValue reads a serialized value file (.pb) as ONNX's test runner does:
// a TensorProto, or a SequenceProto / OptionalProto when the expected type
// says so. typ may be nil (a tensor is assumed).
func LoadValue(path string, typ *graph.Type) (ops.Value, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	v, err := DecodeValue(data, typ)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	return v, nil
}

// DecodeValue is LoadValue on bytes.
func DecodeValue(data []byte, typ *graph.Type) (ops.Value, error) {
	kind := graph.KindTensor
	if typ != nil {
		kind = typ.Kind
	}
	switch kind {
	case graph.KindSequence:
		var sp onnxpb.SequenceProto
		if err := proto.Unmarshal(data, &sp); err != nil {
			return nil, fmt.Errorf("not a SequenceProto: %v", err)
		}
		return decodeSequence(&sp)
	case graph.KindOptional:
		var op onnxpb.OptionalProto
		if err := proto.Unmarshal(data, &op); err != nil {
			return nil, fmt.Errorf("not an OptionalProto: %v", err)
		}
		return decodeOptional(&op, typ)
	}
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		return nil, fmt.Errorf("not a TensorProto: %v", err)
	}
	return DecodeTensor(&tp, "")
}

func decodeSequence(sp *onnxpb.SequenceProto) (*ops.Sequence, error) {
	if sp.GetElemType() != int32(onnxpb.SequenceProto_TENSOR) && sp.GetElemType() != 0 {
		return nil, fmt.Errorf("sequences of non-tensors: %w", ErrUnsupported)
	}
	s := &ops.Sequence{}
	for _, tp := range sp.GetTensorValues() {
		t, err := DecodeTensor(tp, "")
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, t)
		s.DType = t.DType()
	}
	return s, nil
}

func decodeOptional(op *onnxpb.OptionalProto, typ *graph.Type) (*ops.Optional, error) {
	o := &ops.Optional{}
	if typ != nil && typ.Elem != nil {
		o.Type = *typ.Elem
	}
	switch op.GetElemType() {
	case int32(onnxpb.OptionalProto_TENSOR):
		if op.GetTensorValue() == nil {
			return o, nil
		}
		t, err := DecodeTensor(op.GetTensorValue(), "")
		if err != nil {
			return nil, err
		}
		o.Value = t
	case int32(onnxpb.OptionalProto_SEQUENCE):
		if op.GetSequenceValue() == nil {
			return o, nil
		}
		s, err := decodeSequence(op.GetSequenceValue())
		if err != nil {
			return nil, err
		}
		o.Value = s
	case int32(onnxpb.OptionalProto_UNDEFINED):
	default:
		return nil, fmt.Errorf("optional of element type %d: %w", op.GetElemType(), ErrUnsupported)
	}
	return o, nil
}

// EncodeValue serializes a tensor as a TensorProto (for `.pb` output files).
func EncodeValue(name string, t *tensor.Tensor) ([]byte, error) {
	return proto.Marshal(EncodeTensor(name, t))
}
