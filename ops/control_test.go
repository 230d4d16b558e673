package ops

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// cfBody is a subgraph stand-in for tests: its declared inputs and outputs
// and a Go function computing what the graph would.
type cfBody struct {
	g  *graph.Graph
	fn func(in []Value) ([]Value, error)
}

func cfTestGraph(name string, nIn int, outs ...graph.Type) *graph.Graph {
	g := &graph.Graph{Name: name}
	for i := range nIn {
		g.Inputs = append(g.Inputs, &graph.Value{Name: name + "_in" + string(rune('a'+i))})
	}
	for i, t := range outs {
		g.Outputs = append(g.Outputs, &graph.Value{Name: name + "_out" + string(rune('a'+i)), Type: t})
	}
	return g
}

// cfTestCtx returns an EvalContext for node n whose RunGraph dispatches to
// the fake bodies.
func cfTestCtx(n *graph.Node, bodies ...cfBody) *EvalContext {
	return &EvalContext{
		Ctx:  context.Background(),
		Node: n,
		RunGraph: func(g *graph.Graph, in []Value) ([]Value, error) {
			for _, b := range bodies {
				if b.g == g {
					if len(in) != len(g.Inputs) {
						return nil, errors.New("fake RunGraph: wrong input count")
					}
					return b.fn(in)
				}
			}
			return nil, errors.New("fake RunGraph: unknown graph")
		},
	}
}

func cfNode(op string, nIn, nOut int, attrs graph.Attrs) *graph.Node {
	n := &graph.Node{Name: "n", Op: op, Attrs: attrs}
	for i := range nIn {
		n.Inputs = append(n.Inputs, "i"+string(rune('0'+i)))
	}
	for i := range nOut {
		n.Outputs = append(n.Outputs, "o"+string(rune('0'+i)))
	}
	return n
}

func f32(shape tensor.Shape, v ...float32) *tensor.Tensor { return tensor.From(shape, v) }

func cfWantTensor(t *testing.T, what string, got Value, want *tensor.Tensor) {
	t.Helper()
	g, ok := got.(*tensor.Tensor)
	if !ok {
		t.Fatalf("%s: got %s, want tensor %v", what, cfKindName(got), want)
	}
	if g.DType() != want.DType() || !g.Shape().Equal(want.Shape()) || (g.Len() > 0 && !reflect.DeepEqual(g.Data(), want.Data())) {
		t.Fatalf("%s: got %v %v, want %v %v", what, g, g.Data(), want, want.Data())
	}
}

// cfAddF32 adds two float32 tensors of one shape.
func cfAddF32(a, b *tensor.Tensor) *tensor.Tensor {
	out := make([]float32, a.Len())
	for i := range out {
		out[i] = a.F32()[i] + b.F32()[i]
	}
	return tensor.From(a.Shape().Clone(), out)
}

func TestIf(t *testing.T) {
	tg := cfTestGraph("then", 0, graph.TensorType(tensor.Float32, 2))
	eg := cfTestGraph("else", 0, graph.TensorType(tensor.Float32, 3))
	n := cfNode("If", 1, 1, graph.Attrs{"then_branch": tg, "else_branch": eg})
	bodies := []cfBody{
		{tg, func([]Value) ([]Value, error) { return []Value{f32(tensor.Shape{2}, 1, 2)}, nil }},
		{eg, func([]Value) ([]Value, error) { return []Value{f32(tensor.Shape{3}, 5, 4, 3)}, nil }},
	}
	for _, c := range []struct {
		cond bool
		want *tensor.Tensor
	}{{true, f32(tensor.Shape{2}, 1, 2)}, {false, f32(tensor.Shape{3}, 5, 4, 3)}} {
		out, err := If.Eval(cfTestCtx(n, bodies...), []Value{tensor.Scalar(c.cond)})
		if err != nil {
			t.Fatal(err)
		}
		cfWantTensor(t, "If", out[0], c.want)
	}
	ts, err := If.Infer(&InferContext{Node: n, In: []graph.Type{graph.TensorType(tensor.Bool)}})
	if err != nil || ts[0].String() != "float32[?]" {
		t.Fatalf("Infer = %v, %v; want float32[?]", ts, err)
	}
	if _, err := If.Eval(cfTestCtx(n, bodies...), []Value{f32(tensor.Shape{2}, 1, 0)}); err == nil {
		t.Fatal("two-element cond: want an error")
	}
}

