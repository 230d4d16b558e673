package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Scan iterates its body over slices of scan inputs (ONNX Scan-21). Inputs
// are N initial state values followed by M = num_scan_inputs scan inputs.
// Iteration t feeds the body the current states and, for each scan input j,
// its slice at index t (or L-1-t when scan_input_directions[j] is 1) along
// axis scan_input_axes[j] (default 0, negative counts from the back), with
// that axis removed; every scan input must have the same length L on its
// scan axis. The body returns N new states and K scan output elements.
// Outputs are the N final states and K scan outputs, each the per-iteration
// elements stacked along a new axis scan_output_axes[k] (default 0, negative
// counts from the back of the output's rank), in reverse iteration order when
// scan_output_directions[k] is 1. States may be any value; scan inputs and
// outputs are tensors.
var Scan = &Def{Name: "Scan", Infer: cfInferScan, Eval: cfEvalScan}

// Scan8 is the opset-8 form of ONNX Scan (ONNX Scan-8), which iterates over a
// batch. Inputs: an optional int64 tensor sequence_lens of shape [B], N
// initial states of shape [B, ...], and M = num_scan_inputs scan inputs of
// shape [B, T, ...]. For each batch entry b the body runs as in Scan over
// the first sequence_lens[b] (default T) elements of axis 1, in reverse when
// directions[j] is 1. Outputs: N final states [B, ...] and K scan outputs
// [B, T, ...], zero-padded past each entry's length.
var Scan8 = &Def{Name: "Scan8", Domain: "kiln", Infer: cfInferScan8, Eval: cfEvalScan8}

func init() {
	Register(Scan)
	Register(Scan8)
}

// cfScanLoop runs body over L iterations: states are the carried values,
// scanIns[j] is sliced at axes[j] (reversed when dirs[j] is 1). It returns
// the final states and, per scan output, the elements in iteration order.
func cfScanLoop(ec *EvalContext, body *graph.Graph, states []Value, scanIns []*tensor.Tensor, axes, dirs []int, L int) ([]Value, [][]*tensor.Tensor, error) {
	n, m := len(states), len(scanIns)
	k := len(body.Outputs) - n
	if len(body.Inputs) != n+m {
		return nil, nil, ec.Errorf("body takes %d inputs, want %d (%d states and %d scan inputs)", len(body.Inputs), n+m, n, m)
	}
	if k < 0 {
		return nil, nil, ec.Errorf("body returns %d outputs, fewer than the %d states", len(body.Outputs), n)
	}
	states = append([]Value(nil), states...)
	scans := make([][]*tensor.Tensor, k)
	for t := 0; t < L; t++ {
		if err := cfCheckCtx(ec); err != nil {
			return nil, nil, err
		}
		args := make([]Value, 0, n+m)
		args = append(args, states...)
		for j, x := range scanIns {
			idx := t
			if dirs[j] == 1 {
				idx = L - 1 - t
			}
			args = append(args, cfSlice(x, axes[j], idx, 1, false))
		}
		outs, err := cfRun(ec, body, args)
		if err != nil {
			return nil, nil, err
		}
		if len(outs) != n+k {
			return nil, nil, ec.Errorf("body returned %d values, want %d", len(outs), n+k)
		}
		copy(states, outs[:n])
		for j := range k {
			x, ok := outs[n+j].(*tensor.Tensor)
			if !ok || x == nil {
				return nil, nil, ec.Errorf("scan output %d is %s, want a tensor", j, cfKindName(outs[n+j]))
			}
			scans[j] = append(scans[j], x)
		}
	}
	return states, scans, nil
}

// cfAttrInts reads an ints attribute of length want, defaulting to zeros.
func cfAttrInts(ec *EvalContext, name string, want int) ([]int, error) {
	v := ec.Node.Attrs.Ints(name)
	out := make([]int, want)
	if v == nil {
		return out, nil
	}
	if len(v) != want {
		return nil, ec.Errorf("attribute %s has %d entries, want %d", name, len(v), want)
	}
	for i, x := range v {
		out[i] = int(x)
	}
	return out, nil
}

func cfCheckDirs(ec *EvalContext, name string, dirs []int) error {
	for i, d := range dirs {
		if d != 0 && d != 1 {
			return ec.Errorf("%s[%d] is %d, want 0 (forward) or 1 (reverse)", name, i, d)
		}
	}
	return nil
}

