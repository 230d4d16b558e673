package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// TreeEnsemble evaluates an ensemble of decision trees (ONNX ai.onnx.ml
// TreeEnsemble-5). X is [N, F] (float32, float64 or float16); Y is [N,
// n_targets] of the same type.
//
// Interior node i tests X[n, nodes_featureids[i]] against nodes_splits[i]
// with nodes_modes[i]: 0 ≤, 1 <, 2 ≥, 3 >, 4 =, 5 ≠, 6 set membership (the
// sets are membership_values split at NaNs, in the order member nodes appear
// in nodes_modes). A NaN feature takes the false branch unless
// nodes_missing_value_tracks_true[i] is 1. The true branch goes to
// nodes_truenodeids[i], which indexes the leaves when nodes_trueleafs[i] is
// 1 and the interior nodes otherwise (likewise for false). Each tree starts
// at tree_roots[t]; a root whose true and false branches are the same leaf is
// itself leaf tree_roots[t]. Leaf j adds leaf_weights[j] to target
// leaf_targetids[j], combined over the trees by aggregate_function: 0
// AVERAGE, 1 SUM (default), 2 MIN, 3 MAX (MIN/MAX start from the largest /
// smallest finite value of the type, as ONNX's reference does). Then
// post_transform: 0 NONE (default), 1 SOFTMAX, 2 LOGISTIC, 3 SOFTMAX_ZERO
// (softmax over the non-zero scores), 4 PROBIT (√2·erfinv(2y−1)).
// nodes_hitrates is ignored. Malformed trees (indices out of range, cycles)
// are errors.
var TreeEnsemble = &Def{Name: "TreeEnsemble", Domain: miMLDomain, Infer: rsTreeInfer, Kernel: rsTreeKernel}

func init() { Register(TreeEnsemble) }

func rsTreeInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 || !ic.Has(0) {
		return nil, ic.Errorf("needs input X")
	}
	x := ic.In[0]
	nt := int(ic.Node.Attrs.Int("n_targets", 0))
	if nt <= 0 {
		return nil, ic.Errorf("n_targets must be positive, got %d", nt)
	}
	out := graph.TensorType(x.DType, -1, nt)
	if xs := rsShapeOf(x); len(xs) > 0 {
		out.Shape[0] = xs[0]
	}
	return []graph.Type{out}, nil
}

// rsTree is the decoded ensemble.
type rsTree struct {
	splits       []float64
	feats, modes []int64
	tIDs, fIDs   []int64
	tLeaf, fLeaf []int64
	missTrue     []int64
	sets         []map[float64]bool // per node, for set membership
	leafTargets  []int64
	leafWeights  []float64
	roots        []int64
}

func rsTreeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	X := rsIn(in, 0)
	if X == nil {
		return nil, Errorf(n, "needs input X")
	}
	switch X.DType() {
	case tensor.Float32, tensor.Float64, tensor.Float16:
	default:
		return nil, Errorf(n, "X must be float32, float64 or float16, got %v", X.DType())
	}
	xs := X.Shape()
	if len(xs) != 2 {
		return nil, Errorf(n, "X must be [N, F], got %v", xs)
	}
	N, F := xs[0], xs[1]
	a := n.Attrs
	nt := int(a.Int("n_targets", 0))
	if nt <= 0 {
		return nil, Errorf(n, "n_targets must be positive, got %d", nt)
	}
	tensorAttr := func(name string) []float64 {
		if t := a.Tensor(name); t != nil {
			return t.Float64s()
		}
		return nil
	}
	tr := rsTree{
		splits: tensorAttr("nodes_splits"), feats: a.Ints("nodes_featureids"),
		tIDs: a.Ints("nodes_truenodeids"), fIDs: a.Ints("nodes_falsenodeids"),
		tLeaf: a.Ints("nodes_trueleafs"), fLeaf: a.Ints("nodes_falseleafs"),
		missTrue: a.Ints("nodes_missing_value_tracks_true"), leafTargets: a.Ints("leaf_targetids"),
		leafWeights: tensorAttr("leaf_weights"), roots: a.Ints("tree_roots"),
	}
	if mt := a.Tensor("nodes_modes"); mt != nil {
		tr.modes = mt.Int64s()
	}
	nn := len(tr.modes)
	for name, l := range map[string]int{"nodes_splits": len(tr.splits), "nodes_featureids": len(tr.feats),
		"nodes_truenodeids": len(tr.tIDs), "nodes_falsenodeids": len(tr.fIDs),
		"nodes_trueleafs": len(tr.tLeaf), "nodes_falseleafs": len(tr.fLeaf)} {
		if l != nn {
			return nil, Errorf(n, "%s has %d entries, nodes_modes has %d", name, l, nn)
		}
	}
	if tr.missTrue != nil && len(tr.missTrue) != nn {
		return nil, Errorf(n, "nodes_missing_value_tracks_true has %d entries, want %d", len(tr.missTrue), nn)
	}
	nl := len(tr.leafWeights)
	if len(tr.leafTargets) != nl {
		return nil, Errorf(n, "leaf_targetids has %d entries, leaf_weights %d", len(tr.leafTargets), nl)
	}
	for _, t := range tr.leafTargets {
		if t < 0 || int(t) >= nt {
			return nil, Errorf(n, "leaf target %d outside [0, %d)", t, nt)
		}
	}
	mv := tensorAttr("membership_values")
	tr.sets = make([]map[float64]bool, nn)
	for i := 0; i < nn; i++ {
		if tr.modes[i] < 0 || tr.modes[i] > 6 {
			return nil, Errorf(n, "node %d has mode %d, want 0..6", i, tr.modes[i])
		}
		if f := tr.feats[i]; f < 0 || int(f) >= F {
			return nil, Errorf(n, "node %d tests feature %d of %d", i, f, F)
		}
		if tr.modes[i] != 6 {
			continue
		}
		if len(mv) == 0 {
			return nil, Errorf(n, "node %d is a set-membership node but membership_values has no set left", i)
		}
		set := map[float64]bool{}
		for len(mv) > 0 && !math.IsNaN(mv[0]) {
			set[mv[0]] = true
			mv = mv[1:]
		}
		if len(mv) > 0 {
			mv = mv[1:]
		}
		tr.sets[i] = set
	}
	agg := a.Int("aggregate_function", 1)
	post := a.Int("post_transform", 0)
	if agg < 0 || agg > 3 {
		return nil, Errorf(n, "aggregate_function %d must be 0..3", agg)
	}
	if post < 0 || post > 4 {
		return nil, Errorf(n, "post_transform %d must be 0..4", post)
	}
	start := 0.0
	switch {
	case agg == 2:
		start = rsMaxFinite(X.DType())
	case agg == 3:
		start = -rsMaxFinite(X.DType())
	}
	xv := X.Float64s()
	out := make([]float64, N*nt)
	for r := 0; r < N; r++ {
		row := xv[r*F : (r+1)*F]
		y := out[r*nt : (r+1)*nt]
		for i := range y {
			y[i] = start
		}
		for _, root := range tr.roots {
			leaf, err := tr.walk(n, row, root)
			if err != nil {
				return nil, err
			}
			w, t := tr.leafWeights[leaf], tr.leafTargets[leaf]
			switch agg {
			case 0:
				y[t] += w / float64(len(tr.roots))
			case 1:
				y[t] += w
			case 2:
				y[t] = math.Min(y[t], w)
			case 3:
				y[t] = math.Max(y[t], w)
			}
		}
		rsPostTransform(y, post)
	}
	return []*tensor.Tensor{tensor.FromFloat64s(X.DType(), tensor.Shape{N, nt}, out)}, nil
}

