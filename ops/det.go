package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Det is the determinant of square matrices (ONNX Det-22): X [..., M, M]
// gives [...]. Computed by LU decomposition with partial pivoting in
// float64 and rounded to the input's float type.
var Det = &Def{Name: "Det", Infer: rdDetInfer, Kernel: rdDetKernel}

func init() { Register(Det) }

func rdDetInfer(ic *InferContext) ([]graph.Type, error) {
	if len(ic.In) < 1 {
		return nil, ic.Errorf("needs an input")
	}
	x := ic.In[0]
	if x.Unranked {
		return []graph.Type{x}, nil
	}
	r := len(x.Shape)
	if r < 2 {
		return nil, ic.Errorf("input must have rank >= 2, got %v", x)
	}
	if a, b := x.Shape[r-2], x.Shape[r-1]; a >= 0 && b >= 0 && a != b {
		return nil, ic.Errorf("input matrices must be square, got %v", x)
	}
	return []graph.Type{graph.TensorType(x.DType, x.Shape[:r-2]...)}, nil
}

func rdDetKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	X := rdGet(in, 0)
	if X == nil || !X.DType().IsFloat() {
		return nil, Errorf(n, "input must be a float tensor")
	}
	s := X.Shape()
	r := len(s)
	if r < 2 || s[r-1] != s[r-2] {
		return nil, Errorf(n, "input must be [..., M, M], got %v", s)
	}
	m := s[r-1]
	x := X.Float64s()
	batch := tensor.Shape(s[:r-2]).Size()
	out := make([]float64, batch)
	a := make([]float64, m*m)
	for bi := 0; bi < batch; bi++ {
		copy(a, x[bi*m*m:(bi+1)*m*m])
		det := 1.0
		for c := 0; c < m; c++ {
			p := c
			for i := c + 1; i < m; i++ {
				if math.Abs(a[i*m+c]) > math.Abs(a[p*m+c]) {
					p = i
				}
			}
			if a[p*m+c] == 0 {
				det = 0
				break
			}
			if p != c {
				for j := 0; j < m; j++ {
					a[c*m+j], a[p*m+j] = a[p*m+j], a[c*m+j]
				}
				det = -det
			}
			piv := a[c*m+c]
			det *= piv
			for i := c + 1; i < m; i++ {
				f := a[i*m+c] / piv
				for j := c; j < m; j++ {
					a[i*m+j] -= f * a[c*m+j]
				}
			}
		}
		out[bi] = det
	}
	return []*tensor.Tensor{tensor.FromFloat64s(X.DType(), tensor.Shape(s[:r-2]).Clone(), out)}, nil
}
