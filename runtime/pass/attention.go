package pass

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

func init() {
	Register(Pass{
		Name:  "attention-fusion",
		Level: LevelFusion,
		Doc: "Replaces scaled dot-product attention written out as MatMul(Q, Kᵀ) [/ c or · c] [+ mask] → " +
			"Softmax(last axis) → MatMul(·, V) on 4-D [B, H, S, D] tensors with known, equal batch and head " +
			"sizes by ONNX Attention (scale c⁻¹ or c, or 1; additive float mask). Kᵀ written as a Transpose is " +
			"undone; any other Kᵀ gets a Transpose. A query whose keys are all masked with -inf gets zeros " +
			"from Attention where the unfused graph gave NaN.",
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
	if !ok || st.Unranked || len(st.Shape) != 4 || !isFloat(st.DType) {
		return false
	}
	if ax := sm.Attrs.Int("axis", -1); ax != -1 && ax != 3 {
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
		var c float64
		var ok bool
		switch sc.Op {
		case "Div":
			c, ok = ix.scalar(sc.Inputs[1])
			if ok && c != 0 {
				c = 1 / c
			}
			s = sc.Inputs[0]
		case "Mul":
			for i := 0; i < 2 && !ok; i++ {
				if c, ok = ix.scalar(sc.Inputs[i]); ok {
					s = sc.Inputs[1-i]
				}
			}
		}
		if !ok || c == 0 {
			return false
		}
		scale = c
		inner = append(inner, sc)
	}
	qk := ix.producer(s, "MatMul")
	if qk == nil || ix.uses(s) != 1 {
		return false
	}
	inner = append(inner, qk)
	q, kt := qk.Inputs[0], qk.Inputs[1]
	qs, ok1 := types[q]
	ks, ok2 := types[kt]
	vs, ok3 := types[v]
	if !ok1 || !ok2 || !ok3 || qs.Unranked || ks.Unranked || vs.Unranked || len(qs.Shape) != 4 || len(ks.Shape) != 4 || len(vs.Shape) != 4 {
		return false
	}
	if qs.DType != st.DType || ks.DType != st.DType || vs.DType != st.DType {
		return false
	}
	for i := 0; i < 2; i++ {
		if qs.Shape[i] < 0 || qs.Shape[i] != ks.Shape[i] || qs.Shape[i] != vs.Shape[i] {
			return false
		}
	}
	if qs.Shape[3] < 0 || qs.Shape[3] != ks.Shape[2] || ks.Shape[3] < 0 || ks.Shape[3] != vs.Shape[2] {
		return false
	}
	if mask != "" {
		mt, ok := types[mask]
		if !ok || mt.Unranked || len(mt.Shape) < 1 || len(mt.Shape) > 4 || mt.DType != st.DType {
			return false
		}
		want := []int{qs.Shape[0], qs.Shape[1], qs.Shape[2], ks.Shape[3]}
		for i := range mt.Shape {
			d, w := mt.Shape[len(mt.Shape)-1-i], want[3-i]
			if d != 1 && (d < 0 || d != w) {
				return false
			}
		}
	}
	// K from Kᵀ.
	var k string
	if tr := ix.producer(kt, "Transpose"); tr != nil && tr.Attrs.Ints("perm") != nil && len(tr.Attrs.Ints("perm")) == 4 {
		perm := append([]int64(nil), tr.Attrs.Ints("perm")...)
		perm[2], perm[3] = perm[3], perm[2]
		if perm[0] == 0 && perm[1] == 1 && perm[2] == 2 && perm[3] == 3 {
			k = tr.Inputs[0]
		} else {
			k = nm.fresh(kt + "_untransposed")
			insertBefore(g, pv, &graph.Node{Name: k, Op: "Transpose", Inputs: []string{tr.Inputs[0]}, Outputs: []string{k},
				Attrs: graph.Attrs{"perm": perm}, Meta: fusedMeta(tr, "attention-fusion")})
		}
		inner = append(inner, tr)
	} else {
		k = nm.fresh(kt + "_transposed")
		insertBefore(g, pv, &graph.Node{Name: k, Op: "Transpose", Inputs: []string{kt}, Outputs: []string{k},
			Attrs: graph.Attrs{"perm": []int64{0, 1, 3, 2}}, Meta: graph.Meta{Source: "attention-fusion"}})
	}
	in := []string{q, k, v}
	if mask != "" {
		in = append(in, mask)
	}
	att := &graph.Node{Name: pv.Name, Op: "Attention", Inputs: in, Outputs: []string{pv.Outputs[0]},
		Attrs: graph.Attrs{"scale": float32(scale)}, Meta: fusedMeta(pv, "attention-fusion")}
	replaceNode(g, pv, att)
	removeDead(g, inner)
	return true
}