// walk returns the leaf index that row reaches from root.
func (tr *rsTree) walk(n *graph.Node, row []float64, root int64) (int, error) {
	nn, nl := len(tr.modes), len(tr.leafWeights)
	if root < 0 || int(root) >= nn {
		if int(root) < nl && root >= 0 && nn == 0 {
			return int(root), nil
		}
		return 0, Errorf(n, "tree root %d outside the %d nodes", root, nn)
	}
	if tr.tLeaf[root] != 0 && tr.fLeaf[root] != 0 && tr.tIDs[root] == tr.fIDs[root] {
		if int(root) >= nl {
			return 0, Errorf(n, "single-leaf tree root %d outside the %d leaves", root, nl)
		}
		return int(root), nil
	}
	i := root
	for steps := 0; steps <= nn; steps++ {
		x := row[tr.feats[i]]
		var ok bool
		if math.IsNaN(x) {
			ok = tr.missTrue != nil && tr.missTrue[i] != 0
		} else {
			s := tr.splits[i]
			switch tr.modes[i] {
			case 0:
				ok = x <= s
			case 1:
				ok = x < s
			case 2:
				ok = x >= s
			case 3:
				ok = x > s
			case 4:
				ok = x == s
			case 5:
				ok = x != s
			case 6:
				ok = tr.sets[i][x]
			}
		}
		next, leaf := tr.fIDs[i], tr.fLeaf[i] != 0
		if ok {
			next, leaf = tr.tIDs[i], tr.tLeaf[i] != 0
		}
		if leaf {
			if next < 0 || int(next) >= nl {
				return 0, Errorf(n, "node %d points to leaf %d of %d", i, next, nl)
			}
			return int(next), nil
		}
		if next < 0 || int(next) >= nn {
			return 0, Errorf(n, "node %d points to node %d of %d", i, next, nn)
		}
		i = next
	}
	return 0, Errorf(n, "tree rooted at node %d has a cycle", root)
}

// rsMaxFinite is the largest finite value of a float type.
func rsMaxFinite(dt tensor.DType) float64 {
	switch dt {
	case tensor.Float16:
		return 65504
	case tensor.Float32:
		return math.MaxFloat32
	}
	return math.MaxFloat64
}

// rsPostTransform applies an ai.onnx.ml post_transform to one row of
// scores in place.
func rsPostTransform(y []float64, post int64) {
	switch post {
	case 1, 3:
		mx := math.Inf(-1)
		for _, v := range y {
			if post == 1 || v != 0 {
				mx = math.Max(mx, v)
			}
		}
		sum := 0.0
		for i, v := range y {
			if post == 3 && v == 0 {
				continue
			}
			y[i] = math.Exp(v - mx)
			sum += y[i]
		}
		for i := range y {
			if sum > 0 {
				y[i] /= sum
			}
		}
	case 2:
		for i, v := range y {
			y[i] = rsSigmoid(v)
		}
	case 4:
		for i, v := range y {
			y[i] = math.Sqrt2 * math.Erfinv(2*v-1)
		}
	}
}
