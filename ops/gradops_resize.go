package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ResizeGrad is the adjoint of Resize with respect to X (kiln:ResizeGrad).
// Inputs: dY, the input shape S (1-D int64), and Resize's roi, scales and
// sizes (optional, as in Resize); attributes are the forward node's.
// Resize is linear in X: Y[o] = sum over taps t of w_t(o)·X[i_t(o)]. The
// output dX of shape S is its transpose, dX[i] = sum over (o, t) with
// i_t(o) = i of w_t(o)·dY[o]: each dY element is scattered back onto the
// input points it was interpolated from, and taps that hit the same point
// (nearest upsampling, clamped edges) add up. Outputs that took
// extrapolation_value (tf_crop_and_resize) contribute nothing. The geometry
// is resolved by the same code as the forward kernel, so every mode,
// coordinate_transformation_mode, nearest_mode, antialias and
// exclude_outside setting is covered.
var ResizeGrad = &Def{Name: "ResizeGrad", Domain: "kiln", Infer: gradInferToShape(1), Kernel: gradResizeKernel}

func init() { Register(ResizeGrad) }

func gradResizeKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil {
		return nil, Errorf(n, "needs inputs dY and the input shape")
	}
	dy := in[0]
	if !dy.DType().IsFloat() {
		return nil, Errorf(n, "dY must be a float tensor, got %v", dy.DType())
	}
	xs, err := gradShapeInput(n, in[1])
	if err != nil {
		return nil, err
	}
	// nnResizeTaps reads roi, scales and sizes at Resize's positions 1..3.
	out, taps, err := nnResizeTaps(n, []int(xs), append([]*tensor.Tensor{nil}, in[2:]...))
	if err != nil {
		return nil, err
	}
	if !tensor.Shape(out).Equal(dy.Shape()) {
		return nil, Errorf(n, "dY has shape %v, want Resize's output shape %v", dy.Shape(), out)
	}
	dv := dy.Float64s()
	res := make([]float64, xs.Size())
	nnResizeWalk(out, taps, xs.Strides(),
		func(o, off int, w float64) { res[off] += w * dv[o] },
		func(int) {})
	return []*tensor.Tensor{nnOut(dy.DType(), xs, res)}, nil
}
