package autodiff

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
)

// Scan's gradient is a backward Scan, not an unrolled loop: the graph stays
// the same size for any sequence length, and the length need not be known
// when Grad runs (Keras RNNs are often built with a None time axis).
//
// With N states S, M scan inputs X, K scan outputs Y and P outer values C
// that the body captures (an RNN cell's kernels), the rule emits:
//
//  1. a recompute Scan: the forward body, also emitting each step's input
//     states as extra scan outputs, stacked on a new axis 0: H_i[t] is
//     state i entering step t;
//  2. a backward Scan iterating the steps in reverse. Its states are the
//     state gradients dS (starting from the gradients of the final states)
//     and the capture gradients dC (starting at zero); it scans H (reversed),
//     X (in the reverse of its forward direction) and the scan-output
//     gradients dY. Its body recomputes the forward step from H[t] and X[t],
//     differentiates it with the same machinery as Grad (seeded with dS and
//     dY[t]), and outputs the new dS, dC + the step's capture gradients, and
//     dX[t] as a scan output stacked back in X's order.
//
// The final dS are the gradients of the initial states, the final dC those
// of the captured values. The forward step runs three times in all (forward,
// recompute, backward); memory holds the N stacked states, as an unrolled
// graph would.
func init() {
	ops.RegisterGrad("", "Scan", scanGrad)
}

func scanGrad(ge ops.GradEmitter, n *graph.Node, dy []string) ([]string, error) {
	e, ok := ge.(*emitter)
	if !ok {
		return nil, fmt.Errorf("the Scan gradient needs train/autodiff's emitter")
	}
	body := n.Attrs.Graph("body")
	if body == nil {
		return nil, fmt.Errorf("missing body")
	}
	M := int(n.Attrs.Int("num_scan_inputs", 0))
	N := len(n.Inputs) - M
	K := len(body.Outputs) - N
	if M < 1 || N < 0 || K < 0 || len(body.Inputs) != N+M {
		return nil, fmt.Errorf("inconsistent Scan: %d inputs, %d scan inputs, body with %d inputs and %d outputs", len(n.Inputs), M, len(body.Inputs), len(body.Outputs))
	}
	for _, bn := range body.Nodes {
		if len(bn.Subgraphs()) > 0 {
			return nil, fmt.Errorf("the body's node %s holds a subgraph: %w", bn.Describe(), ops.ErrUnsupported)
		}
	}
	ints := func(name string, k int, def int64) []int64 {
		v := n.Attrs.Ints(name)
		out := make([]int64, k)
		for i := range out {
			out[i] = def
			if i < len(v) {
				out[i] = v[i]
			}
		}
		return out
	}
	inAxes, inDirs := ints("scan_input_axes", M, 0), ints("scan_input_directions", M, 0)
	outAxes, outDirs := ints("scan_output_axes", K, 0), ints("scan_output_directions", K, 0)
	caps := captures(n)

	// 1. Recompute the per-step input states.
	rec := cloneBody(e, body)
	for i := 0; i < N; i++ {
		o := e.fresh("h")
		rec.Nodes = append(rec.Nodes, &graph.Node{Name: e.fresh("h_node"), Op: "Identity", Inputs: []string{rec.Inputs[i].Name}, Outputs: []string{o}})
		rec.Outputs = append(rec.Outputs, &graph.Value{Name: o, Type: rec.Inputs[i].Type})
	}
	recAttrs := graph.Attrs{
		"body": rec, "num_scan_inputs": int64(M),
		"scan_input_axes": inAxes, "scan_input_directions": inDirs,
		"scan_output_axes":       append(append([]int64(nil), outAxes...), make([]int64, N)...),
		"scan_output_directions": append(append([]int64(nil), outDirs...), make([]int64, N)...),
	}
	recOuts := e.OpN("", "Scan", recAttrs, N+K+N, n.Inputs...)
	H := recOuts[N+K:]

	// 2. The backward body.
	fb := cloneBody(e, body)
	bb := &graph.Graph{Name: e.fresh("scan_backward"), Params: fb.Params, Nodes: fb.Nodes}
	dS := make([]string, N)
	for i := 0; i < N; i++ {
		dS[i] = e.fresh("dstate")
		bb.Inputs = append(bb.Inputs, &graph.Value{Name: dS[i], Type: fb.Inputs[i].Type})
	}
	var gcaps []string // captures that get a gradient
	for _, c := range caps {
		if e.Needs(c) && e.isFloatOrUnknown(c) {
			gcaps = append(gcaps, c)
		}
	}
	dC := make([]string, len(gcaps))
	for p, c := range gcaps {
		dC[p] = e.fresh("dcapture")
		t, ok := e.types[c]
		if !ok {
			t = graph.UnrankedType(e.dtype(c))
		}
		bb.Inputs = append(bb.Inputs, &graph.Value{Name: dC[p], Type: t})
	}
	for i := 0; i < N; i++ {
		bb.Inputs = append(bb.Inputs, fb.Inputs[i])
	}
	for j := 0; j < M; j++ {
		v := fb.Inputs[N+j]
		if t, ok := e.types[n.Inputs[N+j]]; ok && !t.Unranked && len(t.Shape) > 0 {
			ax := int(inAxes[j])
			if ax < 0 {
				ax += len(t.Shape)
			}
			if ax >= 0 && ax < len(t.Shape) {
				s := append(append([]int(nil), t.Shape[:ax]...), t.Shape[ax+1:]...)
				v = &graph.Value{Name: v.Name, Type: graph.TensorType(t.DType, s...)}
			}
		}
		bb.Inputs = append(bb.Inputs, v)
	}
	seeds := map[string][]string{}
	for i := 0; i < N; i++ {
		seeds[fb.Outputs[i].Name] = append(seeds[fb.Outputs[i].Name], dS[i])
	}
	var dyIn []string
	var dyAxes, dyDirs []int64
	for k := 0; k < K; k++ {
		if N+k >= len(dy) || dy[N+k] == "" {
			continue
		}
		name := e.fresh("dy_t")
		bb.Inputs = append(bb.Inputs, &graph.Value{Name: name, Type: fb.Outputs[N+k].Type})
		seeds[fb.Outputs[N+k].Name] = append(seeds[fb.Outputs[N+k].Name], name)
		dyIn = append(dyIn, dy[N+k])
		dyAxes = append(dyAxes, outAxes[k])
		dyDirs = append(dyDirs, 1-outDirs[k])
	}
	var wrt []string
	for i := 0; i < N; i++ {
		wrt = append(wrt, fb.Inputs[i].Name)
	}
	var gx []int // forward scan inputs that get a gradient
	for j := 0; j < M; j++ {
		if e.Needs(n.Inputs[N+j]) && e.isFloatOrUnknown(n.Inputs[N+j]) {
			gx = append(gx, j)
			wrt = append(wrt, fb.Inputs[N+j].Name)
		}
	}
	wrt = append(wrt, gcaps...)
	be := newEmitter(bb, e, typeMap(bb.Inputs))
	grads, err := backprop(be, fb.Nodes, seeds, wrt)
	if err != nil {
		return nil, fmt.Errorf("in the Scan body: %w", err)
	}
	out := func(v, hint string, t graph.Type) {
		o := be.Op("Identity", nil, v)
		bb.Outputs = append(bb.Outputs, &graph.Value{Name: o, Type: t})
		_ = hint
	}
	for i := 0; i < N; i++ {
		out(grads[i], "dstate", fb.Inputs[i].Type)
	}
	for p := range gcaps {
		o := be.Op("Add", nil, dC[p], grads[N+len(gx)+p])
		bb.Outputs = append(bb.Outputs, &graph.Value{Name: o, Type: bb.Inputs[N+p].Type})
	}
	for q, j := range gx {
		out(grads[N+q], "dx", fb.Inputs[N+j].Type)
	}

	// 3. The backward Scan.
	var ins []string
	for i := 0; i < N; i++ {
		if i < len(dy) && dy[i] != "" {
			ins = append(ins, dy[i])
		} else {
			ins = append(ins, e.zerosLike(n.Inputs[i]))
		}
	}
	for _, c := range gcaps {
		ins = append(ins, e.zerosLike(c))
	}
	var bAxes, bDirs []int64
	for i := 0; i < N; i++ {
		ins = append(ins, H[i])
		bAxes, bDirs = append(bAxes, 0), append(bDirs, 1)
	}
	for j := 0; j < M; j++ {
		ins = append(ins, n.Inputs[N+j])
		bAxes, bDirs = append(bAxes, inAxes[j]), append(bDirs, 1-inDirs[j])
	}
	ins = append(ins, dyIn...)
	bAxes, bDirs = append(bAxes, dyAxes...), append(bDirs, dyDirs...)
	var oAxes, oDirs []int64
	for _, j := range gx {
		oAxes, oDirs = append(oAxes, inAxes[j]), append(oDirs, 1-inDirs[j])
	}
	battrs := graph.Attrs{
		"body": bb, "num_scan_inputs": int64(N + M + len(dyIn)),
		"scan_input_axes": bAxes, "scan_input_directions": bDirs,
	}
	if len(gx) > 0 {
		battrs["scan_output_axes"] = oAxes
		battrs["scan_output_directions"] = oDirs
	}
	bouts := e.OpN("", "Scan", battrs, N+len(gcaps)+len(gx), ins...)

	dx := make([]string, len(n.Inputs)+len(caps))
	copy(dx, bouts[:N])
	for q, j := range gx {
		dx[N+j] = bouts[N+len(gcaps)+q]
	}
	for p, c := range gcaps {
		for ci, c2 := range caps {
			if c2 == c {
				dx[len(n.Inputs)+ci] = bouts[N+p]
			}
		}
	}
	return dx, nil
}

