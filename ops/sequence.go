package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// SequenceEmpty returns an empty sequence (ONNX SequenceEmpty-11) whose
// element type is the dtype attribute (default float32).
var SequenceEmpty = &Def{Name: "SequenceEmpty", Infer: cfInferSeqEmpty, Eval: cfEvalSeqEmpty}

// SequenceConstruct returns the sequence of its tensor inputs, in order
// (ONNX SequenceConstruct-11). All inputs must share one element type.
var SequenceConstruct = &Def{Name: "SequenceConstruct", Infer: cfInferSeqConstruct, Eval: cfEvalSeqConstruct}

// SequenceInsert returns a copy of the input sequence with the tensor
// inserted before index position (ONNX SequenceInsert-11). position is an
// optional int32/int64 scalar in [-n, n] (negative counts from the back);
// absent, the tensor is appended. The tensor must have the sequence's
// element type.
var SequenceInsert = &Def{Name: "SequenceInsert", Infer: cfInferSeqInsert, Eval: cfEvalSeqInsert}

// SequenceErase returns a copy of the input sequence without the element at
// position (ONNX SequenceErase-11): an optional int32/int64 scalar in
// [-n, n-1], default -1 (the last element).
var SequenceErase = &Def{Name: "SequenceErase", Infer: cfInferSeqErase, Eval: cfEvalSeqErase}

// SequenceAt returns the element at position (int32/int64 scalar in
// [-n, n-1]) of the input sequence (ONNX SequenceAt-11).
var SequenceAt = &Def{Name: "SequenceAt", Infer: cfInferSeqAt, Eval: cfEvalSeqAt}

// SequenceLength returns the number of elements of a sequence as an int64
// scalar (ONNX SequenceLength-11).
var SequenceLength = &Def{Name: "SequenceLength", Infer: cfInferSeqLength, Eval: cfEvalSeqLength}

// SplitToSequence splits a tensor along axis into a sequence (ONNX
// SplitToSequence-24). With no split input the parts have size 1 and, when
// keepdims is 0, the split axis is removed. A scalar split s makes parts of
// size s (the last may be smaller); a 1-D split lists the part sizes, which
// must sum to the axis length. keepdims is ignored when split is given.
var SplitToSequence = &Def{Name: "SplitToSequence", Infer: cfInferSplitToSeq, Eval: cfEvalSplitToSeq}

// ConcatFromSequence concatenates the tensors of a sequence along axis (ONNX
// ConcatFromSequence-11). With new_axis=1 the tensors, which must then all
// have one shape, are stacked along a new axis instead, and axis may be in
// [-r-1, r] for rank-r elements. An empty sequence is an error (ONNX leaves
// its output undefined).
var ConcatFromSequence = &Def{Name: "ConcatFromSequence", Infer: cfInferConcatFromSeq, Eval: cfEvalConcatFromSeq}

// SequenceMap applies the body subgraph to each element of the input
// sequence (ONNX SequenceMap-17). Iteration i passes the body element i of
// the input sequence and, for each additional input, its element i when it
// is a sequence (which must have the same length) or the whole tensor
// otherwise. Each body output is collected into one output sequence.
var SequenceMap = &Def{Name: "SequenceMap", Infer: cfInferSeqMap, Eval: cfEvalSeqMap}

func init() {
	Register(SequenceEmpty)
	Register(SequenceConstruct)
	Register(SequenceInsert)
	Register(SequenceErase)
	Register(SequenceAt)
	Register(SequenceLength)
	Register(SplitToSequence)
	Register(ConcatFromSequence)
	Register(SequenceMap)
}

func cfEvalSeqEmpty(ec *EvalContext, in []Value) ([]Value, error) {
	dt := tensor.DType(ec.Node.Attrs.Int("dtype", int64(tensor.Float32)))
	if !dt.Supported() {
		return nil, Unsupported(ec.Node, "element type %v", dt)
	}
	return []Value{&Sequence{DType: dt}}, nil
}

func cfInferSeqEmpty(ic *InferContext) ([]graph.Type, error) {
	dt := tensor.DType(ic.Node.Attrs.Int("dtype", int64(tensor.Float32)))
	return []graph.Type{cfSeqType(graph.UnrankedType(dt))}, nil
}

func cfEvalSeqConstruct(ec *EvalContext, in []Value) ([]Value, error) {
	if len(in) == 0 {
		return nil, ec.Errorf("needs at least one input")
	}
	s := &Sequence{Items: make([]*tensor.Tensor, len(in))}
	for i, v := range in {
		t, err := cfAsTensor(ec, v, "input")
		if err != nil {
			return nil, err
		}
		if i == 0 {
			s.DType = t.DType()
		} else if t.DType() != s.DType {
			return nil, ec.Errorf("input %d is %v, input 0 is %v; a sequence holds one element type", i, t.DType(), s.DType)
		}
		s.Items[i] = t
	}
	return []Value{s}, nil
}

