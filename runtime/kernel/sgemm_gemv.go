package kernel

import (
	"sync"

	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// gemvPacked computes the panels [p0, p1) of the row vector
// c = alpha*a*B + beta*c (B packed, a of length pb.k, c of length pb.n),
// then applies ep: the m = 1 case of SgemmPacked, where the MR-row
// micro-kernel would waste MR-1 of its rows. Each panel streams its B
// columns once through asm.SgemvPanel.
func gemvPacked(a []float32, pb *PackedB, alpha, beta float32, c []float32, ep *Epilogue, p0, p1 int) {
	var acc [asm.MaxNR]float32
	for jr := p0 * nr; jr < min(p1*nr, pb.n); jr += nr {
		t := acc[:nr]
		clear(t)
		for pc := 0; pc < pb.k; pc += pb.kc {
			kc := min(pb.kc, pb.k-pc)
			asm.SgemvPanel(kc, a[pc:pc+kc], pb.data[pc*pb.npad+jr*kc:pc*pb.npad+jr*kc+kc*nr], t)
		}
		row := c[jr:min(jr+nr, pb.n)]
		switch {
		case beta == 0:
			for j := range row {
				row[j] = alpha * t[j]
			}
		case beta == 1 && alpha == 1:
			for j := range row {
				row[j] += t[j]
			}
		default:
			for j := range row {
				row[j] = alpha*t[j] + beta*row[j]
			}
		}
		if ep != nil {
			ep.applyRow(row, 0, jr)
		}
	}
}

// gemvJob is a parallel gemvPacked call; fn is bound once so Parallel is
// called without allocating.
type gemvJob struct {
	a           []float32
	pb          *PackedB
	alpha, beta float32
	c           []float32
	ep          *Epilogue
	parts       int
	fn          func(i int)
}

var gemvJobs = sync.Pool{New: func() any {
	j := &gemvJob{}
	j.fn = j.part
	return j
}}

func (j *gemvJob) part(i int) {
	np := (j.pb.n + nr - 1) / nr
	gemvPacked(j.a, j.pb, j.alpha, j.beta, j.c, j.ep, np*i/j.parts, np*(i+1)/j.parts)
}

// runGemv runs gemvPacked over all panels, split over pool's workers when
// B is big enough to share.
func runGemv(pool Pool, a []float32, pb *PackedB, alpha, beta float32, c []float32, ep *Epilogue) {
	np := (pb.n + nr - 1) / nr
	parts := 1
	if pool != nil {
		parts = min(workers(pool), np, pb.k*pb.n/(1<<16))
	}
	if parts <= 1 {
		gemvPacked(a, pb, alpha, beta, c, ep, 0, np)
		return
	}
	j := gemvJobs.Get().(*gemvJob)
	j.a, j.pb, j.alpha, j.beta, j.c, j.ep, j.parts = a, pb, alpha, beta, c, ep, parts
	pool.Parallel(parts, j.fn)
	j.a, j.pb, j.c, j.ep = nil, nil, nil, nil
	gemvJobs.Put(j)
}