func typeMap(vs []*graph.Value) map[string]graph.Type {
	m := make(map[string]graph.Type, len(vs))
	for _, v := range vs {
		m[v.Name] = v.Type
	}
	return m
}

// cloneBody copies a subgraph with every value and node it defines renamed
// to a fresh name, so the copy can sit beside the original; the names it
// captures from enclosing graphs are kept.
func cloneBody(e *emitter, g *graph.Graph) *graph.Graph {
	ren := map[string]string{}
	def := func(s string) string {
		if s == "" {
			return ""
		}
		v := e.fresh("b")
		ren[s] = v
		return v
	}
	use := func(s string) string {
		if v, ok := ren[s]; ok {
			return v
		}
		return s
	}
	c := &graph.Graph{Name: e.fresh("body")}
	for _, v := range g.Inputs {
		c.Inputs = append(c.Inputs, &graph.Value{Name: def(v.Name), Type: v.Type})
	}
	for _, p := range g.Params {
		c.Params = append(c.Params, &graph.Param{Name: def(p.Name), Tensor: p.Tensor})
	}
	for _, n := range g.Nodes {
		m := &graph.Node{Name: e.fresh("body_node"), Op: n.Op, Domain: n.Domain, Attrs: n.Attrs.Clone(), Meta: n.Meta}
		for _, in := range n.Inputs {
			m.Inputs = append(m.Inputs, use(in))
		}
		for _, o := range n.Outputs {
			m.Outputs = append(m.Outputs, def(o))
		}
		c.Nodes = append(c.Nodes, m)
	}
	for _, o := range g.Outputs {
		c.Outputs = append(c.Outputs, &graph.Value{Name: use(o.Name), Type: o.Type})
	}
	return c
}
