package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Shared helpers of the elementwise family. Kernels of this family compute
// on "lanes": every element type is widened to one of float64 (float16,
// bfloat16, float32, float64), int64 (signed integers), uint64 (unsigned
// integers), bool or string, and narrowed back once at the end. Widening
// integers to 64 bits and narrowing by truncation reproduces C's wrap-around
// arithmetic for the narrow types; computing float16/bfloat16/float32 in
// float64 and rounding once gives correctly rounded results for + - * / and
// results at least as accurate as float32 arithmetic for everything else.

// ewKind is the lane kind of an element type.
type ewKind uint8

const (
	ewF ewKind = iota // float64 lanes
	ewI               // int64 lanes
	ewU               // uint64 lanes
	ewB               // bool lanes
	ewS               // string lanes
)

func ewKindOf(dt tensor.DType) ewKind {
	switch {
	case dt.IsFloat() || dt.IsLowFloat():
		return ewF
	case dt.IsSigned() || dt.IsLowInt():
		return ewI
	case dt.IsUnsigned():
		return ewU
	case dt == tensor.Bool:
		return ewB
	}
	return ewS
}

// ewLanes is a tensor's data widened to its lane kind; exactly one slice is
// set.
type ewLanes struct {
	kind ewKind
	f    []float64
	i    []int64
	u    []uint64
	b    []bool
	s    []string
}

func ewLoad(t *tensor.Tensor) ewLanes {
	switch k := ewKindOf(t.DType()); k {
	case ewF:
		return ewLanes{kind: k, f: t.Float64s()}
	case ewI:
		return ewLanes{kind: k, i: t.Int64s()}
	case ewU:
		return ewLanes{kind: k, u: ewUint64s(t)}
	case ewB:
		return ewLanes{kind: k, b: t.Bools()}
	default:
		return ewLanes{kind: k, s: t.Strings()}
	}
}

func ewUint64s(t *tensor.Tensor) []uint64 {
	out := make([]uint64, t.Len())
	switch s := t.Data().(type) {
	case []uint8:
		ewConv(out, s)
	case []uint16:
		ewConv(out, s)
	case []uint32:
		ewConv(out, s)
	case []uint64:
		copy(out, s)
	}
	return out
}

func ewConv[D, S tensor.Numeric](dst []D, src []S) {
	for i, v := range src {
		dst[i] = D(v)
	}
}

// ewStoreF narrows float64 lanes to a float tensor of type dt, rounding to
// nearest even.
func ewStoreF(dt tensor.DType, shape tensor.Shape, v []float64) *tensor.Tensor {
	if dt.IsLowFloat() {
		return tensor.FromFloat64s(dt, shape, v) // exact for values loaded from dt
	}
	t := tensor.New(dt, shape...)
	switch d := t.Data().(type) {
	case []float32:
		ewConv(d, v)
	case []float64:
		copy(d, v)
	case []tensor.Half:
		for i, x := range v {
			d[i] = ewF64ToHalf(x)
		}
	case []tensor.BHalf:
		for i, x := range v {
			d[i] = ewF64ToBHalf(x)
		}
	}
	return t
}

// ewStoreI narrows int64 lanes to an integer tensor of type dt (wrapping).
func ewStoreI(dt tensor.DType, shape tensor.Shape, v []int64) *tensor.Tensor {
	if dt.IsLowInt() {
		return tensor.FromInt64sAs(dt, shape, v)
	}
	t := tensor.New(dt, shape...)
	switch d := t.Data().(type) {
	case []int8:
		ewConv(d, v)
	case []int16:
		ewConv(d, v)
	case []int32:
		ewConv(d, v)
	case []int64:
		copy(d, v)
	case []uint8:
		ewConv(d, v)
	case []uint16:
		ewConv(d, v)
	case []uint32:
		ewConv(d, v)
	case []uint64:
		ewConv(d, v)
	}
	return t
}

// ewStoreU narrows uint64 lanes to an integer tensor of type dt (wrapping).
func ewStoreU(dt tensor.DType, shape tensor.Shape, v []uint64) *tensor.Tensor {
	t := tensor.New(dt, shape...)
	switch d := t.Data().(type) {
	case []int8:
		ewConv(d, v)
	case []int16:
		ewConv(d, v)
	case []int32:
		ewConv(d, v)
	case []int64:
		ewConv(d, v)
	case []uint8:
		ewConv(d, v)
	case []uint16:
		ewConv(d, v)
	case []uint32:
		ewConv(d, v)
	case []uint64:
		copy(d, v)
	}
	return t
}