// cfLoop11Body is ONNX's loop11 example: y_out = y_in + x[i:i+1] with
// x = [1 2 3 4 5]; the scan output is y_out.
func cfLoop11Body(g *graph.Graph) cfBody {
	x := []float32{1, 2, 3, 4, 5}
	return cfBody{g, func(in []Value) ([]Value, error) {
		i := in[0].(*tensor.Tensor).I64()[0]
		y := in[2].(*tensor.Tensor)
		yo := f32(tensor.Shape{1}, y.F32()[0]+x[i])
		return []Value{in[1], yo, yo}, nil
	}}
}

func TestLoop(t *testing.T) {
	body := cfTestGraph("body", 3, graph.TensorType(tensor.Bool), graph.TensorType(tensor.Float32, 1), graph.TensorType(tensor.Float32, 1))
	n := cfNode("Loop", 3, 2, graph.Attrs{"body": body})
	ec := cfTestCtx(n, cfLoop11Body(body))
	out, err := Loop.Eval(ec, []Value{tensor.Scalar(int64(5)), tensor.Scalar(true), f32(tensor.Shape{1}, -2)})
	if err != nil {
		t.Fatal(err)
	}
	cfWantTensor(t, "res_y", out[0], f32(tensor.Shape{1}, 13))
	cfWantTensor(t, "res_scan", out[1], f32(tensor.Shape{5, 1}, -1, 1, 4, 8, 13))

	// No iteration: carried values pass through, scan outputs are empty.
	out, err = Loop.Eval(ec, []Value{tensor.Scalar(int64(0)), tensor.Scalar(true), f32(tensor.Shape{1}, -2)})
	if err != nil {
		t.Fatal(err)
	}
	cfWantTensor(t, "res_y (0 iterations)", out[0], f32(tensor.Shape{1}, -2))
	cfWantTensor(t, "res_scan (0 iterations)", out[1], f32(tensor.Shape{0, 1}))

	// Absent cond: a plain for loop over M whose body cond is ignored.
	out, err = Loop.Eval(ec, []Value{tensor.Scalar(int64(2)), nil, f32(tensor.Shape{1}, 0)})
	if err != nil {
		t.Fatal(err)
	}
	cfWantTensor(t, "for loop", out[0], f32(tensor.Shape{1}, 3))

	ts, err := Loop.Infer(&InferContext{Node: n, In: []graph.Type{graph.TensorType(tensor.Int64), graph.TensorType(tensor.Bool), graph.TensorType(tensor.Float32, 1)}})
	if err != nil || ts[0].String() != "float32[1]" || ts[1].String() != "float32[?,1]" {
		t.Fatalf("Infer = %v, %v", ts, err)
	}
}

func TestLoopWhile(t *testing.T) {
	// A while loop: absent M, the body stops when the counter reaches 3.
	body := cfTestGraph("body", 3, graph.TensorType(tensor.Bool), graph.TensorType(tensor.Int64))
	n := cfNode("Loop", 3, 1, graph.Attrs{"body": body})
	ec := cfTestCtx(n, cfBody{body, func(in []Value) ([]Value, error) {
		c := in[2].(*tensor.Tensor).I64()[0] + 1
		return []Value{tensor.Scalar(c < 3), tensor.Scalar(c)}, nil
	}})
	out, err := Loop.Eval(ec, []Value{nil, tensor.Scalar(true), tensor.Scalar(int64(0))})
	if err != nil {
		t.Fatal(err)
	}
	cfWantTensor(t, "while", out[0], tensor.Scalar(int64(3)))
	// A false cond input runs no iteration.
	out, err = Loop.Eval(ec, []Value{nil, tensor.Scalar(false), tensor.Scalar(int64(0))})
	if err != nil {
		t.Fatal(err)
	}
	cfWantTensor(t, "while false", out[0], tensor.Scalar(int64(0)))
}

func TestLoopCancel(t *testing.T) {
	body := cfTestGraph("body", 2, graph.TensorType(tensor.Bool))
	n := cfNode("Loop", 2, 0, graph.Attrs{"body": body})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runs := 0
	ec := cfTestCtx(n, cfBody{body, func(in []Value) ([]Value, error) {
		runs++
		if runs == 10 {
			cancel()
		}
		return []Value{tensor.Scalar(true)}, nil
	}})
	ec.Ctx = ctx
	_, err := Loop.Eval(ec, []Value{nil, nil})
	if !errors.Is(err, context.Canceled) || runs != 10 {
		t.Fatalf("got %v after %d runs, want context.Canceled after 10", err, runs)
	}
}

