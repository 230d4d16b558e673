package ops

import (
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// MatMul is the matrix product of numpy.matmul (ONNX MatMul-13): the last
// two axes of A [..., M, K] and B [..., K, N] are multiplied and the leading
// (batch) axes broadcast. A 1-D A is read as [1, K] and a 1-D B as [K, 1],
// and the inserted axis is removed from the result. Element types: float16,
// bfloat16, float32, float64, int32, int64, uint32, uint64 (products are
// accumulated in float64).
var MatMul = &Def{Name: "MatMul", Infer: nnMatMulInfer, Kernel: nnMatMulKernel}

// Gemm computes Y = alpha * A' * B' + beta * C (ONNX Gemm-13), where A' is A
// or its transpose (transA), B' likewise (transB), A' is [M, K], B' is
// [K, N] and the optional C broadcasts to [M, N].
var Gemm = &Def{Name: "Gemm", Infer: nnGemmInfer, Kernel: nnGemmKernel}

func init() {
	Register(MatMul)
	Register(Gemm)
}

func nnMatMulShapes(a, b []int) (batch []int, m, k, n int, out []int, ok bool) {
	if len(a) == 0 || len(b) == 0 {
		return nil, 0, 0, 0, nil, false
	}
	a1, b1 := len(a) == 1, len(b) == 1
	if a1 {
		a = []int{1, a[0]}
	}
	if b1 {
		b = []int{b[0], 1}
	}
	m, k = a[len(a)-2], a[len(a)-1]
	k2 := b[len(b)-2]
	n = b[len(b)-1]
	if k != k2 && k >= 0 && k2 >= 0 {
		return nil, 0, 0, 0, nil, false
	}
	bs, err := tensor.Broadcast(tensor.Shape(a[:len(a)-2]), tensor.Shape(b[:len(b)-2]))
	if err != nil {
		return nil, 0, 0, 0, nil, false
	}
	out = append([]int{}, bs...)
	if !a1 {
		out = append(out, m)
	}
	if !b1 {
		out = append(out, n)
	}
	return bs, m, k, n, out, true
}

func nnMatMulInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 2 {
		return nil, ic.Errorf("needs inputs A and B")
	}
	a, b := ic.In[0], ic.In[1]
	if a.Unranked || b.Unranked {
		return []graph.Type{graph.UnrankedType(a.DType)}, nil
	}
	as, bs := append([]int{}, a.Shape...), append([]int{}, b.Shape...)
	// Unknown batch dims: treat as 1 for broadcasting, then mark unknown.
	fix := func(s []int, last int) []int {
		c := append([]int{}, s...)
		for i := 0; i < len(c)-last; i++ {
			if c[i] < 0 {
				c[i] = 1
			}
		}
		return c
	}
	_, _, _, _, out, ok := nnMatMulShapes(fix(as, 2), fix(bs, 2))
	if !ok {
		return nil, ic.Errorf("cannot multiply shapes %v and %v", a, b)
	}
	nb := len(out) - 2
	if len(as) == 1 || len(bs) == 1 {
		nb = len(out) - 1
		if len(as) == 1 && len(bs) == 1 {
			nb = len(out)
		}
	}
	for i := 0; i < nb; i++ {
		ai, bi := i-(nb-max(len(as)-2, 0)), i-(nb-max(len(bs)-2, 0))
		if (ai >= 0 && as[ai] < 0) || (bi >= 0 && bs[bi] < 0) {
			out[i] = -1
		}
	}
	return []graph.Type{graph.TensorType(a.DType, out...)}, nil
}

func nnMatMulKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs A and B")
	}
	a, b := in[0], in[1]
	if a.DType() != b.DType() {
		return nil, Errorf(n, "A is %v but B is %v", a.DType(), b.DType())
	}
	as, bs := []int(a.Shape()), []int(b.Shape())
	batch, m, k, nn, out, ok := nnMatMulShapes(as, bs)
	if !ok {
		return nil, Errorf(n, "cannot multiply shapes %v and %v (numpy matmul rules)", a.Shape(), b.Shape())
	}
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	bsh := tensor.Shape(batch)
	ia := tensor.BroadcastIndex(tensor.Shape(as[:len(as)-2]), bsh)
	ib := tensor.BroadcastIndex(tensor.Shape(bs[:len(bs)-2]), bsh)
	av, bv := a.Float64s(), b.Float64s()
	res := make([]float64, bsh.Size()*m*nn)
	for bi := range ia {
		ao, bo, ro := ia[bi]*m*k, ib[bi]*k*nn, bi*m*nn
		for i := 0; i < m; i++ {
			row := res[ro+i*nn : ro+(i+1)*nn]
			for p := 0; p < k; p++ {
				x := av[ao+i*k+p]
				if x == 0 {
					continue
				}
				bro := bv[bo+p*nn : bo+(p+1)*nn]
				for j := range row {
					row[j] += x * bro[j]
				}
			}
		}
	}
	return []*tensor.Tensor{nnOut(a.DType(), out, res)}, nil
}

func nnGemmInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 2 {
		return nil, ic.Errorf("needs inputs A and B")
	}
	a, b := ic.In[0], ic.In[1]
	if a.Unranked || b.Unranked {
		return []graph.Type{graph.TensorType(a.DType, -1, -1)}, nil
	}
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		return nil, ic.Errorf("A %v and B %v must be 2-D", a, b)
	}
	m, nn := a.Shape[0], b.Shape[1]
	if ic.Node.Attrs.Int("transA", 0) != 0 {
		m = a.Shape[1]
	}
	if ic.Node.Attrs.Int("transB", 0) != 0 {
		nn = b.Shape[0]
	}
	return []graph.Type{graph.TensorType(a.DType, m, nn)}, nil
}

func nnGemmKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs A and B")
	}
	a, b := in[0], in[1]
	if a.Rank() != 2 || b.Rank() != 2 {
		return nil, Errorf(n, "A %v and B %v must be 2-D", a.Shape(), b.Shape())
	}
	ta, tb := n.Attrs.Int("transA", 0) != 0, n.Attrs.Int("transB", 0) != 0
	alpha, beta := float64(n.Attrs.Float("alpha", 1)), float64(n.Attrs.Float("beta", 1))
	m, k := a.Shape()[0], a.Shape()[1]
	if ta {
		m, k = k, m
	}
	k2, nn := b.Shape()[0], b.Shape()[1]
	if tb {
		k2, nn = nn, k2
	}
	if k != k2 {
		return nil, Errorf(n, "inner dimensions differ: A' is [%d, %d], B' is [%d, %d]", m, k, k2, nn)
	}
	av, bv := a.Float64s(), b.Float64s()
	res := make([]float64, m*nn)
	for i := 0; i < m; i++ {
		for j := 0; j < nn; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				var x, y float64
				if ta {
					x = av[p*m+i]
				} else {
					x = av[i*k+p]
				}
				if tb {
					y = bv[j*k+p]
				} else {
					y = bv[p*nn+j]
				}
				s += x * y
			}
			res[i*nn+j] = alpha * s
		}
	}
	if len(in) > 2 && in[2] != nil && beta != 0 {
		c := in[2]
		out := tensor.Shape{m, nn}
		if bs, err := tensor.Broadcast(c.Shape(), out); err != nil || !bs.Equal(out) {
			return nil, Errorf(n, "C %v does not broadcast to [%d, %d]", c.Shape(), m, nn)
		}
		cv := c.Float64s()
		for i, j := range tensor.BroadcastIndex(c.Shape(), out) {
			res[i] += beta * cv[j]
		}
	}
	return []*tensor.Tensor{nnOut(a.DType(), tensor.Shape{m, nn}, res)}, nil
}

// Einsum evaluates an Einstein summation (ONNX Einsum-12) such as
// "ij,jk->ik". Without "->" the output holds the labels that occur exactly
// once, in alphabetical order, after the ellipsis axes. "..." stands for
// broadcast leading axes; a label repeated within one operand takes its
// diagonal; labels absent from the output are summed.
var Einsum = &Def{Name: "Einsum", Infer: nnEinsumInfer, Kernel: nnEinsumKernel}

func init() { Register(Einsum) }

// nnEinsumParse splits the equation into per-operand label lists; the
// ellipsis is label -1. out is nil for implicit mode.
func nnEinsumParse(eq string) (ins [][]int, out []int, explicit bool, err error) {
	eq = strings.ReplaceAll(eq, " ", "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	parse := func(s string) ([]int, error) {
		var ls []int
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '.':
				if !strings.HasPrefix(s[i:], "...") {
					return nil, errEinsum("lone '.'")
				}
				ls = append(ls, -1)
				i += 2
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
				ls = append(ls, int(c))
			default:
				return nil, errEinsum("bad character " + string(c))
			}
		}
		return ls, nil
	}
	for _, t := range strings.Split(lhs, ",") {
		ls, err := parse(t)
		if err != nil {
			return nil, nil, false, err
		}
		ins = append(ins, ls)
	}
	if explicit {
		out, err = parse(rhs)
		if err != nil {
			return nil, nil, false, err
		}
	}
	return ins, out, explicit, nil
}

