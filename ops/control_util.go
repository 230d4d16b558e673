package ops

import (
	"fmt"
	"reflect"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Shared helpers of the control-flow, sequence and optional ops.

// cfMaxIterations bounds the number of iterations of Loop (and of any other
// op whose trip count comes from data) so a malformed model cannot spin
// forever when its context is never cancelled. Models exported from
// while-loops commonly pass INT64_MAX as the trip count and rely on the
// condition; 1<<26 iterations is far beyond any real inference workload.
const cfMaxIterations = 1 << 26

// cfCheckCtx returns the context's error, if the context is set and done.
func cfCheckCtx(ec *EvalContext) error {
	if ec.Ctx != nil {
		if err := ec.Ctx.Err(); err != nil {
			return ec.Errorf("cancelled: %w", err)
		}
	}
	return nil
}

// cfRun runs a subgraph through the runtime, failing cleanly when the
// runtime provides no subgraph support.
func cfRun(ec *EvalContext, g *graph.Graph, in []Value) ([]Value, error) {
	if ec.RunGraph == nil {
		return nil, Unsupported(ec.Node, "running subgraph %q needs a runtime with subgraph support", g.Name)
	}
	return ec.RunGraph(g, in)
}

// cfCopy copies n elements of src starting at so into dst starting at do;
// dst and src are tensor data slices of the same Go type.
func cfCopy(dst any, do int, src any, so int, n int) {
	if n <= 0 {
		return
	}
	d := reflect.ValueOf(dst).Slice(do, do+n)
	s := reflect.ValueOf(src).Slice(so, so+n)
	reflect.Copy(d, s)
}

// cfAsTensor returns v as a tensor, or an error naming what it was.
func cfAsTensor(ec *EvalContext, v Value, what string) (*tensor.Tensor, error) {
	t, ok := v.(*tensor.Tensor)
	if !ok || t == nil {
		return nil, ec.Errorf("%s must be a tensor, got %s", what, cfKindName(v))
	}
	return t, nil
}

// cfAsSequence returns v as a sequence, or an error naming what it was.
func cfAsSequence(ec *EvalContext, v Value, what string) (*Sequence, error) {
	s, ok := v.(*Sequence)
	if !ok || s == nil {
		return nil, ec.Errorf("%s must be a sequence, got %s", what, cfKindName(v))
	}
	return s, nil
}

// cfKindName describes a runtime value for error messages.
func cfKindName(v Value) string {
	switch x := v.(type) {
	case nil:
		return "nothing (absent input)"
	case *tensor.Tensor:
		if x == nil {
			return "a nil tensor"
		}
		return fmt.Sprintf("a %v%v tensor", x.DType(), x.Shape())
	case *Sequence:
		return fmt.Sprintf("a sequence of %d %v tensors", len(x.Items), x.DType)
	case *Optional:
		return "an optional"
	}
	return fmt.Sprintf("a %T", v)
}

// cfScalarInt reads a scalar (or one-element) integer tensor.
func cfScalarInt(ec *EvalContext, t *tensor.Tensor, what string) (int64, error) {
	if t.Len() != 1 || !t.DType().IsInt() {
		return 0, ec.Errorf("%s must be a single integer, got %v%v", what, t.DType(), t.Shape())
	}
	return t.Int64s()[0], nil
}

// cfScalarBool reads a scalar (or one-element) bool tensor; numeric
// tensors count as true when non-zero.
func cfScalarBool(ec *EvalContext, t *tensor.Tensor, what string) (bool, error) {
	if t.Len() != 1 || t.DType() == tensor.String {
		return false, ec.Errorf("%s must be a single bool, got %v%v", what, t.DType(), t.Shape())
	}
	if t.DType() == tensor.Bool {
		return t.Bools()[0], nil
	}
	return t.At(0) != 0, nil
}

// cfSplitAt returns the products of the dimensions before and after axis.
func cfSplitAt(s tensor.Shape, axis int) (outer, inner int) {
	outer, inner = 1, 1
	for i, d := range s {
		if i < axis {
			outer *= d
		} else if i > axis {
			inner *= d
		}
	}
	return outer, inner
}

// cfConcat concatenates tensors of one dtype along an existing axis; all
// other dimensions must match.
func cfConcat(ts []*tensor.Tensor, axis int) (*tensor.Tensor, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("no tensors to concatenate")
	}
	first := ts[0]
	rank := first.Rank()
	if axis < 0 || axis >= rank {
		return nil, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	out := first.Shape().Clone()
	out[axis] = 0
	for i, t := range ts {
		if t.DType() != first.DType() {
			return nil, fmt.Errorf("element %d is %v, element 0 is %v", i, t.DType(), first.DType())
		}
		if t.Rank() != rank {
			return nil, fmt.Errorf("element %d has shape %v, element 0 has %v", i, t.Shape(), first.Shape())
		}
		for d := range rank {
			if d != axis && t.Shape()[d] != first.Shape()[d] {
				return nil, fmt.Errorf("element %d has shape %v, incompatible with element 0's %v on axis %d", i, t.Shape(), first.Shape(), d)
			}
		}
		out[axis] += t.Shape()[axis]
	}
	res, err := tensor.NewChecked(first.DType(), out)
	if err != nil {
		return nil, err
	}
	outer, inner := cfSplitAt(out, axis)
	rowOut := out[axis] * inner
	off := 0
	for _, t := range ts {
		row := t.Shape()[axis] * inner
		for o := range outer {
			cfCopy(res.Data(), o*rowOut+off, t.Data(), o*row, row)
		}
		off += row
	}
	return res, nil
}

// cfStack stacks tensors of one shape and dtype along a new axis.
func cfStack(ts []*tensor.Tensor, axis int) (*tensor.Tensor, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("no tensors to stack")
	}
	first := ts[0]
	if axis < 0 || axis > first.Rank() {
		return nil, fmt.Errorf("axis %d out of range for stacking rank-%d tensors", axis, first.Rank())
	}
	rs := make([]*tensor.Tensor, len(ts))
	for i, t := range ts {
		if !t.Shape().Equal(first.Shape()) {
			return nil, fmt.Errorf("element %d has shape %v, element 0 has %v; stacked values must have one shape", i, t.Shape(), first.Shape())
		}
		rs[i] = cfInsertDim(t, axis)
	}
	return cfConcat(rs, axis)
}