// cfSumBody is ONNX's scan_sum example: sum_out = sum_in + next, scan_out =
// sum_out.
func cfSumBody(g *graph.Graph) cfBody {
	return cfBody{g, func(in []Value) ([]Value, error) {
		s := cfAddF32(in[0].(*tensor.Tensor), in[1].(*tensor.Tensor))
		return []Value{s, s}, nil
	}}
}

func TestScan(t *testing.T) {
	body := cfTestGraph("body", 2, graph.TensorType(tensor.Float32, 2), graph.TensorType(tensor.Float32, 2))
	x := f32(tensor.Shape{3, 2}, 1, 2, 3, 4, 5, 6)
	xt := f32(tensor.Shape{2, 3}, 1, 3, 5, 2, 4, 6)
	init := f32(tensor.Shape{2}, 0, 0)
	cases := []struct {
		name       string
		attrs      graph.Attrs
		x          *tensor.Tensor
		wantState  *tensor.Tensor
		wantOutput *tensor.Tensor
	}{
		{"forward", graph.Attrs{}, x, f32(tensor.Shape{2}, 9, 12), f32(tensor.Shape{3, 2}, 1, 2, 4, 6, 9, 12)},
		{"reverse input", graph.Attrs{"scan_input_directions": []int64{1}}, x, f32(tensor.Shape{2}, 9, 12), f32(tensor.Shape{3, 2}, 5, 6, 8, 10, 9, 12)},
		{"reverse output", graph.Attrs{"scan_output_directions": []int64{1}}, x, f32(tensor.Shape{2}, 9, 12), f32(tensor.Shape{3, 2}, 9, 12, 4, 6, 1, 2)},
		{"input axis 1", graph.Attrs{"scan_input_axes": []int64{-1}}, xt, f32(tensor.Shape{2}, 9, 12), f32(tensor.Shape{3, 2}, 1, 2, 4, 6, 9, 12)},
		{"output axis 1", graph.Attrs{"scan_output_axes": []int64{-1}}, x, f32(tensor.Shape{2}, 9, 12), f32(tensor.Shape{2, 3}, 1, 4, 9, 2, 6, 12)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			attrs := c.attrs.Clone()
			attrs["body"] = body
			attrs["num_scan_inputs"] = int64(1)
			n := cfNode("Scan", 2, 2, attrs)
			out, err := Scan.Eval(cfTestCtx(n, cfSumBody(body)), []Value{init, c.x})
			if err != nil {
				t.Fatal(err)
			}
			cfWantTensor(t, "state", out[0], c.wantState)
			cfWantTensor(t, "scan output", out[1], c.wantOutput)
		})
	}
	n := cfNode("Scan", 2, 2, graph.Attrs{"body": body, "num_scan_inputs": int64(1), "scan_output_axes": []int64{1}})
	ts, err := Scan.Infer(&InferContext{Node: n, In: []graph.Type{graph.TensorType(tensor.Float32, 2), graph.TensorType(tensor.Float32, 3, 2)}})
	if err != nil || ts[0].String() != "float32[2]" || ts[1].String() != "float32[2,3]" {
		t.Fatalf("Infer = %v, %v", ts, err)
	}
	// Mismatched scan lengths are an error, not a panic.
	n = cfNode("Scan", 2, 1, graph.Attrs{"body": cfTestGraph("b2", 2, graph.TensorType(tensor.Float32)), "num_scan_inputs": int64(2)})
	if _, err := Scan.Eval(cfTestCtx(n), []Value{x, f32(tensor.Shape{2}, 1, 2)}); err == nil {
		t.Fatal("scan inputs of different lengths: want an error")
	}
}

