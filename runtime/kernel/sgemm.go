// Package kernel holds kiln's fast CPU kernels: the packed SGEMM that
// MatMul, Gemm and Conv (through im2col) run on, its epilogues, the worker
// pool that parallelizes them, and vectorized elementwise helpers. Kernels
// trust their inputs: shapes are checked once, when a program is compiled.
package kernel

import (
	"os"
	"strconv"
	"sync"

	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// Cache blocking for AMD Zen 4 (32 KB L1d, 1 MB L2 per core), BLIS order:
// a KC x NC block of B is packed once per (jc, pc) and stays in L2/L3, an
// MC x KC block of A is packed per ic and stays in L2, and one KC x NR
// micro-panel of B (16 KB at KC=256) stays in L1 while the micro-kernel
// sweeps the MR-row panels of A over it.
//
// The micro-tile (mr x nr) is the active micro-kernel's: 8x32 with
// AVX-512, 6x16 with AVX2 or in Go.
var mr, nr = asm.Tile()

// kcMax bounds the depth of a packed block; k is split into equal blocks
// of at most kcMax so that no block is a thin remainder. A kc x nr
// micro-panel of B takes half of L1 or less (24 KB at 192 x 32, 16 KB at
// 256 x 16). mcMax (a multiple of 6 and 8) bounds an A block (240 x 192 x 4
// B = 180 KB of L2) and ncMax (a multiple of 16 and 32) a B block (384 KB),
// so both stay in the 1 MB L2. The KILN_KC, KILN_MC and KILN_NC
// environment variables override them for tuning (at most kcCap, mcCap,
// ncCap).
var (
	kcMax = min(envInt("KILN_KC", defaultKC()), kcCap)
	mcMax = min(max(envInt("KILN_MC", 240)/24*24, 24), mcCap)
	ncMax = min(max(envInt("KILN_NC", 512)/32*32, 32), ncCap)
)

// Workspace capacities: the largest blocks the overrides may ask for.
const (
	kcCap = 384
	mcCap = 480
	ncCap = 2048
)

func defaultKC() int {
	if nr >= 32 {
		return 192
	}
	return 256
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices,
// with the semantics of BLAS sgemm (cblas_sgemm with CblasRowMajor):
// op(A) is m x k, op(B) is k x n, C is m x n with row stride ldc;
// op(X) = X, or X transposed when transX is set, so A is stored m x k
// (lda >= k) or k x m (lda >= m), and B k x n (ldb >= n) or n x k (ldb >= k).
// When beta == 0, C is not read; when alpha == 0 or k == 0, A and B are
// not read. It runs on the calling goroutine and does not allocate in
// steady state (packing buffers come from a sync.Pool).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := gemm{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	g.kc = splitK(k)
	g.runAll(nil)
}

// SgemmParallel is Sgemm with an epilogue (nil for none) and the work split
// over the workers of pool (nil: the calling goroutine only). It splits the
// larger of m and n into blocks aligned to the micro-tile; each worker
// packs its own operands.
func SgemmParallel(pool Pool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ep *Epilogue) {
	g := gemm{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, ep: ep}
	g.kc = splitK(k)
	g.runAll(pool)
}

// PackedB is a k x n right-hand operand packed once into the micro-kernel's
// panel layout, for constant weights. It is immutable and may be shared by
// concurrent calls.
//
// Layout: k is cut into blocks of kc rows; block pc (starting at row pc)
// begins at data[pc*npad] and holds npad/NR panels, each kc x NR floats,
// k-major, with columns past n zero.
type PackedB struct {
	k, n, kc, npad int
	data           []float32
}

// K and N return the packed operand's dimensions.
func (p *PackedB) K() int { return p.k }

// N returns the number of columns of the packed operand.
func (p *PackedB) N() int { return p.n }

// PackB packs op(B) (k x n; B stored k x n with ldb >= n, or n x k with
// ldb >= k when transB) for SgemmPacked.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	npad := (n + nr - 1) / nr * nr
	p := &PackedB{k: k, n: n, kc: splitK(k), npad: npad, data: make([]float32, k*npad)}
	for pc := 0; pc < k; pc += p.kc {
		kc := min(p.kc, k-pc)
		packB(p.data[pc*npad:pc*npad+kc*npad], transB, b, ldb, pc, kc, 0, n)
	}
	return p
}

