package ops

import (
	"math"
	"reflect"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// lbVec is a 1-D tensor of the given elements.
func lbVec[T tensor.Elem](v ...T) *tensor.Tensor { return tensor.From(tensor.Shape{len(v)}, v) }

// lbSame fails unless got has want's dtype, shape and exact elements (bit
// patterns for the float8 types).
func lbSame(t *testing.T, name string, got, want *tensor.Tensor) {
	t.Helper()
	if got.DType() != want.DType() || !got.Shape().Equal(want.Shape()) {
		t.Fatalf("%s: got %v, want %v", name, got, want)
	}
	if w, ok := want.Data().([]float32); ok {
		g := got.F32()
		for i := range w {
			if !(g[i] == w[i] || math.IsNaN(float64(g[i])) && math.IsNaN(float64(w[i]))) || math.Signbit(float64(g[i])) != math.Signbit(float64(w[i])) && !math.IsNaN(float64(w[i])) {
				t.Fatalf("%s: element %d = %v, want %v", name, i, g[i], w[i])
			}
		}
		return
	}
	if !reflect.DeepEqual(got.Data(), want.Data()) {
		t.Fatalf("%s: got %v, want %v", name, got.Data(), want.Data())
	}
}

func TestLbCast(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	// The inputs and bit patterns of ONNX's Cast float8 examples:
	// 0.47892547, 0.48033667, 0.49968487, 0.81910545, 0.47031248, 0.7229038,
	// 1e6, 1e-7, NaN, inf, +inf, -inf, -1e-7, 1e-7, -1e6.
	x := lbVec[float32](0.47892547, 0.48033667, 0.49968487, 0.81910545, 0.47031248, 0.7229038, 1e6, 1e-7, nan, inf, inf, -inf, -1e-7, 1e-7, -1e6)
	cases := []struct {
		name  string
		attrs graph.Attrs
		in    *tensor.Tensor
		want  *tensor.Tensor
	}{
		{"e4m3fn", graph.Attrs{"to": int64(tensor.Float8E4M3FN)}, x,
			lbVec[tensor.F8E4M3FN](0x2f, 0x2f, 0x30, 0x35, 0x2f, 0x34, 0x7e, 0, 0x7f, 0x7e, 0x7e, 0xfe, 0x80, 0, 0xfe)},
		{"e4m3fn no saturate", graph.Attrs{"to": int64(tensor.Float8E4M3FN), "saturate": int64(0)}, x,
			lbVec[tensor.F8E4M3FN](0x2f, 0x2f, 0x30, 0x35, 0x2f, 0x34, 0x7f, 0, 0x7f, 0x7f, 0x7f, 0xff, 0x80, 0, 0xff)},
		{"e5m2", graph.Attrs{"to": int64(tensor.Float8E5M2)}, x,
			lbVec[tensor.F8E5M2](0x38, 0x38, 0x38, 0x3b, 0x38, 0x3a, 0x7b, 0, 0x7e, 0x7b, 0x7b, 0xfb, 0x80, 0, 0xfb)},
		{"e5m2 no saturate", graph.Attrs{"to": int64(tensor.Float8E5M2), "saturate": int64(0)}, x,
			lbVec[tensor.F8E5M2](0x38, 0x38, 0x38, 0x3b, 0x38, 0x3a, 0x7c, 0, 0x7e, 0x7c, 0x7c, 0xfc, 0x80, 0, 0xfc)},
		{"e4m3fnuz", graph.Attrs{"to": int64(tensor.Float8E4M3FNUZ)}, x,
			lbVec[tensor.F8E4M3FNUZ](0x37, 0x37, 0x38, 0x3d, 0x37, 0x3c, 0x7f, 0, 0x80, 0x7f, 0x7f, 0xff, 0, 0, 0xff)},
		{"e5m2fnuz no saturate", graph.Attrs{"to": int64(tensor.Float8E5M2FNUZ), "saturate": int64(0)}, x,
			lbVec[tensor.F8E5M2FNUZ](0x3c, 0x3c, 0x3c, 0x3f, 0x3c, 0x3e, 0x80, 0, 0x80, 0x80, 0x80, 0x80, 0, 0, 0x80)},
		// float4e2m1: 0.25 and 3.5 are ties (to even: 0 and 4), ±9 and inf
		// saturate to ±6.
		{"float4e2m1", graph.Attrs{"to": int64(tensor.Float4E2M1)}, lbVec[float32](0.48, 0.25, 1.05, -3.5, -8, 9, inf, -inf, 0.01),
			lbVec[tensor.F4E2M1](0x1, 0x0, 0x2, 0xe, 0xf, 0x7, 0x7, 0xf, 0x0)},
		// int4/uint2: truncate, then wrap.
		{"int4 wraps", graph.Attrs{"to": int64(tensor.Int4)}, lbVec[float32](-9, -8, 7.9, 8, 15),
			lbVec[tensor.I4](7, -8, 7, -8, -1)},
		{"uint2 wraps", graph.Attrs{"to": int64(tensor.Uint2)}, lbVec[int64](-3, -1, 2, 5),
			lbVec[tensor.U2](1, 3, 2, 1)},
		{"e8m0 up", graph.Attrs{"to": int64(tensor.Float8E8M0)}, lbVec[float32](0, 0.124, 0.25, 1.1, 2, -4),
			lbVec[tensor.F8E8M0](0, 0x7c, 0x7d, 0x80, 0x80, 0x81)},
		{"e8m0 nearest", graph.Attrs{"to": int64(tensor.Float8E8M0), "round_mode": "nearest"}, lbVec[float32](1.4, 1.5, 3),
			lbVec[tensor.F8E8M0](127, 128, 129)},
		{"e8m0 down", graph.Attrs{"to": int64(tensor.Float8E8M0), "round_mode": "down"}, lbVec[float32](1.9, 3.9),
			lbVec[tensor.F8E8M0](127, 128)},
		{"from e4m3fnuz", graph.Attrs{"to": int64(tensor.Float32)}, lbVec[tensor.F8E4M3FNUZ](0x37, 0x7f, 0x80, 0xff, 0),
			lbVec[float32](0.46875, 240, nan, -240, 0)},
		{"from e5m2 to float16", graph.Attrs{"to": int64(tensor.Float16)}, lbVec[tensor.F8E5M2](0x3c, 0x7c, 0x01),
			lbVec[tensor.Half](0x3c00, 0x7c00, 0x0100)},
		{"from int2 to int8", graph.Attrs{"to": int64(tensor.Int8)}, lbVec[tensor.I2](1, -2, -1, 0),
			lbVec[int8](1, -2, -1, 0)},
		{"from float4e2m1", graph.Attrs{"to": int64(tensor.Float32)}, lbVec[tensor.F4E2M1](0x1, 0x7, 0xe, 0x8),
			lbVec[float32](0.5, 6, -4, float32(math.Copysign(0, -1)))},
		{"from e8m0", graph.Attrs{"to": int64(tensor.Float32)}, lbVec[tensor.F8E8M0](0, 0x7f, 0xfe, 0xff),
			lbVec[float32](float32(math.Ldexp(1, -127)), 1, float32(math.Ldexp(1, 127)), nan)},
		{"string to int4", graph.Attrs{"to": int64(tensor.Int4)}, lbVec("7", "-3"), lbVec[tensor.I4](7, -3)},
		{"uint4 to e4m3fn", graph.Attrs{"to": int64(tensor.Float8E4M3FN)}, lbVec[tensor.U4](15, 1), lbVec[tensor.F8E4M3FN](0x57, 0x38)},
	}
	for _, c := range cases {
		n := &graph.Node{Name: "n", Op: "Cast", Inputs: []string{"x"}, Attrs: c.attrs}
		out, err := ewCastKernel(n, []*tensor.Tensor{c.in})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		lbSame(t, c.name, out[0], c.want)
	}
	n := &graph.Node{Name: "n", Op: "CastLike", Inputs: []string{"x", "y"}, Attrs: graph.Attrs{"saturate": int64(0)}}
	out, err := ewCastLike(n, []*tensor.Tensor{lbVec[float32](1e6, 1), lbVec[tensor.F8E4M3FN]()})
	if err != nil {
		t.Fatal(err)
	}
	lbSame(t, "castlike no saturate", out[0], lbVec[tensor.F8E4M3FN](0x7f, 0x38))
	n = &graph.Node{Name: "n", Op: "Cast", Inputs: []string{"x"}, Attrs: graph.Attrs{"to": int64(tensor.Float8E8M0), "round_mode": "sideways"}}
	if _, err := ewCastKernel(n, []*tensor.Tensor{lbVec[float32](1)}); err == nil {
		t.Fatal("bad round_mode: want an error")
	}
}

func TestLbQuantize(t *testing.T) {
	f := func(v ...float32) *tensor.Tensor { return lbVec(v...) }
	cases := []struct {
		name  string
		d     *Def
		attrs graph.Attrs
		in    []*tensor.Tensor
		want  *tensor.Tensor
	}{
		// x / 2 + zero point to e4m3fn (saturating): 0, 0.5 (0x30), 1
		// (0x38), 224 = 1.75*2^7 (0x76), and 50000 saturates to 448 (0x7e).
		{"q e4m3fn", QuantizeLinear, graph.Attrs{}, []*tensor.Tensor{f(0, 1, 2, 448, 100000), tensor.Scalar(float32(2)), lbVec[tensor.F8E4M3FN](0)},
			lbVec[tensor.F8E4M3FN](0, 0x30, 0x38, 0x76, 0x7e)},
		{"q e4m3fn no saturate", QuantizeLinear, graph.Attrs{"saturate": int64(0)}, []*tensor.Tensor{f(100000), tensor.Scalar(float32(2)), lbVec[tensor.F8E4M3FN](0)},
			lbVec[tensor.F8E4M3FN](0x7f)},
		// int4: round half to even, add zero point, clamp to [-8, 7].
		{"q int4", QuantizeLinear, graph.Attrs{}, []*tensor.Tensor{f(5, -5, 100, -100, 2), tensor.Scalar(float32(2)), lbVec[tensor.I4](1)},
			lbVec[tensor.I4](3, -1, 7, -8, 2)},
		{"q uint2 per-axis", QuantizeLinear, graph.Attrs{"axis": int64(0)}, []*tensor.Tensor{f(1, 9, 4), f(1, 1, 2), lbVec[tensor.U2](0, 1, 2)},
			lbVec[tensor.U2](1, 3, 3)},
		{"q float4e2m1", QuantizeLinear, graph.Attrs{"output_dtype": int64(tensor.Float4E2M1)}, []*tensor.Tensor{f(1, 5, -100), tensor.Scalar(float32(1))},
			lbVec[tensor.F4E2M1](0x2, 0x6, 0xf)},
		{"dq int4", DequantizeLinear, graph.Attrs{}, []*tensor.Tensor{lbVec[tensor.I4](0, 1, 7, -8), tensor.Scalar(float32(2)), lbVec[tensor.I4](1)},
			f(-2, 0, 12, -18)},
		{"dq e5m2", DequantizeLinear, graph.Attrs{}, []*tensor.Tensor{lbVec[tensor.F8E5M2](0, 0x38, 0xd6), tensor.Scalar(float32(3))},
			f(0, 1.5, -288)},
		{"dq uint2 blocked", DequantizeLinear, graph.Attrs{"axis": int64(0), "block_size": int64(2)}, []*tensor.Tensor{lbVec[tensor.U2](0, 1, 2, 3), f(1, 10)},
			f(0, 1, 20, 30)},
	}
	for _, c := range cases {
		out, err := miRun(t, c.d, c.attrs, c.in...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		lbSame(t, c.name, out[0], c.want)
	}
}

// Data-movement and selection ops carry the low-precision types unchanged.
func TestLbMovement(t *testing.T) {
	x := tensor.From(tensor.Shape{2, 2}, []tensor.F8E4M3FN{0x38, 0x40, 0x44, 0x48})
	cases := []struct {
		op   string
		in   []Value
		want *tensor.Tensor
	}{
		{"Transpose", []Value{x}, tensor.From(tensor.Shape{2, 2}, []tensor.F8E4M3FN{0x38, 0x44, 0x40, 0x48})},
		{"Gather", []Value{x, lbVec[int64](1)}, tensor.From(tensor.Shape{1, 2}, []tensor.F8E4M3FN{0x44, 0x48})},
		{"Where", []Value{lbVec(true, false), lbVec[tensor.I4](-8, 7), lbVec[tensor.I4](1, 2)}, lbVec[tensor.I4](-8, 2)},
		{"Identity", []Value{lbVec[tensor.U2](3, 1)}, lbVec[tensor.U2](3, 1)},
	}
	for _, c := range cases {
		out, err := ewRun(t, c.op, nil, 1, c.in...)
		if err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		lbSame(t, c.op, out[0].(*tensor.Tensor), c.want)
	}
}