// ewStore narrows lanes of the kind matching dt back into a tensor.
func ewStore(dt tensor.DType, shape tensor.Shape, l ewLanes) *tensor.Tensor {
	switch l.kind {
	case ewF:
		return ewStoreF(dt, shape, l.f)
	case ewI:
		return ewStoreI(dt, shape, l.i)
	case ewU:
		return ewStoreU(dt, shape, l.u)
	case ewB:
		return tensor.From(shape.Clone(), l.b)
	default:
		return tensor.From(shape.Clone(), l.s)
	}
}

// ewF64ToHalf rounds a float64 to the nearest float16 (ties to even), in one
// rounding step (going through float32 could round twice).
func ewF64ToHalf(f float64) tensor.Half {
	return tensor.Half(ewRoundBits(f, 5, 10))
}

// ewF64ToBHalf rounds a float64 to the nearest bfloat16 (ties to even).
func ewF64ToBHalf(f float64) tensor.BHalf {
	return tensor.BHalf(ewRoundBits(f, 8, 7))
}

// ewRoundBits rounds f to a binary floating-point format with expBits
// exponent bits and manBits mantissa bits (IEEE layout, with infinities,
// NaNs and subnormals), ties to even, and returns its bit pattern.
func ewRoundBits(f float64, expBits, manBits uint) uint64 {
	var sign uint64
	if math.Signbit(f) {
		sign = 1 << (expBits + manBits)
		f = -f
	}
	expMax := uint64(1)<<expBits - 1
	switch {
	case math.IsNaN(f):
		return sign | expMax<<manBits | 1<<(manBits-1)
	case math.IsInf(f, 0):
		return sign | expMax<<manBits
	case f == 0:
		return sign
	}
	bias := int(1)<<(expBits-1) - 1
	frac, e := math.Frexp(f) // f = frac * 2^e, frac in [0.5, 1)
	exp := e - 1 + bias      // biased exponent of the normal form
	var q float64            // f in units of the target's last mantissa place
	if exp <= 0 {
		// Subnormal: the unit is 2^(1-bias-manBits).
		q = math.Ldexp(f, bias-1+int(manBits))
		exp = 0
	} else {
		q = math.Ldexp(frac*2, int(manBits)) // in [2^manBits, 2^(manBits+1))
	}
	r := math.RoundToEven(q)
	m := uint64(r)
	if exp == 0 {
		// m may reach 2^manBits, which is the smallest normal: the bit
		// pattern works out unchanged.
		return sign | m
	}
	if m == uint64(1)<<(manBits+1) {
		m >>= 1
		exp++
	}
	if uint64(exp) >= expMax {
		return sign | expMax<<manBits
	}
	return sign | uint64(exp)<<manBits | (m & (uint64(1)<<manBits - 1))
}

// ewBroadcast returns the broadcast shape of the given tensors and, for
// each, the flat source index of every output element.
func ewBroadcast(n *graph.Node, ts ...*tensor.Tensor) (tensor.Shape, [][]int, error) {
	shapes := make([]tensor.Shape, len(ts))
	for i, t := range ts {
		shapes[i] = t.Shape()
	}
	out, err := tensor.Broadcast(shapes...)
	if err != nil {
		return nil, nil, Errorf(n, "inputs cannot be broadcast together: %w", err)
	}
	idx := make([][]int, len(ts))
	for i, s := range shapes {
		idx[i] = tensor.BroadcastIndex(s, out)
	}
	return out, idx, nil
}

// ewZip applies f to broadcast pairs.
func ewZip[T, U any](a, b []T, ia, ib []int, f func(T, T) U) []U {
	out := make([]U, len(ia))
	for k := range out {
		out[k] = f(a[ia[k]], b[ib[k]])
	}
	return out
}

// ewMap applies f to each element.
func ewMap[T, U any](a []T, f func(T) U) []U {
	out := make([]U, len(a))
	for k, v := range a {
		out[k] = f(v)
	}
	return out
}

// ewNumFuncs holds one lane function per numeric lane kind; a nil function
// means the op does not accept that kind.
type ewNumFuncs[R any] struct {
	f func(a, b float64) R
	i func(a, b int64) R
	u func(a, b uint64) R
}

// ewBinary broadcasts a and b (which must share an element type accepted
// by fs) and applies the lane function of their kind.
func ewBinary[R any](n *graph.Node, a, b *tensor.Tensor, fs ewNumFuncs[R]) (tensor.Shape, []R, error) {
	if a == nil || b == nil {
		return nil, nil, Errorf(n, "needs two inputs")
	}
	if a.DType() != b.DType() {
		return nil, nil, Errorf(n, "inputs have element types %v and %v, want the same", a.DType(), b.DType())
	}
	shape, idx, err := ewBroadcast(n, a, b)
	if err != nil {
		return nil, nil, err
	}
	la, lb := ewLoad(a), ewLoad(b)
	switch {
	case la.kind == ewF && fs.f != nil:
		return shape, ewZip(la.f, lb.f, idx[0], idx[1], fs.f), nil
	case la.kind == ewI && fs.i != nil:
		return shape, ewZip(la.i, lb.i, idx[0], idx[1], fs.i), nil
	case la.kind == ewU && fs.u != nil:
		return shape, ewZip(la.u, lb.u, idx[0], idx[1], fs.u), nil
	}
	return nil, nil, Errorf(n, "element type %v is not supported by %s", a.DType(), n.Op)
}