// SgemmPacked computes C = alpha*op(A)*B + beta*C, then applies ep (nil for
// none), with B packed by PackB: op(A) is m x pb.K(), C is m x pb.N(). A,
// C, alpha and beta are as for Sgemm. pool may be nil (calling goroutine
// only). It does not allocate in steady state. A single row (m = 1, a
// matrix-vector product) runs on a GEMV path that streams B once.
func SgemmPacked(pool Pool, transA bool, m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int, ep *Epilogue) {
	if m == 1 && !transA && alpha != 0 && pb.k > 0 && pb.n > 0 {
		runGemv(pool, a[:pb.k], pb, alpha, beta, c[:pb.n], ep)
		return
	}
	g := gemm{transA: transA, m: m, n: pb.n, k: pb.k, alpha: alpha, a: a, lda: lda, pb: pb, beta: beta, c: c, ldc: ldc, ep: ep}
	g.kc = pb.kc
	g.runAll(pool)
}

// splitK returns the block depth: k cut into equal blocks of at most kcMax.
func splitK(k int) int {
	if k <= kcMax {
		return max(k, 1)
	}
	nb := (k + kcMax - 1) / kcMax
	return (k + nb - 1) / nb
}

// gemm is one call's arguments.
type gemm struct {
	transA, transB bool
	m, n, k, kc    int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	pb             *PackedB
	c              []float32
	ldc            int
	ep             *Epilogue
}

// workspace is one goroutine's packing buffers.
type workspace struct {
	a   []float32 // mcMax x kcMax
	b   []float32 // kcMax x ncMax
	tmp [asm.MaxMR * asm.MaxNR]float32
}

var workspaces = sync.Pool{New: func() any {
	return &workspace{a: make([]float32, mcCap*kcCap), b: make([]float32, kcCap*ncCap)}
}}

// runAll runs the whole call, split over pool's workers.
func (g *gemm) runAll(pool Pool) {
	if g.m <= 0 || g.n <= 0 {
		return
	}
	if g.k == 0 || g.alpha == 0 {
		g.scaleC(0, g.m, 0, g.n)
		return
	}
	parts := 1
	if pool != nil {
		parts = workers(pool)
	}
	// Do not split below about one micro-tile row/col block per worker
	// or work of less than ~64 K multiply-adds each.
	if w := g.m * g.n * g.k / (1 << 16); w < parts {
		parts = max(w, 1)
	}
	if parts <= 1 {
		ws := workspaces.Get().(*workspace)
		g.run(ws, 0, g.m, 0, g.n)
		workspaces.Put(ws)
		return
	}
	j := jobs.Get().(*job)
	j.g = *g
	j.parts = parts
	// Split the larger dimension, in units of the tile on that side.
	j.splitN = g.n >= g.m
	pool.Parallel(parts, j.fn)
	j.g = gemm{}
	jobs.Put(j)
}

// job carries a parallel call's state; fn is bound once, when the job is
// made, so Parallel can be called without allocating a closure.
type job struct {
	g      gemm
	parts  int
	splitN bool
	fn     func(i int)
}

var jobs = sync.Pool{New: func() any {
	j := &job{}
	j.fn = j.part
	return j
}}

// part runs slice i of parts of the job.
func (j *job) part(i int) {
	g := &j.g
	unit, total := mr, g.m
	if j.splitN {
		unit, total = nr, g.n
	}
	units := (total + unit - 1) / unit
	lo := units * i / j.parts * unit
	hi := min(units*(i+1)/j.parts*unit, total)
	if lo >= hi {
		return
	}
	ws := workspaces.Get().(*workspace)
	if j.splitN {
		g.run(ws, 0, g.m, lo, hi)
	} else {
		g.run(ws, lo, hi, 0, g.n)
	}
	workspaces.Put(ws)
}

