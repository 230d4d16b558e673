package ops

import (
	"fmt"
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// shpCase is one row of a shape-family case table: run op with attrs on
// inputs (nil = absent optional input) and compare with want.
type shpCase struct {
	name  string
	op    *Def
	attrs graph.Attrs
	in    []*tensor.Tensor
	want  []*tensor.Tensor
}

func shpF(shape tensor.Shape, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }
func shpI(shape tensor.Shape, v ...int64) *tensor.Tensor   { return tensor.From(shape, v) }
func shpS(shape tensor.Shape, v ...string) *tensor.Tensor  { return tensor.From(shape, v) }

func shpNode(d *Def, attrs graph.Attrs, nin, nout int) *graph.Node {
	n := &graph.Node{Name: "n", Op: d.Name, Attrs: attrs}
	if n.Attrs == nil {
		n.Attrs = graph.Attrs{}
	}
	for i := 0; i < nin; i++ {
		n.Inputs = append(n.Inputs, fmt.Sprint("in", i))
	}
	for i := 0; i < nout; i++ {
		n.Outputs = append(n.Outputs, fmt.Sprint("out", i))
	}
	return n
}

func shpEqual(a, b *tensor.Tensor) error {
	if a.DType() != b.DType() || !a.Shape().Equal(b.Shape()) {
		return fmt.Errorf("got %v%v, want %v%v", a.DType(), a.Shape(), b.DType(), b.Shape())
	}
	if a.DType() == tensor.String {
		x, y := a.Strings(), b.Strings()
		for i := range x {
			if x[i] != y[i] {
				return fmt.Errorf("got %v, want %v", a, b)
			}
		}
		return nil
	}
	x, y := a.Float64s(), b.Float64s()
	for i := range x {
		if math.Abs(x[i]-y[i]) > 1e-6+1e-5*math.Abs(y[i]) {
			return fmt.Errorf("element %d: got %v, want %v (%v vs %v)", i, x[i], y[i], a, b)
		}
	}
	return nil
}

func shpRunCases(t *testing.T, cases []shpCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := shpNode(c.op, c.attrs, len(c.in), len(c.want))
			for i, x := range c.in {
				if x == nil {
					n.Inputs[i] = ""
				}
			}
			got, err := c.op.Kernel(n, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d outputs, want %d", len(got), len(c.want))
			}
			for i := range got {
				if err := shpEqual(got[i], c.want[i]); err != nil {
					t.Errorf("output %d: %v", i, err)
				}
			}
			if c.op.Infer != nil {
				ic := &InferContext{Node: n, Consts: c.in}
				for _, x := range c.in {
					if x == nil {
						ic.In = append(ic.In, graph.Type{})
					} else {
						ic.In = append(ic.In, graph.TensorType(x.DType(), x.Shape()...))
					}
				}
				ts, err := c.op.Infer(ic)
				if err != nil {
					t.Fatalf("infer: %v", err)
				}
				for i, ty := range ts {
					if ty.DType != c.want[i].DType() {
						t.Errorf("infer output %d: dtype %v, want %v", i, ty.DType, c.want[i].DType())
					}
					if ty.Unranked {
						continue
					}
					if len(ty.Shape) != c.want[i].Rank() {
						t.Errorf("infer output %d: shape %v, want %v", i, ty.Shape, c.want[i].Shape())
						continue
					}
					for j, d := range ty.Shape {
						if d >= 0 && d != c.want[i].Shape()[j] {
							t.Errorf("infer output %d: shape %v, want %v", i, ty.Shape, c.want[i].Shape())
						}
					}
				}
			}
		})
	}
}

// TestShapeOpsNoPanic feeds malformed inputs to every op of the family and
// requires errors, never panics.
func TestShapeOpsNoPanic(t *testing.T) {
	defs := []*Def{Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size, Transpose, Slice, Gather,
		GatherElements, GatherND, ScatterElements, ScatterND, Concat, Split, Pad, CenterCropPad,
		Expand, Tile, DepthToSpace, SpaceToDepth, Trilu, ConstantOfShape, Range, EyeLike, OneHot,
		NonZero, Compress, Unique, TopK, ArgMax, ArgMin, CumSum, CumProd, ReverseSequence}
	vals := []*tensor.Tensor{
		nil,
		shpF(tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6),
		shpI(tensor.Shape{2}, 7, -9),
		shpI(tensor.Shape{}, 100),
		shpI(tensor.Shape{1}, -100),
		shpS(tensor.Shape{3}, "a", "b", "c"),
		tensor.From(tensor.Shape{2, 1}, []bool{true, false}),
		tensor.From(tensor.Shape{0}, []float32{}),
		shpI(tensor.Shape{3}, 1<<40, 3, -1<<40),
		shpI(tensor.Shape{2, 2}, 0, 1, 1, 0),
	}
	attrs := []graph.Attrs{{}, {"axis": int64(5), "perm": []int64{0, 0}, "blocksize": int64(0), "reduction": "bogus", "mode": "bogus"},
		{"axis": int64(-1), "batch_dims": int64(3), "num_outputs": int64(5), "value": shpI(tensor.Shape{2}, 1, 2)}}
	for _, d := range defs {
		for _, a := range attrs {
			for nin := 0; nin <= 4; nin++ {
				for seed := 0; seed < len(vals)*len(vals); seed++ {
					in := make([]*tensor.Tensor, nin)
					s := seed
					for i := range in {
						in[i] = vals[s%len(vals)]
						s = s/len(vals) + i + 1
					}
					func() {
						defer func() {
							if r := recover(); r != nil {
								t.Fatalf("%s with attrs %v and inputs %v panicked: %v", d.Name, a, in, r)
							}
						}()
						n := shpNode(d, a, nin, 2)
						d.Kernel(n, in)
						ic := &InferContext{Node: n, Consts: in}
						for _, x := range in {
							if x == nil {
								ic.In = append(ic.In, graph.Type{})
							} else {
								ic.In = append(ic.In, graph.TensorType(x.DType(), x.Shape()...))
							}
						}
						d.Infer(ic)
					}()
				}
			}
		}
	}
}
