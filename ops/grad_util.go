package ops

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Shared helpers of the gradient rules (ops/grad_*.go). Rules see the
// forward graph only through a GradEmitter; they compute shapes at run time
// (Shape, SumToShape) unless the static types make that unnecessary, so
// they work for unknown batch sizes.

// gradConster is implemented by emitters that can tell the value of a
// constant input (a param); rules use it to read axes and similar inputs.
type gradConster interface {
	ConstValue(name string) *tensor.Tensor
}

// gConst returns the compile-time value of a value, or nil.
func gConst(e GradEmitter, name string) *tensor.Tensor {
	if c, ok := e.(gradConster); ok && name != "" {
		return c.ConstValue(name)
	}
	return nil
}

// gDType returns the element type of a value, float32 when unknown.
func gDType(e GradEmitter, name string) tensor.DType {
	if t, ok := e.Type(name); ok && t.DType != tensor.Undefined {
		return t.DType
	}
	return tensor.Float32
}

// gRank returns the static rank of a value.
func gRank(e GradEmitter, name string) (int, bool) {
	t, ok := e.Type(name)
	if !ok || t.Unranked || t.Kind != graph.KindTensor {
		return 0, false
	}
	return len(t.Shape), true
}

// gNeedRank returns the static rank of a value or an error naming it.
func gNeedRank(e GradEmitter, n *graph.Node, name string) (int, error) {
	r, ok := gRank(e, name)
	if !ok {
		return 0, Unsupported(n, "gradient needs the static rank of %q, which shape inference could not tell", name)
	}
	return r, nil
}

// gScalar returns a scalar constant of like's element type.
func gScalar(e GradEmitter, v float64, like string) string {
	if t, ok := e.Type(like); ok && t.DType.IsFloat() {
		return e.Const(tensor.ConvertFloat64s(t.DType, tensor.Shape{}, []float64{v}, false, 0))
	}
	return e.Op("CastLike", nil, e.Const(tensor.Scalar(v)), like)
}

// gInts adds a 1-D int64 constant.
func gInts(e GradEmitter, v ...int64) string {
	return e.Const(tensor.FromInt64s(tensor.Shape{len(v)}, v))
}

// gShape returns the run-time shape of a value.
func gShape(e GradEmitter, x string) string { return e.Op("Shape", nil, x) }

// gSameShape reports whether two values have the same known static shape.
func gSameShape(e GradEmitter, a, b string) bool {
	ta, oka := e.Type(a)
	tb, okb := e.Type(b)
	return oka && okb && ta.Static() && tb.Static() && tensor.Shape(ta.Shape).Equal(tb.Shape)
}

// gSumTo reduces a gradient dx (of a broadcast result's shape) to x's shape.
func gSumTo(e GradEmitter, dx, x string) string {
	if dx == "" || gSameShape(e, dx, x) {
		return dx
	}
	return e.OpN("kiln", "SumToShape", nil, 1, dx, gShape(e, x))[0]
}

// gMask casts a bool value to like's element type (1 where true).
func gMask(e GradEmitter, cond, like string) string {
	if t, ok := e.Type(like); ok && t.DType.IsFloat() {
		return e.Op("Cast", graph.Attrs{"to": int64(t.DType)}, cond)
	}
	return e.Op("CastLike", nil, cond, like)
}

// gMul, gAdd, gSub, gDiv, gNeg are elementwise shorthands.
func gMul(e GradEmitter, a, b string) string { return e.Op("Mul", nil, a, b) }
func gAdd(e GradEmitter, a, b string) string { return e.Op("Add", nil, a, b) }
func gSub(e GradEmitter, a, b string) string { return e.Op("Sub", nil, a, b) }
func gDiv(e GradEmitter, a, b string) string { return e.Op("Div", nil, a, b) }
func gNeg(e GradEmitter, a string) string    { return e.Op("Neg", nil, a) }

// gZerosLike returns zeros of x's run-time shape and element type.
func gZerosLike(e GradEmitter, x string) string {
	t, ok := e.Type(x)
	if !ok || t.DType == tensor.Undefined {
		z := e.Op("CastLike", nil, e.Const(tensor.Scalar(0.0)), x)
		return e.Op("Expand", nil, z, gShape(e, x))
	}
	dt := t.DType
	return e.Op("ConstantOfShape", graph.Attrs{"value": tensor.ConvertFloat64s(dt, tensor.Shape{1}, []float64{0}, false, 0)}, gShape(e, x))
}

// gDy returns the gradient flowing into output i, or zeros of that
// output's shape when it does not reach the loss.
func gDy(e GradEmitter, n *graph.Node, dy []string, i int) string {
	if i < len(dy) && dy[i] != "" {
		return dy[i]
	}
	return gZerosLike(e, n.Outputs[i])
}

// gPerm returns the inverse of a permutation.
func gInvPerm(p []int64) []int64 {
	inv := make([]int64, len(p))
	for i, v := range p {
		inv[v] = int64(i)
	}
	return inv
}

// gSwapLast returns the permutation of rank r that swaps the last two axes.
func gSwapLast(r int) []int64 {
	p := make([]int64, r)
	for i := range p {
		p[i] = int64(i)
	}
	p[r-1], p[r-2] = p[r-2], p[r-1]
	return p
}

// gErr formats a rule error.
func gErr(n *graph.Node, format string, args ...any) error {
	return Errorf(n, "gradient: %s", fmt.Sprintf(format, args...))
}
func scalarI64(v int64) *tensor.Tensor { return tensor.Scalar(v) }