// scaleC sets C = beta*C (0 when beta == 0, without reading C) on the
// block and applies the epilogue: the alpha == 0 or k == 0 case.
func (g *gemm) scaleC(i0, i1, j0, j1 int) {
	for i := i0; i < i1; i++ {
		row := g.c[i*g.ldc+j0 : i*g.ldc+j1]
		if g.beta == 0 {
			clear(row)
		} else if g.beta != 1 {
			for j := range row {
				row[j] *= g.beta
			}
		}
		if g.ep != nil {
			g.ep.applyRow(row, i, j0)
		}
	}
}

// run computes the block C[i0:i1, j0:j1]; j0 is a multiple of nr.
func (g *gemm) run(ws *workspace, i0, i1, j0, j1 int) {
	k, kc0, c, ldc := g.k, g.kc, g.c, g.ldc
	for jc := j0; jc < j1; jc += ncMax {
		nc := min(ncMax, j1-jc)
		for pc := 0; pc < k; pc += kc0 {
			kc := min(kc0, k-pc)
			var bblk []float32
			if g.pb != nil {
				bblk = g.pb.data[pc*g.pb.npad+jc*kc:]
			} else {
				packB(ws.b, g.transB, g.b, g.ldb, pc, kc, jc, nc)
				bblk = ws.b
			}
			beta := g.beta
			if pc > 0 {
				beta = 1
			}
			var ep *Epilogue
			if pc+kc >= k {
				ep = g.ep
			}
			for ic := i0; ic < i1; ic += mcMax {
				mc := min(mcMax, i1-ic)
				packA(ws.a, g.transA, g.a, g.lda, ic, mc, pc, kc)
				for jr := 0; jr < nc; jr += nr {
					bp := bblk[jr*kc : jr*kc+kc*nr]
					nn := min(nr, nc-jr)
					for ir := 0; ir < mc; ir += mr {
						ap := ws.a[ir*kc : ir*kc+kc*mr]
						mm := min(mr, mc-ir)
						off := (ic+ir)*ldc + jc + jr
						if mm == mr && nn == nr {
							kernelTile(kc, ap, bp, c[off:], ldc, g.alpha, beta, ep, ic+ir, jc+jr)
							continue
						}
						microKernel(kc, ap, bp, ws.tmp[:], nr, g.alpha, 0)
						mergeEdge(c[off:], ldc, ws.tmp[:], mm, nn, beta)
						if ep != nil {
							ep.applyTile(c[off:], ldc, mm, nn, ic+ir, jc+jr)
						}
					}
				}
			}
		}
	}
}

// mergeEdge writes the mm x nn corner of an edge tile: C = t + beta*C.
func mergeEdge(c []float32, ldc int, t []float32, mm, nn int, beta float32) {
	for i := 0; i < mm; i++ {
		row := c[i*ldc : i*ldc+nn]
		src := t[i*nr : i*nr+nn]
		switch beta {
		case 0:
			copy(row, src)
		case 1:
			for j := range row {
				row[j] += src[j]
			}
		default:
			for j := range row {
				row[j] = src[j] + beta*row[j]
			}
		}
	}
}

