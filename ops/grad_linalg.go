package ops

import (
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
)

// Gradient rules of MatMul, Gemm, Einsum, Softmax and LogSoftmax.

func init() {
	// MatMul(A, B) with numpy batching: dA = G·Bᵀ, dB = Aᵀ·G, each summed
	// over the batch axes it was broadcast along. 1-D operands are promoted
	// as MatMul promotes them (A to [1, K], B to [K, 1]).
	RegisterGrad("", "MatMul", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		a, b := n.Inputs[0], n.Inputs[1]
		ra, err := gNeedRank(e, n, a)
		if err != nil {
			return nil, err
		}
		rb, err := gNeedRank(e, n, b)
		if err != nil {
			return nil, err
		}
		a2, b2, g := a, b, dy[0]
		switch {
		case ra == 1 && rb == 1:
			g = e.Op("Reshape", nil, g, gInts(e, 1, 1))
		case ra == 1:
			g = e.Op("Unsqueeze", nil, g, gInts(e, -2))
		case rb == 1:
			g = e.Op("Unsqueeze", nil, g, gInts(e, -1))
		}
		if ra == 1 {
			a2, ra = e.Op("Unsqueeze", nil, a, gInts(e, 0)), 2
		}
		if rb == 1 {
			b2, rb = e.Op("Unsqueeze", nil, b, gInts(e, -1)), 2
		}
		var da, db string
		if gNeeds(e, a) {
			da = gSumTo(e, e.Op("MatMul", nil, g, e.Op("Transpose", graph.Attrs{"perm": gSwapLast(rb)}, b2)), a2)
			if a2 != a {
				da = e.Op("Reshape", nil, da, gShape(e, a))
			}
		}
		if gNeeds(e, b) {
			db = gSumTo(e, e.Op("MatMul", nil, e.Op("Transpose", graph.Attrs{"perm": gSwapLast(ra)}, a2), g), b2)
			if b2 != b {
				db = e.Op("Reshape", nil, db, gShape(e, b))
			}
		}
		return []string{da, db}, nil
	})
	// Gemm: Y = alpha·A'·B' + beta·C with A' = transA ? Aᵀ : A (B' alike).
	RegisterGrad("", "Gemm", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		a, b, g := n.Inputs[0], n.Inputs[1], dy[0]
		alpha := n.Attrs.Float("alpha", 1)
		beta := n.Attrs.Float("beta", 1)
		ta, tb := n.Attrs.Int("transA", 0), n.Attrs.Int("transB", 0)
		dx := make([]string, len(n.Inputs))
		if gNeeds(e, a) {
			if ta == 0 {
				dx[0] = e.Op("Gemm", graph.Attrs{"alpha": alpha, "transB": 1 - tb}, g, b)
			} else {
				dx[0] = e.Op("Gemm", graph.Attrs{"alpha": alpha, "transA": tb, "transB": int64(1)}, b, g)
			}
		}
		if gNeeds(e, b) {
			if tb == 0 {
				dx[1] = e.Op("Gemm", graph.Attrs{"alpha": alpha, "transA": 1 - ta}, a, g)
			} else {
				dx[1] = e.Op("Gemm", graph.Attrs{"alpha": alpha, "transA": int64(1), "transB": ta}, g, a)
			}
		}
		if c := n.Input(2); c != "" && gNeeds(e, c) {
			gc := g
			if beta != 1 {
				gc = gMul(e, g, gScalar(e, float64(beta), g))
			}
			dx[2] = gSumTo(e, gc, c)
		}
		return dx, nil
	})
	RegisterGrad("", "Einsum", gradEinsum)
	// softmax: y·(g - Σ g·y); log_softmax: g - exp(y)·Σ g, sums over the
	// softmax axes (the axis, or every axis from it on in the coerced 2-D
	// form of opsets before 13).
	RegisterGrad("", "Softmax", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		axes, err := gradSoftmaxAxes(e, n)
		if err != nil {
			return nil, err
		}
		y, g := n.Outputs[0], dy[0]
		s := e.Op("ReduceSum", graph.Attrs{"keepdims": int64(1)}, gMul(e, g, y), axes)
		return []string{gMul(e, y, gSub(e, g, s))}, nil
	})
	RegisterGrad("", "LogSoftmax", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		axes, err := gradSoftmaxAxes(e, n)
		if err != nil {
			return nil, err
		}
		y, g := n.Outputs[0], dy[0]
		s := e.Op("ReduceSum", graph.Attrs{"keepdims": int64(1)}, g, axes)
		return []string{gSub(e, g, gMul(e, e.Op("Exp", nil, y), s))}, nil
	})
}

// gNeeds reports whether an input needs a gradient, when the emitter can
// tell (it always can in train/autodiff); rules skip work for the others.
func gNeeds(e GradEmitter, name string) bool {
	if x, ok := e.(interface{ Needs(string) bool }); ok {
		return x.Needs(name)
	}
	return true
}

func gradSoftmaxAxes(e GradEmitter, n *graph.Node) (string, error) {
	axis := n.Attrs.Int("axis", -1)
	if n.Attrs.Int("kiln_coerce_2d", 0) == 0 {
		return gInts(e, axis), nil
	}
	r, err := gNeedRank(e, n, n.Inputs[0])
	if err != nil {
		return "", err
	}
	if axis < 0 {
		axis += int64(r)
	}
	var axes []int64
	for a := axis; a < int64(r); a++ {
		axes = append(axes, a)
	}
	return gInts(e, axes...), nil
}

// gradEinsum differentiates an Einsum: the gradient of operand i is the
// Einsum of the output gradient with the other operands, written to
// operand i's subscripts. Operands with a repeated subscript (diagonals) or
// with a subscript found in no other term are not supported.
func gradEinsum(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
	eq := strings.ReplaceAll(n.Attrs.String("equation", ""), " ", "")
	lhs, out, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if len(terms) != len(n.Inputs) {
		return nil, gErr(n, "equation %q has %d terms for %d inputs", eq, len(terms), len(n.Inputs))
	}
	if !explicit {
		count := map[rune]int{}
		for _, t := range terms {
			for _, c := range strings.ReplaceAll(t, "...", "") {
				count[c]++
			}
		}
		var letters []string
		for c, k := range count {
			if k == 1 {
				letters = append(letters, string(c))
			}
		}
		sort.Strings(letters)
		out = strings.Join(letters, "")
		if strings.Contains(lhs, "...") {
			out = "..." + out
		}
	}
	dx := make([]string, len(n.Inputs))
	for i, t := range terms {
		if !gNeeds(e, n.Inputs[i]) {
			continue
		}
		seen := map[rune]bool{}
		for _, c := range strings.ReplaceAll(t, "...", "") {
			if seen[c] {
				return nil, Unsupported(n, "gradient of Einsum %q: term %q repeats a subscript", eq, t)
			}
			seen[c] = true
		}
		others := []string{out}
		ins := []string{dy[0]}
		for j, u := range terms {
			if j != i {
				others = append(others, u)
				ins = append(ins, n.Inputs[j])
			}
		}
		all := strings.Join(others, "")
		for c := range seen {
			if !strings.ContainsRune(all, c) {
				return nil, Unsupported(n, "gradient of Einsum %q: subscript %q of term %q is summed away within the term", eq, string(c), t)
			}
		}
		r := e.Op("Einsum", graph.Attrs{"equation": strings.Join(others, ",") + "->" + t}, ins...)
		if strings.Contains(t, "...") {
			r = gSumTo(e, r, n.Inputs[i])
		}
		dx[i] = r
	}
	return dx, nil
}