type errEinsum string

func (e errEinsum) Error() string { return "einsum equation: " + string(e) }

func nnEinsumInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) == 0 {
		return nil, ic.Errorf("needs inputs")
	}
	return []graph.Type{graph.UnrankedType(ic.In[0].DType)}, nil
}

func nnEinsumKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	ins, outL, explicit, err := nnEinsumParse(n.Attrs.String("equation", ""))
	if err != nil {
		return nil, Errorf(n, "%v", err)
	}
	if len(ins) != len(in) {
		return nil, Errorf(n, "equation has %d operands but the node has %d inputs", len(ins), len(in))
	}
	// Expand ellipses into labels 1000+j, counted from the right.
	size := map[int]int{}
	ellRank := 0
	exp := make([][]int, len(in))
	for i, ls := range ins {
		if in[i] == nil {
			return nil, Errorf(n, "input %d is missing", i)
		}
		sh := in[i].Shape()
		named := 0
		for _, l := range ls {
			if l >= 0 {
				named++
			}
		}
		er := len(sh) - named
		hasEll := false
		for _, l := range ls {
			if l < 0 {
				hasEll = true
			}
		}
		if er < 0 || (!hasEll && er != 0) {
			return nil, Errorf(n, "operand %d has rank %d but the equation names %d axes", i, len(sh), named)
		}
		if hasEll && er > ellRank {
			ellRank = er
		}
		var e []int
		for _, l := range ls {
			if l < 0 {
				for j := er - 1; j >= 0; j-- {
					e = append(e, 1000+j)
				}
			} else {
				e = append(e, l)
			}
		}
		for ax, l := range e {
			d := sh[ax]
			if old, ok := size[l]; ok && old != d {
				if old == 1 {
					size[l] = d
				} else if d != 1 {
					return nil, Errorf(n, "label %q has sizes %d and %d", rune(l), old, d)
				}
			} else if !ok {
				size[l] = d
			}
		}
		exp[i] = e
	}
	var ellLabels []int
	for j := ellRank - 1; j >= 0; j-- {
		ellLabels = append(ellLabels, 1000+j)
	}
	var out []int
	if explicit {
		for _, l := range outL {
			if l < 0 {
				out = append(out, ellLabels...)
			} else {
				if _, ok := size[l]; !ok {
					return nil, Errorf(n, "output label %q does not occur in the inputs", rune(l))
				}
				out = append(out, l)
			}
		}
	} else {
		count := map[int]int{}
		for _, ls := range ins {
			for _, l := range ls {
				if l >= 0 {
					count[l]++
				}
			}
		}
		var once []int
		for l, c := range count {
			if c == 1 {
				once = append(once, l)
			}
		}
		sort.Ints(once)
		out = append(append(out, ellLabels...), once...)
	}
	// All labels: output first, then summed.
	all := append([]int{}, out...)
	seen := map[int]bool{}
	for _, l := range out {
		seen[l] = true
	}
	for _, e := range exp {
		for _, l := range e {
			if !seen[l] {
				seen[l] = true
				all = append(all, l)
			}
		}
	}
	pos := map[int]int{}
	dims := make([]int, len(all))
	for i, l := range all {
		pos[l] = i
		dims[i] = size[l]
	}
	// strides[i][j]: how operand i's flat offset moves with label j.
	strides := make([][]int, len(in))
	vals := make([][]float64, len(in))
	for i, e := range exp {
		st := make([]int, len(all))
		own := in[i].Shape().Strides()
		for ax, l := range e {
			if in[i].Shape()[ax] != 1 {
				st[pos[l]] += own[ax]
			}
		}
		strides[i] = st
		vals[i] = in[i].Float64s()
	}
	outShape := tensor.Shape(dims[:len(out)])
	res := make([]float64, outShape.Size())
	total := nnProd(dims)
	nsum := nnProd(dims[len(out):])
	if total > 0 {
		idx := make([]int, len(all))
		offs := make([]int, len(in))
		for it := 0; it < total; it++ {
			p := 1.0
			for i := range in {
				p *= vals[i][offs[i]]
			}
			res[it/nsum] += p
			for d := len(all) - 1; d >= 0; d-- {
				idx[d]++
				for i := range in {
					offs[i] += strides[i][d]
				}
				if idx[d] < dims[d] {
					break
				}
				for i := range in {
					offs[i] -= strides[i][d] * dims[d]
				}
				idx[d] = 0
			}
		}
	}
	return []*tensor.Tensor{nnOut(in[0].DType(), outShape, res)}, nil
}
