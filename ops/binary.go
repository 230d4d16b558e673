package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Binary and variadic elementwise ops with numpy (multidirectional)
// broadcasting. Integer arithmetic wraps around as in C; float16 and
// bfloat16 are computed in float64 and rounded once.

// ewArithKernel makes the kernel of a two-input arithmetic op whose output
// has the inputs' shared element type.
func ewArithKernel(ff func(a, b float64) float64, fi func(a, b int64) int64, fu func(a, b uint64) uint64) func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) != 2 {
			return nil, Errorf(n, "has %d inputs, want 2", len(in))
		}
		shape, l, err := ewArith(n, in[0], in[1], ff, fi, fu)
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{ewStore(in[0].DType(), shape, l)}, nil
	}
}

// ewAdd is ONNX Add-14: C = A + B with broadcasting, for every numeric type.
var ewAdd = ewArithKernel(
	func(a, b float64) float64 { return a + b },
	func(a, b int64) int64 { return a + b },
	func(a, b uint64) uint64 { return a + b })

// ewSub is ONNX Sub-14: C = A - B with broadcasting, for every numeric type.
var ewSub = ewArithKernel(
	func(a, b float64) float64 { return a - b },
	func(a, b int64) int64 { return a - b },
	func(a, b uint64) uint64 { return a - b })

// ewMul is ONNX Mul-14: C = A · B with broadcasting, for every numeric type.
var ewMul = ewArithKernel(
	func(a, b float64) float64 { return a * b },
	func(a, b int64) int64 { return a * b },
	func(a, b uint64) uint64 { return a * b })

// ewDiv is ONNX Div-14: C = A / B with broadcasting, for every numeric type.
// Integer division truncates toward zero as in C. ONNX leaves integer
// division by zero undefined; kiln gives 0 (numpy's result) rather than
// failing.
var ewDiv = ewArithKernel(
	func(a, b float64) float64 { return a / b },
	func(a, b int64) int64 {
		if b == 0 {
			return 0
		}
		if b == -1 {
			return -a // avoids the MinInt64 / -1 trap
		}
		return a / b
	},
	func(a, b uint64) uint64 {
		if b == 0 {
			return 0
		}
		return a / b
	})

// ewMod is ONNX Mod-13: the remainder of A / B with broadcasting. With
// attribute fmod = 0 (the default) the result has the sign of the divisor
// (Python's %, numpy.mod); with fmod = 1 it has the sign of the dividend
// (C's fmod). ONNX requires fmod = 1 for float inputs; kiln also accepts
// fmod = 0 there and computes the floored remainder. A remainder by an
// integer zero is 0.
func ewMod(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	fmod := n.Attrs.Int("fmod", 0)
	if fmod != 0 && fmod != 1 {
		return nil, Errorf(n, "attribute fmod is %d, want 0 or 1", fmod)
	}
	ff := func(a, b float64) float64 {
		r := math.Mod(a, b)
		if fmod == 0 && r != 0 && (r < 0) != (b < 0) {
			r += b
		}
		return r
	}
	fi := func(a, b int64) int64 {
		if b == 0 || b == -1 {
			return 0
		}
		r := a % b
		if fmod == 0 && r != 0 && (r < 0) != (b < 0) {
			r += b
		}
		return r
	}
	fu := func(a, b uint64) uint64 {
		if b == 0 {
			return 0
		}
		return a % b
	}
	return ewArithKernel(ff, fi, fu)(n, in)
}

// ewIPow is a^b for integers by repeated squaring (wrapping on overflow);
// negative exponents go through float64 and truncate.
func ewIPow(a, b int64) int64 {
	if b < 0 {
		return int64(math.Pow(float64(a), float64(b)))
	}
	r := int64(1)
	for b > 0 {
		if b&1 == 1 {
			r *= a
		}
		a *= a
		b >>= 1
	}
	return r
}