// ewUnaryFloat applies f to a float tensor (float16, bfloat16, float32,
// float64), computing in float64.
func ewUnaryFloat(n *graph.Node, x *tensor.Tensor, f func(float64) float64) (*tensor.Tensor, error) {
	if x == nil {
		return nil, Errorf(n, "missing input")
	}
	if !x.DType().IsFloat() {
		return nil, Errorf(n, "input has element type %v, want a float type", x.DType())
	}
	return ewStoreF(x.DType(), x.Shape(), ewMap(x.Float64s(), f)), nil
}

// ewUnaryNum applies the lane function of x's kind to a numeric tensor; a
// nil function rejects that kind.
func ewUnaryNum(n *graph.Node, x *tensor.Tensor, ff func(float64) float64, fi func(int64) int64, fu func(uint64) uint64) (*tensor.Tensor, error) {
	if x == nil {
		return nil, Errorf(n, "missing input")
	}
	l := ewLoad(x)
	switch {
	case l.kind == ewF && ff != nil:
		return ewStoreF(x.DType(), x.Shape(), ewMap(l.f, ff)), nil
	case l.kind == ewI && fi != nil:
		return ewStoreI(x.DType(), x.Shape(), ewMap(l.i, fi)), nil
	case l.kind == ewU && fu != nil:
		return ewStoreU(x.DType(), x.Shape(), ewMap(l.u, fu)), nil
	}
	return nil, Errorf(n, "element type %v is not supported by %s", x.DType(), n.Op)
}

// ewInferFloat is the Infer function of float-only unary ops.
func ewInferFloat(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs one input")
	}
	if dt := ic.In[0].DType; dt != tensor.Undefined && !dt.IsFloat() {
		return nil, ic.Errorf("input has element type %v, want a float type", dt)
	}
	return []graph.Type{ic.In[0]}, nil
}

// ewInferAs returns an Infer function whose output has the shape of input 0
// and element type dt (IsNaN, IsInf).
func ewInferAs(dt tensor.DType) func(ic *InferContext) ([]graph.Type, error) {
	return func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 1 {
			return nil, ic.Errorf("needs one input")
		}
		t := ic.In[0]
		t.DType = dt
		return []graph.Type{t}, nil
	}
}

// ewRegisterUnary registers a single-input op with the given kernel and
// Infer function.
func ewRegisterUnary(name string, infer func(ic *InferContext) ([]graph.Type, error), k func(n *graph.Node, x *tensor.Tensor) (*tensor.Tensor, error)) {
	Register(&Def{
		Name:  name,
		Infer: infer,
		Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if len(in) < 1 || in[0] == nil {
				return nil, Errorf(n, "needs one input")
			}
			y, err := k(n, in[0])
			if err != nil {
				return nil, err
			}
			return []*tensor.Tensor{y}, nil
		},
	})
}

// ewArith broadcasts a and b (which must share a numeric element type) and
// applies the lane function of their kind, giving lanes of that kind; a nil
// function rejects that kind.
func ewArith(n *graph.Node, a, b *tensor.Tensor, ff func(a, b float64) float64, fi func(a, b int64) int64, fu func(a, b uint64) uint64) (tensor.Shape, ewLanes, error) {
	if a == nil || b == nil {
		return nil, ewLanes{}, Errorf(n, "needs two inputs")
	}
	if a.DType() != b.DType() {
		return nil, ewLanes{}, Errorf(n, "inputs have element types %v and %v, want the same", a.DType(), b.DType())
	}
	shape, idx, err := ewBroadcast(n, a, b)
	if err != nil {
		return nil, ewLanes{}, err
	}
	la, lb := ewLoad(a), ewLoad(b)
	switch {
	case la.kind == ewF && ff != nil:
		return shape, ewLanes{kind: ewF, f: ewZip(la.f, lb.f, idx[0], idx[1], ff)}, nil
	case la.kind == ewI && fi != nil:
		return shape, ewLanes{kind: ewI, i: ewZip(la.i, lb.i, idx[0], idx[1], fi)}, nil
	case la.kind == ewU && fu != nil:
		return shape, ewLanes{kind: ewU, u: ewZip(la.u, lb.u, idx[0], idx[1], fu)}, nil
	}
	return nil, ewLanes{}, Errorf(n, "element type %v is not supported by %s", a.DType(), n.Op)
}
