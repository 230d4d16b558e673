package ops

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// rdRun runs a registered op's kernel on a node with the given attributes.
func rdRun(t *testing.T, op string, attrs graph.Attrs, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	d := Lookup("", op)
	if d == nil {
		t.Fatalf("%s not registered", op)
	}
	n := &graph.Node{Name: "n", Op: op, Attrs: attrs}
	for range in {
		n.Inputs = append(n.Inputs, "x")
	}
	vals := make([]Value, len(in))
	for i, x := range in {
		if x != nil {
			vals[i] = x
		}
	}
	outs, err := d.Run(&EvalContext{Node: n}, vals)
	if err != nil {
		return nil, err
	}
	ts := make([]*tensor.Tensor, len(outs))
	for i, o := range outs {
		ts[i], _ = o.(*tensor.Tensor)
	}
	return ts, nil
}

// rdClose compares a tensor with expected shape and values (ONNX node-test
// tolerance: 1e-7 absolute plus 1e-3 relative; NaN matches NaN).
func rdClose(t *testing.T, name string, got *tensor.Tensor, shape tensor.Shape, want []float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no output", name)
	}
	if !got.Shape().Equal(shape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape(), shape)
	}
	for i, w := range want {
		g := got.At(i)
		if math.IsNaN(w) && math.IsNaN(g) || g == w {
			continue
		}
		if math.Abs(g-w) > 1e-7+1e-3*math.Abs(w) {
			t.Fatalf("%s: element %d = %v, want %v (got %v)", name, i, g, w, got)
		}
	}
}

func TestReduce(t *testing.T) {
	// x = [[1, 2], [3, 4]] (float32), values hand-computed.
	x := tensor.From(tensor.Shape{2, 2}, []float32{1, 2, 3, 4})
	ax := func(a ...int64) *tensor.Tensor { return tensor.FromInt64s(tensor.Shape{len(a)}, a) }
	inf := math.Inf(1)
	cases := []struct {
		op    string
		attrs graph.Attrs
		in    []*tensor.Tensor
		shape tensor.Shape
		want  []float64
	}{
		{"ReduceSum", nil, []*tensor.Tensor{x, ax(1)}, tensor.Shape{2, 1}, []float64{3, 7}},
		{"ReduceSum", graph.Attrs{"keepdims": int64(0)}, []*tensor.Tensor{x, ax(-2)}, tensor.Shape{2}, []float64{4, 6}},
		{"ReduceSum", graph.Attrs{"keepdims": int64(0)}, []*tensor.Tensor{x}, tensor.Shape{}, []float64{10}},
		{"ReduceSum", graph.Attrs{"noop_with_empty_axes": int64(1)}, []*tensor.Tensor{x, ax()}, tensor.Shape{2, 2}, []float64{1, 2, 3, 4}},
		{"ReduceMean", nil, []*tensor.Tensor{x, ax(0)}, tensor.Shape{1, 2}, []float64{2, 3}},
		{"ReduceMax", nil, []*tensor.Tensor{x, ax(1)}, tensor.Shape{2, 1}, []float64{2, 4}},
		{"ReduceMin", nil, []*tensor.Tensor{x, ax(1)}, tensor.Shape{2, 1}, []float64{1, 3}},
		{"ReduceProd", nil, []*tensor.Tensor{x}, tensor.Shape{1, 1}, []float64{24}},
		{"ReduceL1", nil, []*tensor.Tensor{tensor.From(tensor.Shape{2}, []float32{-3, 4})}, tensor.Shape{1}, []float64{7}},
		{"ReduceL2", nil, []*tensor.Tensor{tensor.From(tensor.Shape{2}, []float32{-3, 4})}, tensor.Shape{1}, []float64{5}},
		{"ReduceSumSquare", nil, []*tensor.Tensor{x, ax(0)}, tensor.Shape{1, 2}, []float64{10, 20}},
		{"ReduceLogSum", nil, []*tensor.Tensor{x}, tensor.Shape{1, 1}, []float64{math.Log(10)}},
		{"ReduceLogSumExp", nil, []*tensor.Tensor{x, ax(1)}, tensor.Shape{2, 1}, []float64{math.Log(math.E + math.E*math.E), math.Log(math.Exp(3) + math.Exp(4))}},
		// Large values must not overflow exp.
		{"ReduceLogSumExp", nil, []*tensor.Tensor{tensor.From(tensor.Shape{2}, []float64{1000, 1000})}, tensor.Shape{1}, []float64{1000 + math.Ln2}},
		// Empty sets give the identity element.
		{"ReduceSum", nil, []*tensor.Tensor{tensor.New(tensor.Float32, 2, 0), ax(1)}, tensor.Shape{2, 1}, []float64{0, 0}},
		{"ReduceProd", nil, []*tensor.Tensor{tensor.New(tensor.Float32, 2, 0), ax(1)}, tensor.Shape{2, 1}, []float64{1, 1}},
		{"ReduceMax", nil, []*tensor.Tensor{tensor.New(tensor.Float32, 2, 0), ax(1)}, tensor.Shape{2, 1}, []float64{-inf, -inf}},
		{"ReduceMin", nil, []*tensor.Tensor{tensor.New(tensor.Float32, 2, 0), ax(1)}, tensor.Shape{2, 1}, []float64{inf, inf}},
		{"ReduceLogSumExp", nil, []*tensor.Tensor{tensor.New(tensor.Float32, 2, 0), ax(1)}, tensor.Shape{2, 1}, []float64{-inf, -inf}},
		// Integers and bools.
		{"ReduceSum", nil, []*tensor.Tensor{tensor.From(tensor.Shape{3}, []int64{1 << 60, 1, 2})}, tensor.Shape{1}, []float64{float64(1<<60 + 3)}},
		{"ReduceMax", nil, []*tensor.Tensor{tensor.From(tensor.Shape{2, 2}, []bool{false, true, false, false}), ax(1)}, tensor.Shape{2, 1}, []float64{1, 0}},
		{"ReduceMin", nil, []*tensor.Tensor{tensor.From(tensor.Shape{2, 2}, []bool{true, true, false, true}), ax(1)}, tensor.Shape{2, 1}, []float64{1, 0}},
		{"ReduceMean", nil, []*tensor.Tensor{tensor.From(tensor.Shape{2}, []int32{1, 2})}, tensor.Shape{1}, []float64{1}},
	}
	for _, c := range cases {
		outs, err := rdRun(t, c.op, c.attrs, c.in...)
		if err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		rdClose(t, c.op, outs[0], c.shape, c.want)
	}
	if _, err := rdRun(t, "ReduceSum", nil, x, ax(2)); err == nil {
		t.Fatal("ReduceSum with axis 2 of a rank-2 input: want an error")
	}
}

func TestReduceMeanSmallInts(t *testing.T) {
	// 200 elements of int8 value 1: the count does not fit in int8.
	v := make([]int8, 200)
	for i := range v {
		v[i] = 1
	}
	outs, err := rdRun(t, "ReduceMean", nil, tensor.From(tensor.Shape{200}, v))
	if err != nil {
		t.Fatal(err)
	}
	// the int8 sum wraps to -56; -56/200 truncates to 0.
	rdClose(t, "ReduceMean int8", outs[0], tensor.Shape{1}, []float64{0})
}