// ewPow is ONNX Pow-15: Z = X^Y with broadcasting. X may be any float type,
// int32 or int64 (kiln accepts every numeric type); Y any numeric type; Z
// has X's type. Integer powers of integers are exact (wrapping on
// overflow); otherwise the power is computed in float64 and converted to
// X's type, truncating toward zero for integer X as ONNX's reference does.
func ewPow(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs X and Y")
	}
	x, y := in[0], in[1]
	if !x.DType().IsNumeric() || !y.DType().IsNumeric() {
		return nil, Errorf(n, "inputs have element types %v and %v, want numeric types", x.DType(), y.DType())
	}
	shape, idx, err := ewBroadcast(n, x, y)
	if err != nil {
		return nil, err
	}
	lx, ly := ewLoad(x), ewLoad(y)
	ix, iy := idx[0], idx[1]
	yf := y.Float64s()
	switch lx.kind {
	case ewF:
		out := make([]float64, len(ix))
		for k := range out {
			out[k] = math.Pow(lx.f[ix[k]], yf[iy[k]])
		}
		return []*tensor.Tensor{ewStoreF(x.DType(), shape, out)}, nil
	case ewI, ewU:
		xs := lx.i
		if lx.kind == ewU {
			xs = ewMap(lx.u, func(v uint64) int64 { return int64(v) })
		}
		out := make([]int64, len(ix))
		for k := range out {
			a := xs[ix[k]]
			switch ly.kind {
			case ewI:
				out[k] = ewIPow(a, ly.i[iy[k]])
			case ewU:
				out[k] = ewIPow(a, int64(ly.u[iy[k]]))
			default:
				out[k] = int64(math.Pow(float64(a), ly.f[iy[k]]))
			}
		}
		return []*tensor.Tensor{ewStoreI(x.DType(), shape, out)}, nil
	}
	return nil, Errorf(n, "element type %v is not supported", x.DType())
}

// ewVariadic makes the kernel of a variadic op (Max, Min, Sum, Mean) that
// folds its broadcast inputs left to right with the lane functions; finish,
// when set, post-processes float lanes given the input count.
func ewVariadic(ff func(a, b float64) float64, fi func(a, b int64) int64, fu func(a, b uint64) uint64, finish func(v []float64, count int)) func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) == 0 {
			return nil, Errorf(n, "needs at least one input")
		}
		for i, t := range in {
			if t == nil {
				return nil, Errorf(n, "input %d is missing", i)
			}
			if t.DType() != in[0].DType() {
				return nil, Errorf(n, "input %d has element type %v, want %v like input 0", i, t.DType(), in[0].DType())
			}
		}
		dt := in[0].DType()
		shape, idx, err := ewBroadcast(n, in...)
		if err != nil {
			return nil, err
		}
		switch k := ewKindOf(dt); {
		case k == ewF && ff != nil:
			acc := ewFold(in, idx, func(t *tensor.Tensor) []float64 { return t.Float64s() }, ff)
			if finish != nil {
				finish(acc, len(in))
			}
			return []*tensor.Tensor{ewStoreF(dt, shape, acc)}, nil
		case k == ewI && fi != nil:
			acc := ewFold(in, idx, func(t *tensor.Tensor) []int64 { return t.Int64s() }, fi)
			return []*tensor.Tensor{ewStoreI(dt, shape, acc)}, nil
		case k == ewU && fu != nil:
			acc := ewFold(in, idx, ewUint64s, fu)
			return []*tensor.Tensor{ewStoreU(dt, shape, acc)}, nil
		}
		return nil, Errorf(n, "element type %v is not supported by %s", dt, n.Op)
	}
}

func ewFold[T any](in []*tensor.Tensor, idx [][]int, load func(*tensor.Tensor) []T, f func(a, b T) T) []T {
	first := load(in[0])
	acc := make([]T, len(idx[0]))
	for k, j := range idx[0] {
		acc[k] = first[j]
	}
	for i := 1; i < len(in); i++ {
		v := load(in[i])
		for k, j := range idx[i] {
			acc[k] = f(acc[k], v[j])
		}
	}
	return acc
}

// ewMax is ONNX Max-13: the elementwise maximum of one or more broadcast
// inputs of one numeric type; NaN wins, as in numpy.maximum.
var ewMax = ewVariadic(
	func(a, b float64) float64 { return max(a, b) },
	func(a, b int64) int64 { return max(a, b) },
	func(a, b uint64) uint64 { return max(a, b) }, nil)

// ewMin is ONNX Min-13: the elementwise minimum of one or more broadcast
// inputs of one numeric type; NaN wins, as in numpy.minimum.
var ewMin = ewVariadic(
	func(a, b float64) float64 { return min(a, b) },
	func(a, b int64) int64 { return min(a, b) },
	func(a, b uint64) uint64 { return min(a, b) }, nil)

// ewSum is ONNX Sum-13: the elementwise sum of one or more broadcast inputs.
// ONNX allows float types; kiln also sums integers (wrapping).
var ewSum = ewVariadic(
	func(a, b float64) float64 { return a + b },
	func(a, b int64) int64 { return a + b },
	func(a, b uint64) uint64 { return a + b }, nil)