func TestScan8(t *testing.T) {
	body := cfTestGraph("body", 2, graph.TensorType(tensor.Float32, 2), graph.TensorType(tensor.Float32, 2))
	n := cfNode("Scan8", 3, 2, graph.Attrs{"body": body, "num_scan_inputs": int64(1)})
	ec := cfTestCtx(n, cfSumBody(body))
	// Batch of 2: the second entry has length 2 and its output is padded.
	init := f32(tensor.Shape{2, 2}, 0, 0, 10, 10)
	x := f32(tensor.Shape{2, 3, 2}, 1, 2, 3, 4, 5, 6, 1, 1, 2, 2, 3, 3)
	out, err := Scan8.Eval(ec, []Value{tensor.FromInt64s(tensor.Shape{2}, []int64{3, 2}), init, x})
	if err != nil {
		t.Fatal(err)
	}
	cfWantTensor(t, "state", out[0], f32(tensor.Shape{2, 2}, 9, 12, 13, 13))
	cfWantTensor(t, "scan output", out[1], f32(tensor.Shape{2, 3, 2}, 1, 2, 4, 6, 9, 12, 11, 11, 13, 13, 0, 0))
	// No sequence_lens, reverse direction.
	n.Attrs["directions"] = []int64{1}
	out, err = Scan8.Eval(ec, []Value{nil, init, x})
	if err != nil {
		t.Fatal(err)
	}
	cfWantTensor(t, "scan output (reverse)", out[1], f32(tensor.Shape{2, 3, 2}, 5, 6, 8, 10, 9, 12, 13, 13, 15, 15, 16, 16))
}

func cfSeqF(items ...*tensor.Tensor) *Sequence {
	return &Sequence{DType: tensor.Float32, Items: items}
}

func cfWantSeq(t *testing.T, what string, got Value, want ...*tensor.Tensor) {
	t.Helper()
	s, ok := got.(*Sequence)
	if !ok {
		t.Fatalf("%s: got %s, want a sequence", what, cfKindName(got))
	}
	if len(s.Items) != len(want) {
		t.Fatalf("%s: got %d items, want %d", what, len(s.Items), len(want))
	}
	for i := range want {
		cfWantTensor(t, what, s.Items[i], want[i])
	}
}

func TestSequenceOps(t *testing.T) {
	a, b, c := f32(tensor.Shape{1}, 1), f32(tensor.Shape{2}, 2, 3), f32(tensor.Shape{1}, 4)
	ec := func(op string, nIn int, attrs graph.Attrs) *EvalContext {
		return cfTestCtx(cfNode(op, nIn, 1, attrs))
	}
	run := func(d *Def, e *EvalContext, in ...Value) Value {
		t.Helper()
		out, err := d.Eval(e, in)
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		return out[0]
	}
	s := run(SequenceConstruct, ec("SequenceConstruct", 2, nil), a, b)
	cfWantSeq(t, "construct", s, a, b)
	cfWantSeq(t, "insert back", run(SequenceInsert, ec("SequenceInsert", 2, nil), s, c), a, b, c)
	cfWantSeq(t, "insert front", run(SequenceInsert, ec("SequenceInsert", 3, nil), s, c, tensor.Scalar(int64(0))), c, a, b)
	cfWantSeq(t, "insert -1", run(SequenceInsert, ec("SequenceInsert", 3, nil), s, c, tensor.Scalar(int32(-1))), a, c, b)
	cfWantSeq(t, "input unchanged", s, a, b)
	cfWantSeq(t, "erase default", run(SequenceErase, ec("SequenceErase", 1, nil), s), a)
	cfWantSeq(t, "erase 0", run(SequenceErase, ec("SequenceErase", 2, nil), s, tensor.Scalar(int64(0))), b)
	cfWantTensor(t, "at -1", run(SequenceAt, ec("SequenceAt", 2, nil), s, tensor.Scalar(int64(-1))), b)
	cfWantTensor(t, "length", run(SequenceLength, ec("SequenceLength", 1, nil), s), tensor.Scalar(int64(2)))
	e := run(SequenceEmpty, ec("SequenceEmpty", 0, graph.Attrs{"dtype": int64(tensor.Int32)}))
	if es := e.(*Sequence); es.DType != tensor.Int32 || len(es.Items) != 0 {
		t.Fatalf("SequenceEmpty = %+v", es)
	}
	for _, bad := range []struct {
		d  *Def
		in []Value
	}{
		{SequenceAt, []Value{s, tensor.Scalar(int64(2))}},
		{SequenceAt, []Value{s, tensor.Scalar(int64(-3))}},
		{SequenceInsert, []Value{s, c, tensor.Scalar(int64(3))}},
		{SequenceInsert, []Value{s, tensor.Scalar(int64(1))}},
		{SequenceErase, []Value{cfSeqF()}},
		{SequenceConstruct, []Value{a, tensor.Scalar(int64(1))}},
		{SequenceLength, []Value{a}},
	} {
		if _, err := bad.d.Eval(ec(bad.d.Name, len(bad.in), nil), bad.in); err == nil {
			t.Errorf("%s%v: want an error", bad.d.Name, bad.in)
		}
	}
}

