package onnx

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
	"github.com/kiln-ml/kiln/ops/tensor"
	"google.golang.org/protobuf/proto"
)

// The packed layouts are those of ONNX's numpy_helper: 4-bit elements two
// per byte, first in the low nibble; 2-bit elements four per byte, first in
// bits 0-1; the last byte padded with zeros.
func TestLowBitRawData(t *testing.T) {
	cases := []struct {
		name string
		t    *tensor.Tensor
		raw  []byte
	}{
		{"int4 odd", tensor.From(tensor.Shape{3}, []tensor.I4{7, -8, 7}), []byte{0x87, 0x07}},
		{"uint4", tensor.From(tensor.Shape{2, 2}, []tensor.U4{1, 2, 15, 0}), []byte{0x21, 0x0f}},
		{"float4e2m1", tensor.From(tensor.Shape{3}, []tensor.F4E2M1{0x1, 0xe, 0x7}), []byte{0xe1, 0x07}},
		{"int2", tensor.From(tensor.Shape{7}, []tensor.I2{1, -2, -1, 0, 1, -2, -1}), []byte{0x39, 0x39}},
		{"uint2", tensor.From(tensor.Shape{5}, []tensor.U2{0, 1, 2, 3, 3}), []byte{0xe4, 0x03}},
		{"e5m2", tensor.From(tensor.Shape{2}, []tensor.F8E5M2{0x7c, 0xfb}), []byte{0x7c, 0xfb}},
		{"e8m0", tensor.From(tensor.Shape{1}, []tensor.F8E8M0{0x7f}), []byte{0x7f}},
	}
	for _, c := range cases {
		tp := EncodeTensor("x", c.t)
		if !bytes.Equal(tp.GetRawData(), c.raw) {
			t.Errorf("%s: raw_data % x, want % x", c.name, tp.GetRawData(), c.raw)
		}
		b, err := proto.Marshal(tp)
		if err != nil {
			t.Fatal(err)
		}
		v, err := DecodeValue(b, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := v.(*tensor.Tensor)
		if got.DType() != c.t.DType() || !got.Shape().Equal(c.t.Shape()) || !reflect.DeepEqual(got.Data(), c.t.Data()) {
			t.Errorf("%s: decoded %v, want %v", c.name, got, c.t)
		}
	}
	// A wrong byte count is an error, not a panic.
	tp := &onnxpb.TensorProto{DataType: proto.Int32(int32(tensor.Int4)), Dims: []int64{3}, RawData: []byte{1}}
	if _, err := DecodeTensor(tp, ""); err == nil {
		t.Error("int4 with 1 byte for 3 elements: want an error")
	}
}

func TestLowBitInt32Data(t *testing.T) {
	cases := []struct {
		name string
		dt   tensor.DType
		dims []int64
		data []int32
		want any
	}{
		// One int32 per element for the 8-bit float types.
		{"e4m3fn", tensor.Float8E4M3FN, []int64{3}, []int32{0, 48, 237}, []tensor.F8E4M3FN{0, 48, 237}},
		// One packed byte per int32 for 4-bit and 2-bit types.
		{"int4", tensor.Int4, []int64{5}, []int32{16, 199, 8}, []tensor.I4{0, 1, 7, -4, -8}},
		{"uint4", tensor.Uint4, []int64{5}, []int32{16, 167, 15}, []tensor.U4{0, 1, 7, 10, 15}},
		{"uint2", tensor.Uint2, []int64{4}, []int32{228}, []tensor.U2{0, 1, 2, 3}},
		{"int2", tensor.Int2, []int64{4}, []int32{180}, []tensor.I2{0, 1, -1, -2}},
	}
	for _, c := range cases {
		tp := &onnxpb.TensorProto{DataType: proto.Int32(int32(c.dt)), Dims: c.dims, Int32Data: c.data}
		got, err := DecodeTensor(tp, "")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(got.Data(), c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got.Data(), c.want)
		}
	}
}