func cfInferSeqConstruct(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) == 0 {
		return nil, ic.Errorf("needs at least one input")
	}
	e := cfKnown(ic.In[0])
	for _, t := range ic.In[1:] {
		e = cfMergeTypes(e, cfKnown(t))
	}
	return []graph.Type{cfSeqType(e)}, nil
}

// cfSeqElem is the element type of a sequence type.
func cfSeqElem(t graph.Type) graph.Type {
	if t.Elem != nil {
		return cfKnown(*t.Elem)
	}
	return graph.UnrankedType(t.DType)
}

// cfPosition reads an optional position input and normalizes it against a
// sequence of length n: valid positions are [-n, n-1], or [-n, n] when end
// is true. def is used when the input is absent.
func cfPosition(ec *EvalContext, v Value, n int, end bool, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	t, err := cfAsTensor(ec, v, "position")
	if err != nil {
		return 0, err
	}
	if t.Len() != 1 || (t.DType() != tensor.Int32 && t.DType() != tensor.Int64) {
		return 0, ec.Errorf("position must be an int32 or int64 scalar, got %v%v", t.DType(), t.Shape())
	}
	p := t.Int64s()[0]
	hi := int64(n - 1)
	if end {
		hi = int64(n)
	}
	if p < -int64(n) || p > hi {
		return 0, ec.Errorf("position %d is out of range [%d, %d] for a sequence of length %d", p, -n, hi, n)
	}
	if p < 0 {
		p += int64(n)
	}
	return int(p), nil
}

func cfArg(in []Value, i int) Value {
	if i < len(in) {
		return in[i]
	}
	return nil
}

func cfEvalSeqInsert(ec *EvalContext, in []Value) ([]Value, error) {
	s, err := cfAsSequence(ec, cfArg(in, 0), "input_sequence")
	if err != nil {
		return nil, err
	}
	t, err := cfAsTensor(ec, cfArg(in, 1), "tensor")
	if err != nil {
		return nil, err
	}
	dt := s.DType
	if len(s.Items) == 0 && dt == tensor.Undefined {
		// An empty sequence read from a file may carry no element type.
		dt = t.DType()
	}
	if t.DType() != dt {
		return nil, ec.Errorf("cannot insert a %v tensor into a sequence of %v", t.DType(), dt)
	}
	n := len(s.Items)
	p, err := cfPosition(ec, cfArg(in, 2), n, true, n)
	if err != nil {
		return nil, err
	}
	items := make([]*tensor.Tensor, 0, n+1)
	items = append(items, s.Items[:p]...)
	items = append(items, t)
	items = append(items, s.Items[p:]...)
	return []Value{&Sequence{DType: dt, Items: items}}, nil
}

func cfInferSeqInsert(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 2 {
		return nil, ic.Errorf("needs a sequence and a tensor")
	}
	if ic.In[0].Kind != graph.KindSequence {
		return nil, ic.Errorf("input 0 is %v, want a sequence", ic.In[0])
	}
	return []graph.Type{cfSeqType(cfMergeTypes(cfSeqElem(ic.In[0]), cfKnown(ic.In[1])))}, nil
}

func cfEvalSeqErase(ec *EvalContext, in []Value) ([]Value, error) {
	s, err := cfAsSequence(ec, cfArg(in, 0), "input_sequence")
	if err != nil {
		return nil, err
	}
	n := len(s.Items)
	if n == 0 {
		return nil, ec.Errorf("cannot erase from an empty sequence")
	}
	p, err := cfPosition(ec, cfArg(in, 1), n, false, n-1)
	if err != nil {
		return nil, err
	}
	items := make([]*tensor.Tensor, 0, n-1)
	items = append(items, s.Items[:p]...)
	items = append(items, s.Items[p+1:]...)
	return []Value{&Sequence{DType: s.DType, Items: items}}, nil
}

func cfInferSeqErase(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 || ic.In[0].Kind != graph.KindSequence {
		return nil, ic.Errorf("input 0 must be a sequence")
	}
	return []graph.Type{ic.In[0]}, nil
}

func cfEvalSeqAt(ec *EvalContext, in []Value) ([]Value, error) {
	s, err := cfAsSequence(ec, cfArg(in, 0), "input_sequence")
	if err != nil {
		return nil, err
	}
	if cfArg(in, 1) == nil {
		return nil, ec.Errorf("needs the position input")
	}
	p, err := cfPosition(ec, in[1], len(s.Items), false, 0)
	if err != nil {
		return nil, err
	}
	return []Value{s.Items[p]}, nil
}