// packA packs rows [i0, i0+mc) and depth [p0, p0+kc) of op(A) into panels
// of mr rows, k-major (dst[panel*kc*mr + p*mr + i]), zero-padding the last
// panel to mr rows.
func packA(dst []float32, trans bool, a []float32, lda, i0, mc, p0, kc int) {
	for ir := 0; ir < mc; ir += mr {
		d := dst[ir*kc : ir*kc+kc*mr]
		mm := min(mr, mc-ir)
		if trans {
			// op(A)[i][p] = a[p*lda+i]: mr contiguous values per p.
			base := p0*lda + i0 + ir
			if mm == mr {
				for p := 0; p < kc; p++ {
					s := a[base+p*lda : base+p*lda+mr]
					copy(d[p*mr:p*mr+mr], s)
				}
			} else {
				for p := 0; p < kc; p++ {
					dp := d[p*mr : p*mr+mr]
					clear(dp)
					copy(dp, a[base+p*lda:base+p*lda+mm])
				}
			}
			continue
		}
		// op(A)[i][p] = a[i*lda+p]: gather one value from each row.
		r := i0 + ir
		if mm == 8 && mr == 8 {
			r0 := a[r*lda+p0 : r*lda+p0+kc]
			r1 := a[(r+1)*lda+p0 : (r+1)*lda+p0+kc]
			r2 := a[(r+2)*lda+p0 : (r+2)*lda+p0+kc]
			r3 := a[(r+3)*lda+p0 : (r+3)*lda+p0+kc]
			r4 := a[(r+4)*lda+p0 : (r+4)*lda+p0+kc]
			r5 := a[(r+5)*lda+p0 : (r+5)*lda+p0+kc]
			r6 := a[(r+6)*lda+p0 : (r+6)*lda+p0+kc]
			r7 := a[(r+7)*lda+p0 : (r+7)*lda+p0+kc]
			for p := range r0 {
				dp := (*[8]float32)(d[p*8 : p*8+8])
				dp[0], dp[1], dp[2], dp[3] = r0[p], r1[p], r2[p], r3[p]
				dp[4], dp[5], dp[6], dp[7] = r4[p], r5[p], r6[p], r7[p]
			}
			continue
		}
		if mm == 6 && mr == 6 {
			r0 := a[r*lda+p0 : r*lda+p0+kc]
			r1 := a[(r+1)*lda+p0 : (r+1)*lda+p0+kc]
			r2 := a[(r+2)*lda+p0 : (r+2)*lda+p0+kc]
			r3 := a[(r+3)*lda+p0 : (r+3)*lda+p0+kc]
			r4 := a[(r+4)*lda+p0 : (r+4)*lda+p0+kc]
			r5 := a[(r+5)*lda+p0 : (r+5)*lda+p0+kc]
			for p := range r0 {
				dp := (*[6]float32)(d[p*6 : p*6+6])
				dp[0], dp[1], dp[2], dp[3], dp[4], dp[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			}
			continue
		}
		if mm < mr {
			clear(d)
		}
		for i := 0; i < mm; i++ {
			row := a[(r+i)*lda+p0 : (r+i)*lda+p0+kc]
			for p, v := range row {
				d[p*mr+i] = v
			}
		}
	}
}

// packB packs depth [p0, p0+kc) and columns [j0, j0+nc) of op(B) into
// panels of nr columns, k-major (dst[panel*kc*nr + p*nr + j]),
// zero-padding the last panel to nr columns.
func packB(dst []float32, trans bool, b []float32, ldb, p0, kc, j0, nc int) {
	for jr := 0; jr < nc; jr += nr {
		d := dst[jr*kc : jr*kc+kc*nr]
		nn := min(nr, nc-jr)
		if !trans {
			// op(B)[p][j] = b[p*ldb+j]: nr contiguous values per p.
			base := p0*ldb + j0 + jr
			if nn == nr {
				for p := 0; p < kc; p++ {
					copy(d[p*nr:p*nr+nr], b[base+p*ldb:base+p*ldb+nr])
				}
			} else {
				for p := 0; p < kc; p++ {
					dp := d[p*nr : p*nr+nr]
					clear(dp[nn:])
					copy(dp, b[base+p*ldb:base+p*ldb+nn])
				}
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: gather one value from each of nn rows.
		if nn < nr {
			clear(d)
		}
		for j := 0; j < nn; j++ {
			r := j0 + jr + j
			row := b[r*ldb+p0 : r*ldb+p0+kc]
			for p, v := range row {
				d[p*nr+j] = v
			}
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