func cfEvalScan(ec *EvalContext, in []Value) ([]Value, error) {
	body := ec.Node.Attrs.Graph("body")
	if body == nil {
		return nil, ec.Errorf("missing graph attribute body")
	}
	m := int(ec.Node.Attrs.Int("num_scan_inputs", -1))
	if m < 1 || m > len(in) {
		return nil, ec.Errorf("num_scan_inputs is %d; want between 1 and the %d inputs", m, len(in))
	}
	n := len(in) - m
	k := len(body.Outputs) - n
	if k < 0 {
		return nil, ec.Errorf("body returns %d outputs, fewer than the %d states", len(body.Outputs), n)
	}
	axes, err := cfAttrInts(ec, "scan_input_axes", m)
	if err != nil {
		return nil, err
	}
	dirs, err := cfAttrInts(ec, "scan_input_directions", m)
	if err != nil {
		return nil, err
	}
	oaxes, err := cfAttrInts(ec, "scan_output_axes", k)
	if err != nil {
		return nil, err
	}
	odirs, err := cfAttrInts(ec, "scan_output_directions", k)
	if err != nil {
		return nil, err
	}
	if err := cfCheckDirs(ec, "scan_input_directions", dirs); err != nil {
		return nil, err
	}
	if err := cfCheckDirs(ec, "scan_output_directions", odirs); err != nil {
		return nil, err
	}
	scanIns := make([]*tensor.Tensor, m)
	L := -1
	for j := range m {
		x, err := cfAsTensor(ec, in[n+j], "scan input")
		if err != nil {
			return nil, err
		}
		a, err := tensor.NormAxis(axes[j], x.Rank())
		if err != nil || x.Rank() == 0 {
			return nil, ec.Errorf("scan_input_axes[%d] = %d is out of range for scan input %d of shape %v", j, axes[j], j, x.Shape())
		}
		axes[j] = a
		if L >= 0 && x.Shape()[a] != L {
			return nil, ec.Errorf("scan input %d has length %d on axis %d, scan input 0 has %d; all must match", j, x.Shape()[a], a, L)
		}
		L = x.Shape()[a]
		scanIns[j] = x
	}
	states, scans, err := cfScanLoop(ec, body, in[:n], scanIns, axes, dirs, L)
	if err != nil {
		return nil, err
	}
	res := append([]Value(nil), states...)
	for j := range k {
		el := scans[j]
		var rank int
		if len(el) > 0 {
			rank = el[0].Rank() + 1
		} else {
			bt := cfKnown(body.Outputs[n+j].Type)
			if bt.Unranked {
				rank = 1
			} else {
				rank = len(bt.Shape) + 1
			}
		}
		a, err := tensor.NormAxis(oaxes[j], rank)
		if err != nil {
			return nil, ec.Errorf("scan_output_axes[%d] = %d is out of range for a rank-%d scan output", j, oaxes[j], rank)
		}
		if len(el) == 0 {
			e := cfEmptyOf(cfKnown(body.Outputs[n+j].Type), 0)
			if a != 0 {
				e, err = cfMoveAxis0(e, a)
				if err != nil {
					return nil, ec.Errorf("scan output %d: %v", j, err)
				}
			}
			res = append(res, e)
			continue
		}
		if odirs[j] == 1 {
			r := make([]*tensor.Tensor, len(el))
			for i, x := range el {
				r[len(el)-1-i] = x
			}
			el = r
		}
		st, err := cfStack(el, a)
		if err != nil {
			return nil, ec.Errorf("scan output %d: %v", j, err)
		}
		res = append(res, st)
	}
	if len(ec.Node.Outputs) > len(res) {
		return nil, ec.Errorf("node has %d outputs, the body yields %d", len(ec.Node.Outputs), len(res))
	}
	return res[:len(ec.Node.Outputs)], nil
}

// cfMoveAxis0 moves an empty tensor's leading axis to position a (only the
// shape changes since it holds no elements).
func cfMoveAxis0(t *tensor.Tensor, a int) (*tensor.Tensor, error) {
	s := t.Shape()[1:].Clone()
	out := append(append(append(tensor.Shape{}, s[:a]...), t.Shape()[0]), s[a:]...)
	return t.Reshape(out)
}