func cfInferSeqAt(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 || ic.In[0].Kind != graph.KindSequence {
		return nil, ic.Errorf("input 0 must be a sequence")
	}
	return []graph.Type{cfSeqElem(ic.In[0])}, nil
}

func cfEvalSeqLength(ec *EvalContext, in []Value) ([]Value, error) {
	s, err := cfAsSequence(ec, cfArg(in, 0), "input_sequence")
	if err != nil {
		return nil, err
	}
	return []Value{tensor.Scalar(int64(len(s.Items)))}, nil
}

func cfInferSeqLength(ic *InferContext) ([]graph.Type, error) {
	return []graph.Type{graph.TensorType(tensor.Int64)}, nil
}

func cfEvalSplitToSeq(ec *EvalContext, in []Value) ([]Value, error) {
	x, err := cfAsTensor(ec, cfArg(in, 0), "input")
	if err != nil {
		return nil, err
	}
	if x.Rank() == 0 {
		return nil, ec.Errorf("input is a scalar; it needs at least one dimension to split")
	}
	axis, err := tensor.NormAxis(int(ec.Node.Attrs.Int("axis", 0)), x.Rank())
	if err != nil {
		return nil, ec.Errorf("attribute axis: %v", err)
	}
	keep := ec.Node.Attrs.Int("keepdims", 1) != 0
	dim := x.Shape()[axis]
	var sizes []int
	sv := cfArg(in, 1)
	switch {
	case sv == nil:
		sizes = make([]int, dim)
		for i := range sizes {
			sizes[i] = 1
		}
		if !keep {
			items := make([]*tensor.Tensor, dim)
			for i := range items {
				items[i] = cfSlice(x, axis, i, 1, false)
			}
			return []Value{&Sequence{DType: x.DType(), Items: items}}, nil
		}
	default:
		st, err := cfAsTensor(ec, sv, "split")
		if err != nil {
			return nil, err
		}
		if !st.DType().IsInt() || st.Rank() > 1 {
			return nil, ec.Errorf("split must be an integer scalar or 1-D tensor, got %v%v", st.DType(), st.Shape())
		}
		vals := st.Int64s()
		if st.Rank() == 0 {
			c := vals[0]
			if c <= 0 {
				return nil, ec.Errorf("split %d must be positive", c)
			}
			for off := 0; off < dim; off += int(c) {
				sizes = append(sizes, min(int(c), dim-off))
			}
		} else {
			sum := 0
			for _, v := range vals {
				if v < 0 || v > int64(dim) {
					return nil, ec.Errorf("split %v has an entry outside [0, %d]", vals, dim)
				}
				sizes = append(sizes, int(v))
				sum += int(v)
			}
			if sum != dim {
				return nil, ec.Errorf("split %v sums to %d, but axis %d has length %d", vals, sum, axis, dim)
			}
		}
	}
	items := make([]*tensor.Tensor, len(sizes))
	off := 0
	for i, sz := range sizes {
		items[i] = cfSlice(x, axis, off, sz, true)
		off += sz
	}
	return []Value{&Sequence{DType: x.DType(), Items: items}}, nil
}

func cfInferSplitToSeq(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs an input")
	}
	x := cfKnown(ic.In[0])
	if x.Unranked {
		return []graph.Type{cfSeqType(graph.UnrankedType(x.DType))}, nil
	}
	axis, err := tensor.NormAxis(int(ic.Node.Attrs.Int("axis", 0)), len(x.Shape))
	if err != nil || len(x.Shape) == 0 {
		return nil, ic.Errorf("attribute axis %d is out of range for input %v", ic.Node.Attrs.Int("axis", 0), x)
	}
	s := append([]int(nil), x.Shape...)
	switch {
	case !ic.Has(1) && ic.Node.Attrs.Int("keepdims", 1) == 0:
		s = append(s[:axis], s[axis+1:]...)
	case !ic.Has(1):
		s[axis] = 1
	default:
		s[axis] = -1
	}
	return []graph.Type{cfSeqType(graph.TensorType(x.DType, s...))}, nil
}

func cfEvalConcatFromSeq(ec *EvalContext, in []Value) ([]Value, error) {
	s, err := cfAsSequence(ec, cfArg(in, 0), "input_sequence")
	if err != nil {
		return nil, err
	}
	if !ec.Node.Attrs.Has("axis") {
		return nil, ec.Errorf("missing required attribute axis")
	}
	if len(s.Items) == 0 {
		return nil, ec.Errorf("input sequence is empty; there is nothing to concatenate")
	}
	newAxis := ec.Node.Attrs.Int("new_axis", 0) != 0
	r := s.Items[0].Rank()
	if newAxis {
		r++
	}
	a := int(ec.Node.Attrs.Int("axis", 0))
	axis, err := tensor.NormAxis(a, r)
	if err != nil || r == 0 {
		return nil, ec.Errorf("axis %d is out of range for rank-%d elements (new_axis=%v)", a, s.Items[0].Rank(), newAxis)
	}
	var out *tensor.Tensor
	if newAxis {
		out, err = cfStack(s.Items, axis)
	} else {
		out, err = cfConcat(s.Items, axis)
	}
	if err != nil {
		return nil, ec.Errorf("%v", err)
	}
	return []Value{out}, nil
}

