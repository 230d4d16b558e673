package pass

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func init() {
	Register(Pass{
		Name:  "attention-fusion",
		Level: LevelFusion,
		Doc: "Replaces scaled dot-product attention written out as MatMul(Q, Kᵀ) [/ c or · c] [+ mask] → " +
			"Softmax(last axis) → MatMul(·, V) on 4-D [B, H, S, D] tensors with known, equal batch and head " +
			"sizes, or on 3-D [B·H, S, D] tensors with a known, equal leading size (the form PyTorch's " +
			"MultiheadAttention exports; it becomes the 3-D Attention form with one head), by ONNX Attention " +
			"(scale c⁻¹ or c, or 1, times a scalar Q was divided or multiplied by; additive float mask). Kᵀ " +
			"written as a Transpose is undone; any other Kᵀ gets a Transpose. A query whose keys are all " +
			"masked with -inf gets zeros from Attention where the unfused graph gave NaN.",
		Run: func(g *graph.Graph) (bool, error) { return scopes(g, fuseAttention) },
	})
}

func fuseAttention(g *graph.Graph) (bool, error) {
	changed := false
	var nm *namer
	for {
		ix := newIndex(g)
		var types map[string]graph.Type
		done := false
		for _, sm := range g.Nodes {
			if sm.Op != "Softmax" || sm.Domain != "" || len(sm.Outputs) != 1 {
				continue
			}
			if types == nil {
				types = InferTypes(g)
			}
			if nm == nil {
				nm = newNamer(g)
			}
			if fuseOneAttention(g, ix, nm, types, sm) {
				changed, done = true, true
				break
			}
		}
		if !done {
			return changed, nil
		}
	}
}