// cfInsertDim returns t (data shared) with a dimension of size 1 at axis.
func cfInsertDim(t *tensor.Tensor, axis int) *tensor.Tensor {
	s := make(tensor.Shape, 0, t.Rank()+1)
	s = append(s, t.Shape()[:axis]...)
	s = append(s, 1)
	s = append(s, t.Shape()[axis:]...)
	r, _ := t.Reshape(s)
	return r
}

// cfSlice returns the sub-tensor at index i along axis, with that axis
// removed (keep=false) or kept with size n (keep=true, elements i..i+n-1).
func cfSlice(t *tensor.Tensor, axis, i, n int, keep bool) *tensor.Tensor {
	shape := t.Shape()
	outer, inner := cfSplitAt(shape, axis)
	var os tensor.Shape
	if keep {
		os = shape.Clone()
		os[axis] = n
	} else {
		os = append(append(tensor.Shape{}, shape[:axis]...), shape[axis+1:]...)
	}
	res := tensor.New(t.DType(), os...)
	row := shape[axis] * inner
	for o := range outer {
		cfCopy(res.Data(), o*n*inner, t.Data(), o*row+i*inner, n*inner)
	}
	return res
}

// cfEmptyOf returns a tensor of the given type with size 0 on axis 0
// (unknown dimensions become 0 too); used for scan outputs of loops that
// ran no iteration.
func cfEmptyOf(t graph.Type, lead int) *tensor.Tensor {
	dt := t.DType
	if !dt.Supported() {
		dt = tensor.Float32
	}
	s := tensor.Shape{lead}
	if !t.Unranked {
		for _, d := range t.Shape {
			if d < 0 {
				d = 0
			}
			s = append(s, d)
		}
	}
	r, err := tensor.NewChecked(dt, s)
	if err != nil {
		return tensor.New(dt, lead)
	}
	return r
}

// cfSeqType is the static type of a sequence of the given element type.
func cfSeqType(elem graph.Type) graph.Type {
	e := elem
	return graph.Type{Kind: graph.KindSequence, DType: elem.DType, Elem: &e}
}

// cfOptType is the static type of an optional holding elem.
func cfOptType(elem graph.Type) graph.Type {
	e := elem
	return graph.Type{Kind: graph.KindOptional, DType: elem.DType, Elem: &e}
}

// cfValueType returns the static type of a runtime value (tensors with
// their exact shape).
func cfValueType(v Value) graph.Type {
	switch x := v.(type) {
	case *tensor.Tensor:
		return graph.TensorType(x.DType(), x.Shape()...)
	case *Sequence:
		return cfSeqType(graph.UnrankedType(x.DType))
	case *Optional:
		if x.Value != nil {
			return cfOptType(cfValueType(x.Value))
		}
		return x.Type
	}
	return graph.Type{}
}

// cfMergeTypes returns a type that covers both a and b: dimensions that
// differ become unknown, differing ranks become unranked.
func cfMergeTypes(a, b graph.Type) graph.Type {
	a, b = cfKnown(a), cfKnown(b)
	if a.Kind != b.Kind {
		return a
	}
	if a.Kind != graph.KindTensor {
		if a.Elem != nil && b.Elem != nil {
			e := cfMergeTypes(*a.Elem, *b.Elem)
			a.Elem = &e
		} else {
			a.Elem = nil
		}
		return a
	}
	if a.Unranked || b.Unranked || len(a.Shape) != len(b.Shape) {
		return graph.UnrankedType(a.DType)
	}
	s := make([]int, len(a.Shape))
	for i := range s {
		s[i] = a.Shape[i]
		if b.Shape[i] != a.Shape[i] {
			s[i] = -1
		}
	}
	return graph.TensorType(a.DType, s...)
}

// cfGraphOutTypes lists the declared output types of a subgraph.
func cfGraphOutTypes(g *graph.Graph) []graph.Type {
	ts := make([]graph.Type, len(g.Outputs))
	for i, o := range g.Outputs {
		ts[i] = cfKnown(o.Type)
	}
	return ts
}

// cfKnown marks a tensor type with no element type (a subgraph value whose
// type the file did not declare) as unranked instead of scalar.
func cfKnown(t graph.Type) graph.Type {
	if t.Kind == graph.KindTensor && t.DType == tensor.Undefined && len(t.Shape) == 0 {
		t.Unranked = true
	}
	return t
}