func TestSplitToSequence(t *testing.T) {
	x := f32(tensor.Shape{3, 2}, 1, 2, 3, 4, 5, 6)
	cases := []struct {
		name  string
		attrs graph.Attrs
		split Value
		want  []*tensor.Tensor
	}{
		{"default", nil, nil, []*tensor.Tensor{f32(tensor.Shape{1, 2}, 1, 2), f32(tensor.Shape{1, 2}, 3, 4), f32(tensor.Shape{1, 2}, 5, 6)}},
		{"nokeepdims", graph.Attrs{"keepdims": int64(0)}, nil, []*tensor.Tensor{f32(tensor.Shape{2}, 1, 2), f32(tensor.Shape{2}, 3, 4), f32(tensor.Shape{2}, 5, 6)}},
		{"scalar split", nil, tensor.Scalar(int64(2)), []*tensor.Tensor{f32(tensor.Shape{2, 2}, 1, 2, 3, 4), f32(tensor.Shape{1, 2}, 5, 6)}},
		{"1-D split axis 1", graph.Attrs{"axis": int64(-1), "keepdims": int64(0)}, tensor.FromInt64s(tensor.Shape{2}, []int64{1, 1}), []*tensor.Tensor{f32(tensor.Shape{3, 1}, 1, 3, 5), f32(tensor.Shape{3, 1}, 2, 4, 6)}},
	}
	for _, c := range cases {
		out, err := SplitToSequence.Eval(cfTestCtx(cfNode("SplitToSequence", 2, 1, c.attrs)), []Value{x, c.split})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		cfWantSeq(t, c.name, out[0], c.want...)
	}
	if _, err := SplitToSequence.Eval(cfTestCtx(cfNode("SplitToSequence", 2, 1, nil)), []Value{x, tensor.FromInt64s(tensor.Shape{2}, []int64{1, 1})}); err == nil {
		t.Fatal("split not summing to the axis: want an error")
	}
}

func TestConcatFromSequence(t *testing.T) {
	s := cfSeqF(f32(tensor.Shape{1, 2}, 1, 2), f32(tensor.Shape{1, 2}, 3, 4))
	cases := []struct {
		attrs graph.Attrs
		want  *tensor.Tensor
	}{
		{graph.Attrs{"axis": int64(0)}, f32(tensor.Shape{2, 2}, 1, 2, 3, 4)},
		{graph.Attrs{"axis": int64(1)}, f32(tensor.Shape{1, 4}, 1, 2, 3, 4)},
		{graph.Attrs{"axis": int64(0), "new_axis": int64(1)}, f32(tensor.Shape{2, 1, 2}, 1, 2, 3, 4)},
		{graph.Attrs{"axis": int64(-1), "new_axis": int64(1)}, f32(tensor.Shape{1, 2, 2}, 1, 3, 2, 4)},
	}
	for _, c := range cases {
		out, err := ConcatFromSequence.Eval(cfTestCtx(cfNode("ConcatFromSequence", 1, 1, c.attrs)), []Value{s})
		if err != nil {
			t.Fatalf("%v: %v", c.attrs, err)
		}
		cfWantTensor(t, "concat", out[0], c.want)
	}
	if _, err := ConcatFromSequence.Eval(cfTestCtx(cfNode("ConcatFromSequence", 1, 1, graph.Attrs{"axis": int64(2)})), []Value{s}); err == nil {
		t.Fatal("axis out of range: want an error")
	}
}

func TestSequenceMap(t *testing.T) {
	body := cfTestGraph("body", 2, graph.TensorType(tensor.Float32, -1))
	n := cfNode("SequenceMap", 2, 1, graph.Attrs{"body": body})
	ec := cfTestCtx(n, cfBody{body, func(in []Value) ([]Value, error) {
		return []Value{cfAddF32(in[0].(*tensor.Tensor), in[1].(*tensor.Tensor))}, nil
	}})
	s := cfSeqF(f32(tensor.Shape{1}, 1), f32(tensor.Shape{2}, 2, 3))
	out, err := SequenceMap.Eval(ec, []Value{s, s})
	if err != nil {
		t.Fatal(err)
	}
	cfWantSeq(t, "2 sequences", out[0], f32(tensor.Shape{1}, 2), f32(tensor.Shape{2}, 4, 6))
	s2 := cfSeqF(f32(tensor.Shape{2}, 1, 1), f32(tensor.Shape{2}, 2, 3))
	out, err = SequenceMap.Eval(ec, []Value{s2, f32(tensor.Shape{2}, 10, 20)})
	if err != nil {
		t.Fatal(err)
	}
	cfWantSeq(t, "sequence and tensor", out[0], f32(tensor.Shape{2}, 11, 21), f32(tensor.Shape{2}, 12, 23))
	if _, err := SequenceMap.Eval(ec, []Value{s, cfSeqF(f32(tensor.Shape{1}, 1))}); err == nil {
		t.Fatal("sequences of different lengths: want an error")
	}
}