func fuseOneAttention(g *graph.Graph, ix *index, nm *namer, types map[string]graph.Type, sm *graph.Node) bool {
	s := sm.Inputs[0]
	st, ok := types[s]
	if !ok || st.Unranked || (len(st.Shape) != 4 && len(st.Shape) != 3) || !isFloat(st.DType) {
		return false
	}
	r := len(st.Shape)
	if ax := sm.Attrs.Int("axis", -1); ax != -1 && ax != int64(r-1) {
		return false
	}
	pv := ix.single(sm.Outputs[0])
	if pv == nil || pv.Op != "MatMul" || pv.Domain != "" || pv.Inputs[0] != sm.Outputs[0] {
		return false
	}
	v := pv.Inputs[1]
	inner := []*graph.Node{sm}
	// Optional additive mask.
	var mask string
	if add := ix.prod[s]; add != nil && add.Op == "Add" && add.Domain == "" && ix.single(s) == sm {
		for i := 0; i < 2; i++ {
			if p := ix.prod[add.Inputs[i]]; p != nil && (p.Op == "MatMul" || p.Op == "Div" || p.Op == "Mul") && p.Domain == "" && ix.single(add.Inputs[i]) == add {
				s, mask = add.Inputs[i], add.Inputs[1-i]
				inner = append(inner, add)
				break
			}
		}
		if mask == "" {
			return false
		}
	}
	// Optional scale.
	scale := 1.0
	if sc := ix.prod[s]; sc != nil && (sc.Op == "Div" || sc.Op == "Mul") && sc.Domain == "" && len(sc.Inputs) == 2 {
		if ix.single(s) != sm && (len(inner) < 2 || ix.single(s) != inner[1]) {
			return false
		}
		c, x, ok := scalarFactor(ix, sc)
		if !ok {
			return false
		}
		scale, s = c, x
		inner = append(inner, sc)
	}
	qk := ix.producer(s, "MatMul")
	if qk == nil || ix.uses(s) != 1 {
		return false
	}
	inner = append(inner, qk)
	q, kt := qk.Inputs[0], qk.Inputs[1]
	// A scalar Q was divided or multiplied by joins the scale.
	if qn := ix.producer(q, "Div", "Mul"); qn != nil && len(qn.Inputs) == 2 && ix.single(q) == qk {
		if c, x, ok := scalarFactor(ix, qn); ok {
			if xt, okx := types[x]; okx && !xt.Unranked && equalDims(xt.Shape, types[q].Shape) && xt.DType == st.DType {
				scale *= c
				q = x
				inner = append(inner, qn)
			}
		}
	}
	qs, ok1 := types[q]
	ks, ok2 := types[kt]
	vs, ok3 := types[v]
	if !ok1 || !ok2 || !ok3 || qs.Unranked || ks.Unranked || vs.Unranked || len(qs.Shape) != r || len(ks.Shape) != r || len(vs.Shape) != r {
		return false
	}
	if qs.DType != st.DType || ks.DType != st.DType || vs.DType != st.DType {
		return false
	}
	for i := 0; i < r-2; i++ {
		if qs.Shape[i] < 0 || qs.Shape[i] != ks.Shape[i] || qs.Shape[i] != vs.Shape[i] {
			return false
		}
	}
	if qs.Shape[r-1] < 0 || qs.Shape[r-1] != ks.Shape[r-2] || ks.Shape[r-1] < 0 || ks.Shape[r-1] != vs.Shape[r-2] {
		return false
	}
	// A 3-D mask over [B·H, Sq, T] needs a head axis in the 3-D Attention
	// form, whose mask broadcasts to [B·H, 1, Sq, T].
	unsqueezeMask := false
	if mask != "" {
		mt, ok := types[mask]
		if !ok || mt.Unranked || len(mt.Shape) < 1 || len(mt.Shape) > r || mt.DType != st.DType {
			return false
		}
		want := append(append([]int(nil), qs.Shape[:r-1]...), ks.Shape[r-1])
		for i := range mt.Shape {
			d, w := mt.Shape[len(mt.Shape)-1-i], want[r-1-i]
			if d != 1 && (d < 0 || d != w) {
				return false
			}
		}
		unsqueezeMask = r == 3 && len(mt.Shape) == 3 && mt.Shape[0] != 1
	}
	// K from Kᵀ.
	var k string
	if tr := ix.producer(kt, "Transpose"); tr != nil && tr.Attrs.Ints("perm") != nil && len(tr.Attrs.Ints("perm")) == r {
		perm := append([]int64(nil), tr.Attrs.Ints("perm")...)
		perm[r-2], perm[r-1] = perm[r-1], perm[r-2]
		identity := true
		for i, p := range perm {
			identity = identity && p == int64(i)
		}
		if identity {
			k = tr.Inputs[0]
		} else {
			k = nm.fresh(kt + "_untransposed")
			insertBefore(g, pv, &graph.Node{Name: k, Op: "Transpose", Inputs: []string{tr.Inputs[0]}, Outputs: []string{k},
				Attrs: graph.Attrs{"perm": perm}, Meta: fusedMeta(tr, "attention-fusion")})
		}
		inner = append(inner, tr)
	} else {
		perm := []int64{0, 1, 3, 2}
		if r == 3 {
			perm = []int64{0, 2, 1}
		}
		k = nm.fresh(kt + "_transposed")
		insertBefore(g, pv, &graph.Node{Name: k, Op: "Transpose", Inputs: []string{kt}, Outputs: []string{k},
			Attrs: graph.Attrs{"perm": perm}, Meta: graph.Meta{Source: "attention-fusion"}})
	}
	if unsqueezeMask {
		m := nm.fresh(mask + "_heads")
		axes := addParam(g, nm, m+"_axes", tensor.FromInt64s(tensor.Shape{1}, []int64{1}))
		insertBefore(g, pv, &graph.Node{Name: m, Op: "Unsqueeze", Inputs: []string{mask, axes}, Outputs: []string{m},
			Attrs: graph.Attrs{}, Meta: graph.Meta{Source: "attention-fusion"}})
		mask = m
	}
	in := []string{q, k, v}
	if mask != "" {
		in = append(in, mask)
	}
	attrs := graph.Attrs{"scale": float32(scale)}
	if r == 3 {
		attrs["q_num_heads"], attrs["kv_num_heads"] = int64(1), int64(1)
	}
	att := &graph.Node{Name: pv.Name, Op: "Attention", Inputs: in, Outputs: []string{pv.Outputs[0]},
		Attrs: attrs, Meta: fusedMeta(pv, "attention-fusion")}
	replaceNode(g, pv, att)
	removeDead(g, inner)
	return true
}

// scalarFactor reads n = Div(x, c) or Mul(x, c) / Mul(c, x) with c a
// nonzero scalar constant as x times a factor (1/c for Div).
func scalarFactor(ix *index, n *graph.Node) (factor float64, x string, ok bool) {
	var c float64
	switch n.Op {
	case "Div":
		c, ok = ix.scalar(n.Inputs[1])
		if ok && c != 0 {
			c = 1 / c
		}
		x = n.Inputs[0]
	case "Mul":
		for i := 0; i < 2 && !ok; i++ {
			if c, ok = ix.scalar(n.Inputs[i]); ok {
				x = n.Inputs[1-i]
			}
		}
	}
	if !ok || c == 0 || ix.konst(x) != nil {
		return 0, "", false
	}
	return c, x, true
}

func equalDims(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] < 0 || a[i] != b[i] {
			return false
		}
	}
	return true
}