// ewMean is ONNX Mean-13: the elementwise mean of one or more broadcast float
// inputs (the sum, accumulated in float64, divided by the input count).
var ewMean = ewVariadic(
	func(a, b float64) float64 { return a + b }, nil, nil,
	func(v []float64, count int) {
		for k := range v {
			v[k] /= float64(count)
		}
	})

// ewCompareKernel makes the kernel of a comparison with a bool output.
// Comparisons involving NaN are false (so NaN is not Equal to itself).
// Bool and string inputs are accepted when fb and fs are set.
func ewCompareKernel(ff func(a, b float64) bool, fi func(a, b int64) bool, fu func(a, b uint64) bool, fb func(a, b bool) bool, fs func(a, b string) bool) func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) != 2 || in[0] == nil || in[1] == nil {
			return nil, Errorf(n, "needs two inputs")
		}
		a, b := in[0], in[1]
		if a.DType() != b.DType() {
			return nil, Errorf(n, "inputs have element types %v and %v, want the same", a.DType(), b.DType())
		}
		shape, idx, err := ewBroadcast(n, a, b)
		if err != nil {
			return nil, err
		}
		la, lb := ewLoad(a), ewLoad(b)
		var out []bool
		switch {
		case la.kind == ewF && ff != nil:
			out = ewZip(la.f, lb.f, idx[0], idx[1], ff)
		case la.kind == ewI && fi != nil:
			out = ewZip(la.i, lb.i, idx[0], idx[1], fi)
		case la.kind == ewU && fu != nil:
			out = ewZip(la.u, lb.u, idx[0], idx[1], fu)
		case la.kind == ewB && fb != nil:
			out = ewZip(la.b, lb.b, idx[0], idx[1], fb)
		case la.kind == ewS && fs != nil:
			out = ewZip(la.s, lb.s, idx[0], idx[1], fs)
		default:
			return nil, Errorf(n, "element type %v is not supported by %s", a.DType(), n.Op)
		}
		return []*tensor.Tensor{tensor.From(shape, out)}, nil
	}
}

func ewEq[T comparable](a, b T) bool { return a == b }

func ewLt[T int64 | uint64 | float64](a, b T) bool { return a < b }
func ewGt[T int64 | uint64 | float64](a, b T) bool { return a > b }
func ewLe[T int64 | uint64 | float64](a, b T) bool { return a <= b }
func ewGe[T int64 | uint64 | float64](a, b T) bool { return a >= b }

// ewEqual is ONNX Equal-19: A == B with broadcasting, for numeric, bool and
// string inputs.
var ewEqual = ewCompareKernel(ewEq[float64], ewEq[int64], ewEq[uint64], ewEq[bool], ewEq[string])

// ewLess, ewGreater, ewLessOrEqual, ewGreaterOrEqual are ONNX Less-13, Greater-13,
// LessOrEqual-16, GreaterOrEqual-16: the comparison with broadcasting, for
// numeric inputs, giving bool.
var (
	ewLess           = ewCompareKernel(ewLt[float64], ewLt[int64], ewLt[uint64], nil, nil)
	ewGreater        = ewCompareKernel(ewGt[float64], ewGt[int64], ewGt[uint64], nil, nil)
	ewLessOrEqual    = ewCompareKernel(ewLe[float64], ewLe[int64], ewLe[uint64], nil, nil)
	ewGreaterOrEqual = ewCompareKernel(ewGe[float64], ewGe[int64], ewGe[uint64], nil, nil)
)

// ewAnd, ewOr, ewXor are ONNX And-7, Or-7, Xor-7: logical operations on bool
// tensors with broadcasting.
var (
	ewAnd = ewCompareKernel(nil, nil, nil, func(a, b bool) bool { return a && b }, nil)
	ewOr  = ewCompareKernel(nil, nil, nil, func(a, b bool) bool { return a || b }, nil)
	ewXor = ewCompareKernel(nil, nil, nil, func(a, b bool) bool { return a != b }, nil)
)

// ewBitwiseAnd, ewBitwiseOr, ewBitwiseXor are ONNX BitwiseAnd-18, BitwiseOr-18,
// BitwiseXor-18: bitwise operations on integer tensors with broadcasting.
var (
	ewBitwiseAnd = ewArithKernel(nil,
		func(a, b int64) int64 { return a & b },
		func(a, b uint64) uint64 { return a & b })
	ewBitwiseOr = ewArithKernel(nil,
		func(a, b int64) int64 { return a | b },
		func(a, b uint64) uint64 { return a | b })
	ewBitwiseXor = ewArithKernel(nil,
		func(a, b int64) int64 { return a ^ b },
		func(a, b uint64) uint64 { return a ^ b })
)