func TestOptionalOps(t *testing.T) {
	x := f32(tensor.Shape{1}, 7)
	ec := func(op string, nIn int, attrs graph.Attrs) *EvalContext {
		return cfTestCtx(cfNode(op, nIn, 1, attrs))
	}
	out, err := OptionalOp.Eval(ec("Optional", 1, nil), []Value{x})
	if err != nil {
		t.Fatal(err)
	}
	full := out[0]
	out, err = OptionalOp.Eval(ec("Optional", 0, graph.Attrs{"type": graph.TensorType(tensor.Float32)}), nil)
	if err != nil {
		t.Fatal(err)
	}
	empty := out[0]
	if _, err := OptionalOp.Eval(ec("Optional", 0, nil), nil); err == nil {
		t.Fatal("empty Optional without type: want an error")
	}
	for _, c := range []struct {
		in   Value
		want bool
	}{{full, true}, {empty, false}, {nil, false}, {x, true}, {cfSeqF(), true}} {
		out, err := OptionalHasElement.Eval(ec("OptionalHasElement", 1, nil), []Value{c.in})
		if err != nil {
			t.Fatal(err)
		}
		cfWantTensor(t, "has element of "+cfKindName(c.in), out[0], tensor.Scalar(c.want))
	}
	for _, in := range []Value{full, x} {
		out, err := OptionalGetElement.Eval(ec("OptionalGetElement", 1, nil), []Value{in})
		if err != nil {
			t.Fatal(err)
		}
		cfWantTensor(t, "get element", out[0], x)
	}
	_, err = OptionalGetElement.Eval(ec("OptionalGetElement", 1, nil), []Value{empty})
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("get element of empty optional: got %v, want an error", err)
	}
}

// TestControlBadInputs feeds every op of this family malformed inputs: each
// must return an error or a value, never panic.
func TestControlBadInputs(t *testing.T) {
	body := cfTestGraph("body", 2, graph.TensorType(tensor.Float32))
	fake := cfBody{body, func(in []Value) ([]Value, error) { return []Value{nil}, nil }}
	vals := []Value{nil, tensor.Scalar("s"), f32(tensor.Shape{0}), f32(tensor.Shape{2, 0, 3}), tensor.Scalar(int64(-5)),
		tensor.Scalar(true), cfSeqF(), cfSeqF(f32(tensor.Shape{1}, 1)), &Optional{}, &Optional{Value: cfSeqF()}}
	bad := graph.Attrs{"body": body, "then_branch": body, "else_branch": body, "num_scan_inputs": int64(1),
		"axis": int64(3), "scan_input_axes": []int64{5}, "directions": []int64{2}, "dtype": int64(99)}
	good := graph.Attrs{"body": body, "then_branch": body, "else_branch": body, "num_scan_inputs": int64(1),
		"axis": int64(0), "new_axis": int64(1), "keepdims": int64(0)}
	defs := []*Def{If, Loop, Scan, Scan8, SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceErase, SequenceAt,
		SequenceLength, SplitToSequence, ConcatFromSequence, SequenceMap, OptionalOp, OptionalHasElement, OptionalGetElement}
	for _, attrs := range []graph.Attrs{bad, good} {
		for _, d := range defs {
			for _, a := range vals {
				for _, b := range vals {
					for _, c := range [][]Value{{}, {a}, {a, b}, {a, b, a}, {a, b, b, a}} {
						func() {
							defer func() {
								if r := recover(); r != nil {
									t.Errorf("%s(%s): panic %v", d.Name, cfKindsOf(c), r)
								}
							}()
							n := cfNode(d.Name, len(c), 1, attrs)
							d.Eval(cfTestCtx(n, fake), c)
							if d.Infer != nil {
								in := make([]graph.Type, len(c))
								for i, v := range c {
									in[i] = cfValueType(v)
								}
								d.Infer(&InferContext{Node: n, In: in})
							}
						}()
					}
				}
			}
		}
	}
}

func cfKindsOf(vs []Value) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = cfKindName(v)
	}
	return strings.Join(s, ", ")
}