func cfInferScan(ic *InferContext) ([]graph.Type, error) {
	body := ic.Node.Attrs.Graph("body")
	if body == nil {
		return nil, ic.Errorf("missing graph attribute body")
	}
	m := int(ic.Node.Attrs.Int("num_scan_inputs", -1))
	if m < 1 || m > len(ic.In) {
		return nil, ic.Errorf("num_scan_inputs is %d; want between 1 and the %d inputs", m, len(ic.In))
	}
	n := len(ic.In) - m
	bt := cfGraphOutTypes(body)
	k := len(bt) - n
	if k < 0 || len(ic.Node.Outputs) > n+k {
		return nil, ic.Errorf("body returns %d outputs; with %d states the node can have at most %d outputs", len(bt), n, len(bt))
	}
	oaxes := ic.Node.Attrs.Ints("scan_output_axes")
	out := make([]graph.Type, 0, n+k)
	for i := range n {
		out = append(out, cfCarriedType(ic.In[i], bt[i]))
	}
	// The scan length, when the first scan input's type knows it.
	L := -1
	if x := cfKnown(ic.In[n]); !x.Unranked {
		a := 0
		if ax := ic.Node.Attrs.Ints("scan_input_axes"); len(ax) > 0 {
			a = int(ax[0])
		}
		if na, err := tensor.NormAxis(a, len(x.Shape)); err == nil && len(x.Shape) > 0 {
			L = x.Shape[na]
		}
	}
	for j := range k {
		t := bt[n+j]
		if t.Kind != graph.KindTensor || t.Unranked {
			out = append(out, graph.UnrankedType(t.DType))
			continue
		}
		a := 0
		if j < len(oaxes) {
			a = int(oaxes[j])
		}
		na, err := tensor.NormAxis(a, len(t.Shape)+1)
		if err != nil {
			return nil, ic.Errorf("scan_output_axes[%d] = %d is out of range for a rank-%d scan output", j, a, len(t.Shape)+1)
		}
		s := append(append(append([]int{}, t.Shape[:na]...), L), t.Shape[na:]...)
		out = append(out, graph.TensorType(t.DType, s...))
	}
	return out[:len(ic.Node.Outputs)], nil
}