// ewBitShift is ONNX BitShift-11: X shifted left or right (attribute
// direction, "LEFT" or "RIGHT", required) by Y bits, with broadcasting, for
// unsigned integers. Bits shifted past the type's width are lost; shifting
// by the width or more gives 0.
func ewBitShift(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	var fu func(a, b uint64) uint64
	switch d := n.Attrs.String("direction", ""); d {
	case "LEFT":
		fu = func(a, b uint64) uint64 { return a << b }
	case "RIGHT":
		fu = func(a, b uint64) uint64 { return a >> b }
	default:
		return nil, Errorf(n, "attribute direction is %q, want \"LEFT\" or \"RIGHT\"", d)
	}
	return ewArithKernel(nil, nil, fu)(n, in)
}

// ewWhere is ONNX Where-16: output = condition ? X : Y elementwise, with the
// three inputs broadcast together. X and Y share any element type.
func ewWhere(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, Errorf(n, "needs inputs condition, X and Y")
	}
	c, x, y := in[0], in[1], in[2]
	if c.DType() != tensor.Bool {
		return nil, Errorf(n, "condition has element type %v, want bool", c.DType())
	}
	if x.DType() != y.DType() {
		return nil, Errorf(n, "X and Y have element types %v and %v, want the same", x.DType(), y.DType())
	}
	shape, idx, err := ewBroadcast(n, c, x, y)
	if err != nil {
		return nil, err
	}
	cond := c.Bools()
	lx, ly := ewLoad(x), ewLoad(y)
	out := ewLanes{kind: lx.kind}
	switch lx.kind {
	case ewF:
		out.f = ewSelect(cond, lx.f, ly.f, idx)
	case ewI:
		out.i = ewSelect(cond, lx.i, ly.i, idx)
	case ewU:
		out.u = ewSelect(cond, lx.u, ly.u, idx)
	case ewB:
		out.b = ewSelect(cond, lx.b, ly.b, idx)
	case ewS:
		out.s = ewSelect(cond, lx.s, ly.s, idx)
	}
	return []*tensor.Tensor{ewStore(x.DType(), shape, out)}, nil
}

func ewSelect[T any](c []bool, x, y []T, idx [][]int) []T {
	out := make([]T, len(idx[0]))
	for k := range out {
		if c[idx[0][k]] {
			out[k] = x[idx[1][k]]
		} else {
			out[k] = y[idx[2][k]]
		}
	}
	return out
}

// ewClip is ONNX Clip-13: y = min(max(x, min), max) with the optional
// scalar inputs min and max (absent means unbounded), for every numeric
// type. When min > max every element becomes max. NaN stays NaN. A min or
// max of another numeric type than x (as produced when importing Clip-6's
// float attributes) is converted to x's type.
func ewClip(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs input")
	}
	x := in[0]
	if !x.DType().IsNumeric() {
		return nil, Errorf(n, "input has element type %v, want a numeric type", x.DType())
	}
	bound := func(i int, name string) (*tensor.Tensor, error) {
		if i >= len(in) || in[i] == nil {
			return nil, nil
		}
		if in[i].Len() != 1 {
			return nil, Errorf(n, "%s has shape %v, want a scalar", name, in[i].Shape())
		}
		if !in[i].DType().IsNumeric() {
			return nil, Errorf(n, "%s has element type %v, want a numeric type", name, in[i].DType())
		}
		return in[i], nil
	}
	lo, err := bound(1, "min")
	if err != nil {
		return nil, err
	}
	hi, err := bound(2, "max")
	if err != nil {
		return nil, err
	}
	l := ewLoad(x)
	switch l.kind {
	case ewF:
		a, b := math.Inf(-1), math.Inf(1)
		if lo != nil {
			a = lo.At(0)
		}
		if hi != nil {
			b = hi.At(0)
		}
		l.f = ewMap(l.f, func(v float64) float64 { return min(max(v, a), b) })
	case ewI:
		a, b := int64(math.MinInt64), int64(math.MaxInt64)
		if lo != nil {
			a = lo.Int64s()[0]
		}
		if hi != nil {
			b = hi.Int64s()[0]
		}
		l.i = ewMap(l.i, func(v int64) int64 { return min(max(v, a), b) })
	case ewU:
		a, b := uint64(0), uint64(math.MaxUint64)
		if lo != nil {
			a = ewUint64s(lo)[0]
		}
		if hi != nil {
			b = ewUint64s(hi)[0]
		}
		l.u = ewMap(l.u, func(v uint64) uint64 { return min(max(v, a), b) })
	}
	return []*tensor.Tensor{ewStore(x.DType(), x.Shape(), l)}, nil
}

