package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Loop runs its body subgraph repeatedly (ONNX Loop-21). Inputs: an optional
// int64 scalar trip count M, an optional bool scalar cond, and N initial
// loop-carried values (tensors, sequences or optionals). The body takes
// (iteration number as int64 scalar, cond, N carried values) and returns
// (cond, N carried values, K scan outputs). Iteration i runs while i < M
// (when M is given) and cond is true (when cond is given; the body's cond
// output is ignored when the cond input is absent). Outputs are the N final
// carried values (the initial values when no iteration ran) followed by the
// K scan outputs, each the per-iteration tensors stacked along a new axis 0;
// after zero iterations a scan output is empty with the body output's
// declared shape (unknown dimensions as 0).
//
// kiln differs from ONNX in two places: a loop stops with an error after
// 1<<26 iterations (so a model whose trip count and condition never end
// cannot hang a server; the run's context also cancels it between
// iterations), and scan outputs must be tensors of one shape in every
// iteration.
var Loop = &Def{Name: "Loop", Infer: cfInferLoop, Eval: cfEvalLoop}

func init() { Register(Loop) }

func cfEvalLoop(ec *EvalContext, in []Value) ([]Value, error) {
	body := ec.Node.Attrs.Graph("body")
	if body == nil {
		return nil, ec.Errorf("missing graph attribute body")
	}
	if len(in) < 2 {
		in = append(in, make([]Value, 2-len(in))...)
	}
	var (
		maxTrip int64 = -1
		condIn        = in[1] != nil
		cond          = true
	)
	if in[0] != nil {
		mt, err := cfAsTensor(ec, in[0], "trip count M")
		if err != nil {
			return nil, err
		}
		if maxTrip, err = cfScalarInt(ec, mt, "trip count M"); err != nil {
			return nil, err
		}
		if maxTrip < 0 {
			maxTrip = 0
		}
	}
	if condIn {
		ct, err := cfAsTensor(ec, in[1], "cond")
		if err != nil {
			return nil, err
		}
		if cond, err = cfScalarBool(ec, ct, "cond"); err != nil {
			return nil, err
		}
	}
	carried := append([]Value(nil), in[2:]...)
	n := len(carried)
	if len(body.Inputs) != n+2 {
		return nil, ec.Errorf("body takes %d inputs, want %d (iteration number, cond and %d carried values)", len(body.Inputs), n+2, n)
	}
	k := len(body.Outputs) - 1 - n
	if k < 0 {
		return nil, ec.Errorf("body returns %d outputs, want at least %d (cond and %d carried values)", len(body.Outputs), n+1, n)
	}
	if len(ec.Node.Outputs) > n+k {
		return nil, ec.Errorf("node has %d outputs, the body yields only %d carried values and %d scan outputs", len(ec.Node.Outputs), n, k)
	}
	scans := make([][]*tensor.Tensor, k)
	for it := int64(0); (maxTrip < 0 || it < maxTrip) && (!condIn || cond); it++ {
		if it >= cfMaxIterations {
			return nil, ec.Errorf("stopped after %d iterations (kiln's limit); the trip count and condition never ended the loop", it)
		}
		if err := cfCheckCtx(ec); err != nil {
			return nil, err
		}
		args := make([]Value, 0, n+2)
		args = append(args, tensor.Scalar(it), tensor.Scalar(cond))
		args = append(args, carried...)
		outs, err := cfRun(ec, body, args)
		if err != nil {
			return nil, err
		}
		if len(outs) != 1+n+k {
			return nil, ec.Errorf("body returned %d values, want %d", len(outs), 1+n+k)
		}
		if condIn {
			ct, err := cfAsTensor(ec, outs[0], "body's cond output")
			if err != nil {
				return nil, err
			}
			if cond, err = cfScalarBool(ec, ct, "body's cond output"); err != nil {
				return nil, err
			}
		}
		copy(carried, outs[1:1+n])
		for j := range k {
			t, ok := outs[1+n+j].(*tensor.Tensor)
			if !ok || t == nil {
				return nil, Unsupported(ec.Node, "scan output %d is %s; kiln stacks only tensor scan outputs", j, cfKindName(outs[1+n+j]))
			}
			scans[j] = append(scans[j], t)
		}
	}
	res := make([]Value, n+k)
	copy(res, carried)
	for j := range k {
		if len(scans[j]) == 0 {
			res[n+j] = cfEmptyOf(cfKnown(body.Outputs[1+n+j].Type), 0)
			continue
		}
		st, err := cfStack(scans[j], 0)
		if err != nil {
			return nil, ec.Errorf("scan output %d: %v", j, err)
		}
		res[n+j] = st
	}
	return res[:len(ec.Node.Outputs)], nil
}

func cfInferLoop(ic *InferContext) ([]graph.Type, error) {
	body := ic.Node.Attrs.Graph("body")
	if body == nil {
		return nil, ic.Errorf("missing graph attribute body")
	}
	n := len(ic.In) - 2
	if n < 0 {
		n = 0
	}
	bt := cfGraphOutTypes(body)
	k := len(bt) - 1 - n
	if k < 0 || len(ic.Node.Outputs) > n+k {
		return nil, ic.Errorf("body returns %d outputs; with %d carried values the node can have at most %d outputs, it has %d", len(bt), n, len(bt)-1, len(ic.Node.Outputs))
	}
	out := make([]graph.Type, 0, n+k)
	for i := range n {
		out = append(out, cfCarriedType(ic.In[2+i], bt[1+i]))
	}
	for j := range k {
		out = append(out, cfPrependDim(bt[1+n+j], -1))
	}
	return out[:len(ic.Node.Outputs)], nil
}

// cfPrependDim returns a tensor type with a leading dimension d added.
func cfPrependDim(t graph.Type, d int) graph.Type {
	if t.Kind != graph.KindTensor || t.Unranked {
		return t
	}
	return graph.TensorType(t.DType, append([]int{d}, t.Shape...)...)
}

// cfCarriedType is the type of a loop-carried value that starts as init and
// is replaced by the body's output each iteration. When the kinds differ
// (an optional initial value and a plain body output), the body's type wins.
func cfCarriedType(init, body graph.Type) graph.Type {
	if init.Kind != body.Kind {
		return body
	}
	return cfMergeTypes(init, body)
}
