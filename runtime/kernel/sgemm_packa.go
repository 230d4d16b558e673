package kernel

// PackedA is an m x k left operand packed once into the micro-kernel's
// panel layout, for constant weights on the A side (a convolution's
// W [M, C*kh*kw] in Y = W x im2col(X)). It is immutable and may be shared
// by concurrent calls.
//
// Layout: k is cut into blocks of kc rows; block pc (starting at depth pc)
// begins at data[pc*mpad] and holds mpad/MR panels, each kc x MR floats,
// k-major (panel ir at offset ir*kc), with rows past m zero.
type PackedA struct {
	m, k, kc, mpad int
	data           []float32
}

// M returns the number of rows of the packed operand.
func (p *PackedA) M() int { return p.m }

// K returns the depth of the packed operand.
func (p *PackedA) K() int { return p.k }

// PackA packs op(A) (m x k; A stored m x k with lda >= k, or k x m with
// lda >= m when transA) for the packed-A drivers.
func PackA(transA bool, m, k int, a []float32, lda int) *PackedA {
	mpad := (m + mr - 1) / mr * mr
	p := &PackedA{m: m, k: k, kc: splitK(k), mpad: mpad, data: make([]float32, max(k, 1)*mpad)}
	for pc := 0; pc < k; pc += p.kc {
		kc := min(p.kc, k-pc)
		packA(p.data[pc*mpad:pc*mpad+kc*mpad], transA, a, lda, 0, m, pc, kc)
	}
	return p
}

// bSource produces blocks of a k x n right-hand operand in the
// micro-kernel's packed layout. Row p of the operand is b[offs[p]+j] for
// columns j when offs is set (the rows of a convolution's implicit im2col
// matrix are shifted windows of one buffer), else b[p*ldb+j]. It is a
// concrete type (not an interface) so that a caller's value on the stack
// does not escape.
type bSource struct {
	b    []float32
	ldb  int
	offs []int32
}

// pack writes depth [p0, p0+kc) and columns [j0, j0+nc) in panels of NR
// columns, k-major (dst[panel*kc*NR + p*NR + j]). With offs, the columns
// of the last panel past nc are read too (the caller leaves room for them
// in b) and hold anything: their results are discarded.
func (s *bSource) pack(dst []float32, p0, kc, j0, nc int) {
	if s.offs != nil {
		packShifted(dst, s.b, s.offs[p0:p0+kc], j0, nc)
		return
	}
	packB(dst, false, s.b, s.ldb, p0, kc, j0, nc)
}

// packShifted packs the panels of rows b[offs[p]+j0 : offs[p]+j0+nc].
func packShifted(dst, b []float32, offs []int32, j0, nc int) {
	kc := len(offs)
	for jr := 0; jr < nc; jr += nr {
		d := dst[jr*kc : jr*kc+kc*nr]
		base := j0 + jr
		for p, o := range offs {
			o := int(o) + base
			copy(d[p*nr:p*nr+nr], b[o:o+nr])
		}
	}
}

// gemmPA computes the columns [j0, j1) of C = A*B + beta*C for the packed
// A (rows [i0, i1), i0 a multiple of MR) and B produced by src, then
// applies ep (its row index is the row of A, so a per-row bias is indexed
// by A's row). C[i][j] is c[i*ldc + j - cj]: C holds rows of A from c[0]
// and B's columns from cj on. It runs on the calling goroutine with the
// workspace ws.
func gemmPA(ws *workspace, pa *PackedA, src *bSource, i0, i1, j0, j1 int, c []float32, ldc, cj int, beta float32, ep *Epilogue) {
	k, kc0 := pa.k, pa.kc
	if k == 0 {
		g := gemm{m: pa.m, beta: beta, c: c, ldc: ldc, ep: ep}
		g.scaleC(i0, i1, j0-cj, j1-cj)
		return
	}
	for jc := j0; jc < j1; jc += ncMax {
		nc := min(ncMax, j1-jc)
		for pc := 0; pc < k; pc += kc0 {
			kc := min(kc0, k-pc)
			src.pack(ws.b, pc, kc, jc, nc)
			bt := beta
			if pc > 0 {
				bt = 1
			}
			var e *Epilogue
			if pc+kc >= k {
				e = ep
			}
			ablk := pa.data[pc*pa.mpad:]
			for jr := 0; jr < nc; jr += nr {
				bp := ws.b[jr*kc : jr*kc+kc*nr]
				nn := min(nr, nc-jr)
				for ir := i0; ir < i1; ir += mr {
					ap := ablk[ir*kc : ir*kc+kc*mr]
					mm := min(mr, i1-ir)
					off := ir*ldc + jc + jr - cj
					if mm == mr && nn == nr {
						kernelTile(kc, ap, bp, c[off:], ldc, 1, bt, e, ir, jc+jr)
						continue
					}
					microKernel(kc, ap, bp, ws.tmp[:], nr, 1, 0)
					mergeEdge(c[off:], ldc, ws.tmp[:], mm, nn, bt)
					if e != nil {
						e.applyTile(c[off:], ldc, mm, nn, ir, jc+jr)
					}
				}
			}
		}
	}
}

// gemmPAImgs is gemmPA over nimg whole images: image im's B operand is
// what src produces with src.b advanced by im*srcStride (columns
// [0, cols)), and its C starts at c[im*cStride] (row stride ldc). The k
// blocks are the outer loop, so each block of packed A is reused by every
// image while it is in L2: a convolution of small images at batch > 1
// otherwise streams all its weights once per image. nimg*ceil(cols/NR)*NR
// columns must fit the B workspace (ncCap).
func gemmPAImgs(ws *workspace, pa *PackedA, src *bSource, nimg, srcStride, cols int, c []float32, ldc, cStride int, beta float32, ep *Epilogue) {
	k, kc0 := pa.k, pa.kc
	cpad := (cols + nr - 1) / nr * nr
	base := src.b
	defer func() { src.b = base }()
	for pc := 0; pc < k; pc += kc0 {
		kc := min(kc0, k-pc)
		for im := range nimg {
			src.b = base[im*srcStride:]
			src.pack(ws.b[im*kc*cpad:], pc, kc, 0, cols)
		}
		bt := beta
		if pc > 0 {
			bt = 1
		}
		var e *Epilogue
		if pc+kc >= k {
			e = ep
		}
		ablk := pa.data[pc*pa.mpad:]
		for im := range nimg {
			cm := c[im*cStride:]
			bim := ws.b[im*kc*cpad:]
			for jr := 0; jr < cols; jr += nr {
				bp := bim[jr*kc : jr*kc+kc*nr]
				nn := min(nr, cols-jr)
				for ir := 0; ir < pa.m; ir += mr {
					ap := ablk[ir*kc : ir*kc+kc*mr]
					mm := min(mr, pa.m-ir)
					off := ir*ldc + jr
					if mm == mr && nn == nr {
						kernelTile(kc, ap, bp, cm[off:], ldc, 1, bt, e, ir, jr)
						continue
					}
					microKernel(kc, ap, bp, ws.tmp[:], nr, 1, 0)
					mergeEdge(cm[off:], ldc, ws.tmp[:], mm, nn, bt)
					if e != nil {
						e.applyTile(cm[off:], ldc, mm, nn, ir, jr)
					}
				}
			}
		}
	}
}