// ewInferWhere is Where's Infer: the broadcast of all three inputs with X's
// element type.
func ewInferWhere(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) != 3 {
		return nil, ic.Errorf("has %d inputs, want 3", len(ic.In))
	}
	t, err := BroadcastTypes(ic, ic.In[1].DType, ic.In...)
	if err != nil {
		return nil, err
	}
	return []graph.Type{t}, nil
}

// ewBroadcastAxis is the kiln op BroadcastAxis, which the ONNX importer
// inserts for the limited broadcasting of opset < 7 binary ops (attributes
// broadcast = 1 and axis): the output is input B reshaped to B's shape
// followed by as many 1s as make B's dimensions line up with A's starting
// at dimension axis (attribute, negative counts from the end of A's
// rank), so that numpy broadcasting then gives the legacy meaning.
func ewBroadcastAxis(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs A and B")
	}
	shape, err := ewAxisShape(n, in[0].Rank(), in[1].Shape())
	if err != nil {
		return nil, err
	}
	b, err := in[1].Reshape(shape)
	if err != nil {
		return nil, Errorf(n, "%w", err)
	}
	return []*tensor.Tensor{b}, nil
}

func ewAxisShape(n *graph.Node, rankA int, b []int) (tensor.Shape, error) {
	axis := int(n.Attrs.Int("axis", int64(rankA-len(b))))
	if axis < 0 {
		axis += rankA
	}
	pad := rankA - axis - len(b)
	if axis < 0 || pad < 0 {
		return nil, Errorf(n, "B of rank %d does not fit A of rank %d at axis %d", len(b), rankA, n.Attrs.Int("axis", 0))
	}
	s := append(tensor.Shape{}, b...)
	for range pad {
		s = append(s, 1)
	}
	return s, nil
}

func ewInferBroadcastAxis(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) != 2 {
		return nil, ic.Errorf("has %d inputs, want 2", len(ic.In))
	}
	a, b := ic.In[0], ic.In[1]
	if a.Unranked || b.Unranked {
		return []graph.Type{graph.UnrankedType(b.DType)}, nil
	}
	s, err := ewAxisShape(ic.Node, len(a.Shape), b.Shape)
	if err != nil {
		return nil, err
	}
	return []graph.Type{graph.TensorType(b.DType, s...)}, nil
}

func init() {
	for _, op := range []struct {
		name  string
		infer func(ic *InferContext) ([]graph.Type, error)
		k     func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error)
	}{
		{"Add", InferBroadcast, ewAdd},
		{"Sub", InferBroadcast, ewSub},
		{"Mul", InferBroadcast, ewMul},
		{"Div", InferBroadcast, ewDiv},
		{"Mod", InferBroadcast, ewMod},
		{"Pow", InferBroadcast, ewPow},
		{"Max", InferBroadcast, ewMax},
		{"Min", InferBroadcast, ewMin},
		{"Sum", InferBroadcast, ewSum},
		{"Mean", InferBroadcast, ewMean},
		{"Equal", InferBroadcastBool, ewEqual},
		{"Less", InferBroadcastBool, ewLess},
		{"Greater", InferBroadcastBool, ewGreater},
		{"LessOrEqual", InferBroadcastBool, ewLessOrEqual},
		{"GreaterOrEqual", InferBroadcastBool, ewGreaterOrEqual},
		{"And", InferBroadcastBool, ewAnd},
		{"Or", InferBroadcastBool, ewOr},
		{"Xor", InferBroadcastBool, ewXor},
		{"BitwiseAnd", InferBroadcast, ewBitwiseAnd},
		{"BitwiseOr", InferBroadcast, ewBitwiseOr},
		{"BitwiseXor", InferBroadcast, ewBitwiseXor},
		{"BitShift", InferBroadcast, ewBitShift},
		{"Where", ewInferWhere, ewWhere},
		{"Clip", InferSame(0), ewClip},
	} {
		Register(&Def{Name: op.name, Infer: op.infer, Kernel: op.k})
	}
	Register(&Def{Name: "BroadcastAxis", Domain: "kiln", Infer: ewInferBroadcastAxis, Kernel: ewBroadcastAxis})
}