func cfEvalScan8(ec *EvalContext, in []Value) ([]Value, error) {
	body := ec.Node.Attrs.Graph("body")
	if body == nil {
		return nil, ec.Errorf("missing graph attribute body")
	}
	if len(in) < 1 {
		return nil, ec.Errorf("needs inputs")
	}
	m := int(ec.Node.Attrs.Int("num_scan_inputs", -1))
	if m < 1 || m > len(in)-1 {
		return nil, ec.Errorf("num_scan_inputs is %d; want between 1 and the %d inputs after sequence_lens", m, len(in)-1)
	}
	n := len(in) - 1 - m
	k := len(body.Outputs) - n
	if k < 0 {
		return nil, ec.Errorf("body returns %d outputs, fewer than the %d states", len(body.Outputs), n)
	}
	dirs, err := cfAttrInts(ec, "directions", m)
	if err != nil {
		return nil, err
	}
	if err := cfCheckDirs(ec, "directions", dirs); err != nil {
		return nil, err
	}
	states := make([]*tensor.Tensor, n)
	scanIns := make([]*tensor.Tensor, m)
	B, T := -1, -1
	for i := range n {
		x, err := cfAsTensor(ec, in[1+i], "state")
		if err != nil {
			return nil, err
		}
		if x.Rank() < 1 || (B >= 0 && x.Shape()[0] != B) {
			return nil, ec.Errorf("state %d has shape %v; states and scan inputs need one leading batch dimension", i, x.Shape())
		}
		B = x.Shape()[0]
		states[i] = x
	}
	for j := range m {
		x, err := cfAsTensor(ec, in[1+n+j], "scan input")
		if err != nil {
			return nil, err
		}
		if x.Rank() < 2 || (B >= 0 && x.Shape()[0] != B) || (T >= 0 && x.Shape()[1] != T) {
			return nil, ec.Errorf("scan input %d has shape %v; scan inputs need shape [batch, sequence, ...] with one batch size and sequence length", j, x.Shape())
		}
		B, T = x.Shape()[0], x.Shape()[1]
		scanIns[j] = x
	}
	lens := make([]int, B)
	for b := range lens {
		lens[b] = T
	}
	if in[0] != nil {
		lt, err := cfAsTensor(ec, in[0], "sequence_lens")
		if err != nil {
			return nil, err
		}
		if lt.Len() != B || !lt.DType().IsInt() {
			return nil, ec.Errorf("sequence_lens is %v%v, want %d integers", lt.DType(), lt.Shape(), B)
		}
		for b, v := range lt.Int64s() {
			if v < 0 || v > int64(T) {
				return nil, ec.Errorf("sequence_lens[%d] = %d is outside [0, %d]", b, v, T)
			}
			lens[b] = int(v)
		}
	}
	axes := make([]int, m)
	finals := make([][]*tensor.Tensor, n)
	outs := make([][]*tensor.Tensor, k)
	for b := range B {
		st := make([]Value, n)
		for i, s := range states {
			st[i] = cfSlice(s, 0, b, 1, false)
		}
		si := make([]*tensor.Tensor, m)
		for j, x := range scanIns {
			si[j] = cfSlice(cfSlice(x, 0, b, 1, false), 0, 0, lens[b], true)
		}
		fs, scans, err := cfScanLoop(ec, body, st, si, axes, dirs, lens[b])
		if err != nil {
			return nil, err
		}
		for i, v := range fs {
			t, err := cfAsTensor(ec, v, "body's state output")
			if err != nil {
				return nil, err
			}
			finals[i] = append(finals[i], t)
		}
		for j := range k {
			var full *tensor.Tensor
			bt := cfKnown(body.Outputs[n+j].Type)
			switch {
			case len(scans[j]) > 0:
				el := scans[j][0]
				full = tensor.New(el.DType(), append(tensor.Shape{T}, el.Shape()...)...)
				for t, x := range scans[j] {
					if !x.Shape().Equal(el.Shape()) {
						return nil, ec.Errorf("scan output %d changes shape from %v to %v", j, el.Shape(), x.Shape())
					}
					cfCopy(full.Data(), t*x.Len(), x.Data(), 0, x.Len())
				}
			case !bt.Static():
				return nil, Unsupported(ec.Node, "scan output %d for an empty sequence when the body's output shape is not declared", j)
			default:
				full = tensor.New(bt.DType, append([]int{T}, bt.Shape...)...)
			}
			outs[j] = append(outs[j], full)
		}
	}
	res := make([]Value, 0, n+k)
	for i := range n {
		if B == 0 {
			res = append(res, states[i])
			continue
		}
		t, err := cfStack(finals[i], 0)
		if err != nil {
			return nil, ec.Errorf("state %d: %v", i, err)
		}
		res = append(res, t)
	}
	for j := range k {
		if B == 0 {
			res = append(res, cfEmptyOf(cfKnown(body.Outputs[n+j].Type), 0))
			continue
		}
		t, err := cfStack(outs[j], 0)
		if err != nil {
			return nil, ec.Errorf("scan output %d: %v", j, err)
		}
		res = append(res, t)
	}
	if len(ec.Node.Outputs) > len(res) {
		return nil, ec.Errorf("node has %d outputs, the body yields %d", len(ec.Node.Outputs), len(res))
	}
	return res[:len(ec.Node.Outputs)], nil
}

func cfInferScan8(ic *InferContext) ([]graph.Type, error) {
	body := ic.Node.Attrs.Graph("body")
	if body == nil {
		return nil, ic.Errorf("missing graph attribute body")
	}
	m := int(ic.Node.Attrs.Int("num_scan_inputs", -1))
	if m < 1 || m > len(ic.In)-1 {
		return nil, ic.Errorf("num_scan_inputs is %d; want between 1 and the %d inputs after sequence_lens", m, len(ic.In)-1)
	}
	n := len(ic.In) - 1 - m
	bt := cfGraphOutTypes(body)
	k := len(bt) - n
	if k < 0 || len(ic.Node.Outputs) > n+k {
		return nil, ic.Errorf("body returns %d outputs; with %d states the node can have at most %d outputs", len(bt), n, len(bt))
	}
	B, T := -1, -1
	if x := cfKnown(ic.In[1+n]); !x.Unranked && len(x.Shape) >= 2 {
		B, T = x.Shape[0], x.Shape[1]
	}
	out := make([]graph.Type, 0, n+k)
	for i := range n {
		out = append(out, cfPrependDim(bt[i], B))
	}
	for j := range k {
		out = append(out, cfPrependDim(cfPrependDim(bt[n+j], T), B))
	}
	return out[:len(ic.Node.Outputs)], nil
}
