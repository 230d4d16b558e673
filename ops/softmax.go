package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Softmax computes exp(x - max) / sum(exp(x - max)) along axis (default -1)
// (ONNX Softmax-13). Opsets before 13 coerced the input to 2-D
// [prod(d[:axis]), prod(d[axis:])] (default axis 1) and normalized each row;
// the importer marks such nodes with the private attribute kiln_coerce_2d=1,
// which Softmax, LogSoftmax and Hardmax honour.
var Softmax = &Def{Name: "Softmax", Infer: InferSame(0), Kernel: nnSoftmaxKernel("softmax")}

// LogSoftmax is x - max - log(sum(exp(x - max))) along axis (ONNX
// LogSoftmax-13); see Softmax for kiln_coerce_2d.
var LogSoftmax = &Def{Name: "LogSoftmax", Infer: InferSame(0), Kernel: nnSoftmaxKernel("log")}

// Hardmax is 1 at the first maximum along axis and 0 elsewhere (ONNX
// Hardmax-13); see Softmax for kiln_coerce_2d.
var Hardmax = &Def{Name: "Hardmax", Infer: InferSame(0), Kernel: nnSoftmaxKernel("hard")}

func init() {
	Register(Softmax)
	Register(LogSoftmax)
	Register(Hardmax)
}

func nnSoftmaxKernel(kind string) func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, Errorf(n, "needs input")
		}
		x := in[0]
		if err := nnCheckFloat(n, x, "input"); err != nil {
			return nil, err
		}
		xs := x.Shape()
		ax, err := tensor.NormAxis(int(n.Attrs.Int("axis", -1)), len(xs))
		if err != nil {
			return nil, Errorf(n, "%v", err)
		}
		sh := xs
		if len(xs) == 0 {
			sh = tensor.Shape{1}
		}
		if n.Attrs.Int("kiln_coerce_2d", 0) != 0 {
			sh = tensor.Shape{nnProd(xs[:ax]), nnProd(xs[ax:])}
			ax = 1
		}
		xv := x.Float64s()
		res := make([]float64, len(xv))
		nnAxisIter(sh, ax, func(base, st, d int) {
			if d == 0 {
				return
			}
			m, at := math.Inf(-1), 0
			for j := 0; j < d; j++ {
				if v := xv[base+j*st]; v > m {
					m, at = v, j
				}
			}
			if kind == "hard" {
				res[base+at*st] = 1
				return
			}
			s := 0.0
			for j := 0; j < d; j++ {
				e := math.Exp(xv[base+j*st] - m)
				res[base+j*st] = e
				s += e
			}
			for j := 0; j < d; j++ {
				if kind == "log" {
					res[base+j*st] = xv[base+j*st] - m - math.Log(s)
				} else {
					res[base+j*st] /= s
				}
			}
		})
		return []*tensor.Tensor{nnOut(x.DType(), xs, res)}, nil
	}
}