func cfInferConcatFromSeq(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 || ic.In[0].Kind != graph.KindSequence {
		return nil, ic.Errorf("input 0 must be a sequence")
	}
	e := cfSeqElem(ic.In[0])
	if e.Unranked {
		return []graph.Type{e}, nil
	}
	newAxis := ic.Node.Attrs.Int("new_axis", 0) != 0
	r := len(e.Shape)
	if newAxis {
		r++
	}
	axis, err := tensor.NormAxis(int(ic.Node.Attrs.Int("axis", 0)), r)
	if err != nil || r == 0 {
		return nil, ic.Errorf("axis %d is out of range for %v elements", ic.Node.Attrs.Int("axis", 0), e)
	}
	s := append([]int(nil), e.Shape...)
	if newAxis {
		s = append(s[:axis], append([]int{-1}, s[axis:]...)...)
	} else {
		s[axis] = -1
	}
	return []graph.Type{graph.TensorType(e.DType, s...)}, nil
}

func cfEvalSeqMap(ec *EvalContext, in []Value) ([]Value, error) {
	body := ec.Node.Attrs.Graph("body")
	if body == nil {
		return nil, ec.Errorf("missing graph attribute body")
	}
	s, err := cfAsSequence(ec, cfArg(in, 0), "input_sequence")
	if err != nil {
		return nil, err
	}
	n := len(s.Items)
	if len(body.Inputs) != len(in) {
		return nil, ec.Errorf("body takes %d inputs, the node has %d", len(body.Inputs), len(in))
	}
	for i, v := range in[1:] {
		switch x := v.(type) {
		case *Sequence:
			if len(x.Items) != n {
				return nil, ec.Errorf("additional input %d is a sequence of %d elements, input_sequence has %d", i+1, len(x.Items), n)
			}
		case *tensor.Tensor:
		default:
			return nil, ec.Errorf("additional input %d is %s, want a tensor or sequence", i+1, cfKindName(v))
		}
	}
	k := len(body.Outputs)
	if len(ec.Node.Outputs) > k {
		return nil, ec.Errorf("node has %d outputs, the body %d", len(ec.Node.Outputs), k)
	}
	res := make([]*Sequence, k)
	for j := range res {
		res[j] = &Sequence{DType: cfKnown(body.Outputs[j].Type).DType, Items: make([]*tensor.Tensor, 0, n)}
	}
	for i := range n {
		if err := cfCheckCtx(ec); err != nil {
			return nil, err
		}
		args := make([]Value, len(in))
		args[0] = s.Items[i]
		for j, v := range in[1:] {
			if sq, ok := v.(*Sequence); ok {
				args[j+1] = sq.Items[i]
			} else {
				args[j+1] = v
			}
		}
		outs, err := cfRun(ec, body, args)
		if err != nil {
			return nil, err
		}
		if len(outs) != k {
			return nil, ec.Errorf("body returned %d values, want %d", len(outs), k)
		}
		for j, o := range outs {
			t, ok := o.(*tensor.Tensor)
			if !ok || t == nil {
				return nil, ec.Errorf("body output %d is %s, want a tensor", j, cfKindName(o))
			}
			if len(res[j].Items) == 0 {
				res[j].DType = t.DType()
			} else if t.DType() != res[j].DType {
				return nil, ec.Errorf("body output %d changes element type from %v to %v", j, res[j].DType, t.DType())
			}
			res[j].Items = append(res[j].Items, t)
		}
	}
	vs := make([]Value, len(ec.Node.Outputs))
	for j := range vs {
		vs[j] = res[j]
	}
	return vs, nil
}

func cfInferSeqMap(ic *InferContext) ([]graph.Type, error) {
	body := ic.Node.Attrs.Graph("body")
	if body == nil {
		return nil, ic.Errorf("missing graph attribute body")
	}
	bt := cfGraphOutTypes(body)
	if len(ic.Node.Outputs) > len(bt) {
		return nil, ic.Errorf("node has %d outputs, the body %d", len(ic.Node.Outputs), len(bt))
	}
	out := make([]graph.Type, len(ic.Node.Outputs))
	for i := range out {
		e := bt[i]
		e.DimNames = nil // names in the body's scope mean nothing outside it
		out[i] = cfSeqType(e)
	}
	return out, nil
}
