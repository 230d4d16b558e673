package ops

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestEwCast(t *testing.T) {
	to := func(dt tensor.DType) graph.Attrs { return graph.Attrs{"to": int64(dt)} }
	inf := math.Inf(1)
	ewRunCases(t, []ewCase{
		{name: "float to int32 truncates", op: "Cast", attrs: to(tensor.Int32), in: []*tensor.Tensor{ewVec[float32](1.9, -1.9, 0.5)}, want: ewVec[int32](1, -1, 0)},
		{name: "float to uint8 wraps negatives", op: "Cast", attrs: to(tensor.Uint8), in: []*tensor.Tensor{ewVec[float32](-1, 255.9)}, want: ewVec[uint8](255, 255)},
		{name: "int32 to uint8 wraps", op: "Cast", attrs: to(tensor.Uint8), in: []*tensor.Tensor{ewVec[int32](300, -1)}, want: ewVec[uint8](44, 255)},
		{name: "int64 to float", op: "Cast", attrs: to(tensor.Float32), in: []*tensor.Tensor{ewVec[int64](-3, 1<<40)}, want: ewVec[float32](-3, 1<<40)},
		{name: "uint64 to int64", op: "Cast", attrs: to(tensor.Int64), in: []*tensor.Tensor{ewVec[uint64](math.MaxUint64)}, want: ewVec[int64](-1)},
		// One rounding step: via float32 this would round to the tie and
		// then to even (1.0).
		{name: "double to float16", op: "Cast", attrs: to(tensor.Float16), in: []*tensor.Tensor{ewVec(1+math.Ldexp(1, -11)+math.Ldexp(1, -30), 65504, 1e6)}, want: ewVec[tensor.Half](0x3c01, 0x7bff, 0x7c00)},
		{name: "float to bfloat16", op: "Cast", attrs: to(tensor.BFloat16), in: []*tensor.Tensor{ewVec[float32](1, 3.14159)}, want: ewVec[tensor.BHalf](0x3f80, 0x4049)},
		{name: "float16 to double", op: "Cast", attrs: to(tensor.Float64), in: []*tensor.Tensor{ewVec[tensor.Half](0x3c01)}, want: ewVec(1 + math.Ldexp(1, -10))},
		{name: "float to bool", op: "Cast", attrs: to(tensor.Bool), in: []*tensor.Tensor{ewVec(0, -0.0, 2, math.NaN())}, want: ewVec(false, false, true, true)},
		{name: "bool to int8", op: "Cast", attrs: to(tensor.Int8), in: []*tensor.Tensor{ewVec(true, false)}, want: ewVec[int8](1, 0)},
		{name: "bool to float16", op: "Cast", attrs: to(tensor.Float16), in: []*tensor.Tensor{ewVec(true, false)}, want: ewVec[tensor.Half](0x3c00, 0)},
		{name: "string to float", op: "Cast", attrs: to(tensor.Float32),
			in:   []*tensor.Tensor{ewVec("0.47892547", "1e3", "-INF", "+inf", "NaN", "nan", "3")},
			want: ewVec(0.47892547, 1000, float32(math.Inf(-1)), float32(inf), float32(math.NaN()), float32(math.NaN()), 3)},
		{name: "string to int64", op: "Cast", attrs: to(tensor.Int64), in: []*tensor.Tensor{ewVec("-12", "9007199254740993", "2.7")}, want: ewVec[int64](-12, 9007199254740993, 2)},
		{name: "float to string", op: "Cast", attrs: to(tensor.String), in: []*tensor.Tensor{ewVec[float32](0.1, 1e20, float32(inf), float32(math.Inf(-1)), float32(math.NaN()), -2.5)},
			want: ewVec("0.1", "1e+20", "INF", "-INF", "NaN", "-2.5")},
		{name: "int to string", op: "Cast", attrs: to(tensor.String), in: []*tensor.Tensor{ewVec[int16](-7, 300)}, want: ewVec("-7", "300")},
		{name: "same type", op: "Cast", attrs: to(tensor.Int32), in: []*tensor.Tensor{ewVec[int32](5)}, want: ewVec[int32](5)},
		{name: "castlike", op: "CastLike", in: []*tensor.Tensor{ewVec[float64](1.5, -2.5), ewVec[int8]()}, want: ewVec[int8](1, -2)},
		{name: "castlike to float16", op: "CastLike", in: []*tensor.Tensor{ewVec[float32](0.5), ewVec[tensor.Half]()}, want: ewVec[tensor.Half](0x3800)},
	})
}

func TestEwCastInfer(t *testing.T) {
	n := &graph.Node{Name: "c", Op: "Cast", Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"to": int64(tensor.Int8)}}
	ts, err := Lookup("", "Cast").Infer(&InferContext{Node: n, In: []graph.Type{graph.TensorType(tensor.Float32, 2, -1)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ts[0].String(); got != "int8[2,?]" {
		t.Errorf("Cast infer: %s, want int8[2,?]", got)
	}
}
