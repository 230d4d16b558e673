package ops

import (
	"errors"
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ewRun runs op on the given inputs (nil for an absent optional input) and
// returns its outputs; nOut is the node's output count.
func ewRun(t *testing.T, op string, attrs graph.Attrs, nOut int, in ...Value) ([]Value, error) {
	t.Helper()
	d := Lookup("", op)
	if d == nil {
		d = Lookup("kiln", op)
	}
	if d == nil {
		t.Fatalf("op %s is not registered", op)
	}
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	n := &graph.Node{Name: "n", Op: op, Attrs: attrs}
	for i := range in {
		name := "x"
		if in[i] == nil {
			name = ""
		}
		n.Inputs = append(n.Inputs, name)
	}
	for range nOut {
		n.Outputs = append(n.Outputs, "y")
	}
	return d.Run(&EvalContext{Node: n}, in)
}

// ewCase is one row of an elementwise case table: op with attributes on
// inputs, and the expected first output.
type ewCase struct {
	name  string
	op    string
	attrs graph.Attrs
	in    []*tensor.Tensor
	want  *tensor.Tensor
	tol   float64 // relative tolerance on float outputs; 0 means 1e-6
}

func ewRunCases(t *testing.T, cases []ewCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := make([]Value, len(c.in))
			for i, x := range c.in {
				if x != nil {
					in[i] = x
				}
			}
			out, err := ewRun(t, c.op, c.attrs, 1, in...)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := out[0].(*tensor.Tensor)
			if !ok {
				t.Fatalf("output is %T, want a tensor", out[0])
			}
			ewCheck(t, got, c.want, c.tol)
		})
	}
}

// ewCheck compares a tensor with the expected one: same dtype and shape, and
// values equal (floats within a relative tolerance, NaN matching NaN).
func ewCheck(t *testing.T, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if tol == 0 {
		tol = 1e-6
	}
	if got.DType() != want.DType() || !got.Shape().Equal(want.Shape()) {
		t.Fatalf("got %v, want %v", got, want)
	}
	switch want.DType() {
	case tensor.String:
		for i, s := range want.Strings() {
			if got.Strings()[i] != s {
				t.Fatalf("element %d: got %q, want %q", i, got.Strings()[i], s)
			}
		}
		return
	case tensor.Int64, tensor.Uint64:
		// Compare exactly, beyond float64's integer range.
		g, w := ewLoad(got), ewLoad(want)
		for i := range g.i {
			if g.i[i] != w.i[i] {
				t.Fatalf("element %d: got %d, want %d", i, g.i[i], w.i[i])
			}
		}
		for i := range g.u {
			if g.u[i] != w.u[i] {
				t.Fatalf("element %d: got %d, want %d", i, g.u[i], w.u[i])
			}
		}
		return
	}
	for i := range want.Len() {
		g, w := got.At(i), want.At(i)
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if g == w {
			continue
		}
		if math.Abs(g-w) > tol*math.Abs(w)+1e-12 {
			t.Fatalf("element %d: got %v, want %v\n got  %v\n want %v", i, g, w, got, want)
		}
	}
}

func ewF32(shape tensor.Shape, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }

func ewVec[T tensor.Elem](v ...T) *tensor.Tensor { return tensor.From(tensor.Shape{len(v)}, v) }

func TestEwRoundBits(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want tensor.Half
	}{
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},
		{65520, 0x7c00}, // halfway to the next binade rounds up to inf
		{65519, 0x7bff},
		{math.Ldexp(1, -24), 0x0001},      // smallest subnormal
		{math.Ldexp(1, -25), 0x0000},      // halfway to 0: ties to even
		{math.Ldexp(3, -26), 0x0001},      // above halfway
		{math.Ldexp(1, -14), 0x0400},      // smallest normal
		{math.Ldexp(1023.5, -24), 0x0400}, // subnormal rounding up to normal
		{1 + math.Ldexp(1, -11), 0x3c00},  // tie, even
		{1 + math.Ldexp(3, -11), 0x3c02},  // tie, rounds up to even
		// Just above a tie: correct only when rounded once (through float32
		// it would land on the tie and round down).
		{1 + math.Ldexp(1, -11) + math.Ldexp(1, -30), 0x3c01},
		{math.Inf(-1), 0xfc00},
		{math.Copysign(0, -1), 0x8000},
	} {
		if got := ewF64ToHalf(c.f); got != c.want {
			t.Errorf("ewF64ToHalf(%v) = %#04x, want %#04x", c.f, uint16(got), uint16(c.want))
		}
	}
	if h := ewF64ToHalf(math.NaN()); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("ewF64ToHalf(NaN) = %#04x, want a NaN", uint16(h))
	}
	for _, c := range []struct {
		f    float64
		want tensor.BHalf
	}{
		{1, 0x3f80},
		{-0.5, 0xbf00},
		{1 + math.Ldexp(1, -8), 0x3f80}, // tie, even
		{1 + math.Ldexp(1, -8) + math.Ldexp(1, -40), 0x3f81}, // above the tie
		{math.Inf(1), 0x7f80},
		{math.MaxFloat32, 0x7f80},
	} {
		if got := ewF64ToBHalf(c.f); got != c.want {
			t.Errorf("ewF64ToBHalf(%v) = %#04x, want %#04x", c.f, uint16(got), uint16(c.want))
		}
	}
}

func TestEwErrors(t *testing.T) {
	for _, c := range []struct {
		name        string
		op          string
		attrs       graph.Attrs
		in          []Value
		unsupported bool
	}{
		{"add dtype mismatch", "Add", nil, []Value{ewVec[float32](1), ewVec[int32](1)}, false},
		{"add bad broadcast", "Add", nil, []Value{ewVec[float32](1, 2), ewVec[float32](1, 2, 3)}, false},
		{"exp of int", "Exp", nil, []Value{ewVec[int32](1)}, false},
		{"and of float", "And", nil, []Value{ewVec[float32](1), ewVec[float32](1)}, false},
		{"bitshift bad direction", "BitShift", graph.Attrs{"direction": "UP"}, []Value{ewVec[uint8](1), ewVec[uint8](1)}, false},
		{"bitshift signed", "BitShift", graph.Attrs{"direction": "LEFT"}, []Value{ewVec[int8](1), ewVec[int8](1)}, false},
		{"gelu bad approximate", "Gelu", graph.Attrs{"approximate": "erf"}, []Value{ewVec[float32](1)}, false},
		{"clip non-scalar min", "Clip", nil, []Value{ewVec[float32](1), ewVec[float32](1, 2)}, false},
		{"where non-bool cond", "Where", nil, []Value{ewVec[int32](1), ewVec[float32](1), ewVec[float32](2)}, false},
		{"prelu slope too big", "PRelu", nil, []Value{ewVec[float32](1), ewVec[float32](1, 2)}, false},
		{"cast to complex64", "Cast", graph.Attrs{"to": int64(tensor.Complex64)}, []Value{ewVec[float32](1)}, true},
		{"cast bad string", "Cast", graph.Attrs{"to": int64(tensor.Float32)}, []Value{ewVec("abc")}, false},
		{"constant two values", "Constant", graph.Attrs{"value_int": int64(1), "value_float": float32(1)}, nil, false},
		{"mod bad fmod", "Mod", graph.Attrs{"fmod": int64(2)}, []Value{ewVec[int32](1), ewVec[int32](1)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ewRun(t, c.op, c.attrs, 1, c.in...)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrUnsupported) != c.unsupported {
				t.Fatalf("error %v: unsupported = %v, want %v", err, errors.Is(err, ErrUnsupported), c.unsupported)
			}
		})
	}
}
