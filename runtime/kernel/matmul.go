package kernel

import (
	"github.com/kiln-ml/kiln/ops/tensor"
)

// float32 MatMul (numpy.matmul semantics, ONNX MatMul) on the packed
// SGEMM:
//   - a constant 2-D B (a Dense layer's weights) is packed once; A's batch
//     axes fold into its rows, so the whole product is one SgemmPacked call
//     (a single row runs the GEMV path);
//   - otherwise (both operands computed, e.g. attention's Q x K^T and
//     P x V) one SGEMM per broadcast batch entry, with batch offsets
//     resolved at plan time; batches are split over the workers, or each
//     product is when there are fewer batches than workers. When B does
//     not vary over the batch and A does, the batch folds into A's rows.
//
// A 1-D operand is read as numpy does ([1, K] or [K, 1]).
type matMul struct {
	m, k, n    int
	rows       int // folded rows (pb or fold)
	pb         *PackedB
	fold       bool  // B has no batch: one GEMM over rows = batch*m
	aOff, bOff []int // per output batch entry
	ep         Epilogue
	hasEp      bool
	parts      int
}

func init() {
	Register("", "MatMul", "MatMul/f32", 10, func(s *Spec) Kernel { return newMatMul(s, Epilogue{}) })
}

// newMatMul makes the kernel for a MatMul-like node (inputs A, B and, for
// kiln FusedMatMul, an optional constant bias broadcasting along N) with
// ep's activation, or nil when it does not apply.
func newMatMul(s *Spec, ep Epilogue) Kernel {
	if len(s.In) < 2 || len(s.Out) != 1 || s.In[0].DType != tensor.Float32 || s.In[1].DType != tensor.Float32 || s.Out[0].DType != tensor.Float32 {
		return nil
	}
	as, bs := []int(s.In[0].Shape), []int(s.In[1].Shape)
	if len(as) == 0 || len(bs) == 0 {
		return nil
	}
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	if bs[len(bs)-2] != k {
		return nil
	}
	batch, err := tensor.Broadcast(tensor.Shape(as[:len(as)-2]), tensor.Shape(bs[:len(bs)-2]))
	if err != nil || batch.Size()*m*n != s.Out[0].Shape.Size() {
		return nil
	}
	km := &matMul{m: m, k: k, n: n, ep: ep}
	if len(s.In) > 2 && s.In[2].DType != tensor.Undefined {
		// FusedMatMul's bias: constant, broadcasting along N only.
		b := s.In[2]
		if b.DType != tensor.Float32 || b.Const == nil || b.Shape.Size() != n || (len(b.Shape) > 0 && int(b.Shape[len(b.Shape)-1]) != n) {
			return nil
		}
		km.ep.Bias = b.Const.F32()
	}
	km.hasEp = km.ep.Bias != nil || km.ep.Act != ActNone
	bBatch := tensor.Shape(bs[:len(bs)-2]).Size()
	aBatch := tensor.Shape(as[:len(as)-2]).Size()
	nb := batch.Size()
	switch {
	case s.In[1].Const != nil && bBatch == 1 && n > 1:
		km.pb = s.PackB(1, false, k, n, s.In[1].Const.F32(), n)
		km.rows = nb * m
		if aBatch != nb {
			return nil // A broadcast over a batch only B has: cannot be
		}
	case bBatch == 1 && aBatch == nb:
		km.fold = true
		km.rows = nb * m
	default:
		ia := tensor.BroadcastIndex(tensor.Shape(as[:len(as)-2]), batch)
		ib := tensor.BroadcastIndex(tensor.Shape(bs[:len(bs)-2]), batch)
		km.aOff = make([]int, nb)
		km.bOff = make([]int, nb)
		for i := range nb {
			km.aOff[i] = ia[i] * m * k
			km.bOff[i] = ib[i] * k * n
		}
		km.parts = max(min(s.Threads, nb), 1)
	}
	return km
}

func (km *matMul) epilogue() *Epilogue {
	if km.hasEp {
		return &km.ep
	}
	return nil
}

func (km *matMul) Run(env *Env, in, out []*tensor.Tensor) {
	var pool Pool
	if env != nil && env.Pool != nil {
		pool = env.Pool
	}
	a, y := in[0].F32(), out[0].F32()
	switch {
	case km.pb != nil:
		SgemmPacked(pool, false, km.rows, 1, a, km.k, km.pb, 0, y, km.n, km.epilogue())
	case km.fold:
		SgemmParallel(pool, false, false, km.rows, km.n, km.k, 1, a, km.k, in[1].F32(), km.n, 0, y, km.n, km.epilogue())
	case km.parts > 1 && pool != nil && len(km.aOff) >= 2*km.parts:
		env.Pool.ParallelTask(km.parts, km, in, out)
	default:
		b := in[1].F32()
		for i := range km.aOff {
			SgemmParallel(pool, false, false, km.m, km.n, km.k, 1, a[km.aOff[i]:], km.k, b[km.bOff[i]:], km.n, 0, y[i*km.m*km.n:], km.n, km.epilogue())
		}
	}
}

// RunPart runs the batch entries of part i on the calling goroutine (Task).
func (km *matMul) RunPart(i int, in, out []*tensor.Tensor) {
	a, b, y := in[0].F32(), in[1].F32(), out[0].F32()
	nb := len(km.aOff)
	for e := nb * i / km.parts; e < nb*(i+1)/km.parts; e++ {
		SgemmParallel(nil, false, false, km.m, km.n, km.k, 1, a[km.aOff[e]:], km.k, b[km.bOff[e]:], km.n, 0, y[e*km.m*km.n:], km.n, km.epilogue())
	}
}
