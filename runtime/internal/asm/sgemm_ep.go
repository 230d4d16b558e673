package asm

// Epilogue flags for EpRows and BiasActRow.
const (
	EpRowBias  = 1 << iota // add rowBias[r] to row r
	EpColBias              // add colBias[j] to column j
	EpClamp                // clamp to [lo, hi] (max, then min: Relu, Relu6, Clip)
	EpResidual             // BiasActRow: add z[j]
)

// EpRows applies the common GEMM epilogue to a block of C in place:
//
//	c[r*ldc+j] = clamp(c[r*ldc+j] + rowBias[r] + colBias[j])   r < rows, j < n
//
// each term only when its flag is set (rowBias and colBias may be nil
// otherwise). It panics if an operand is too short.
func EpRows(c []float32, ldc, rows, n int, rowBias, colBias []float32, lo, hi float32, flags int) {
	if rows <= 0 || n <= 0 {
		return
	}
	if len(c) < (rows-1)*ldc+n || flags&EpRowBias != 0 && len(rowBias) < rows || flags&EpColBias != 0 && len(colBias) < n {
		panic("asm: EpRows: short operand")
	}
	epRows(c, ldc, rows, n, rowBias, colBias, lo, hi, flags)
}

func epRowsGo(c []float32, ldc, rows, n int, rowBias, colBias []float32, lo, hi float32, flags int) {
	for r := range rows {
		row := c[r*ldc : r*ldc+n]
		if flags&EpRowBias != 0 {
			b := rowBias[r]
			for j := range row {
				row[j] += b
			}
		}
		if flags&EpColBias != 0 {
			for j, b := range colBias[:n] {
				row[j] += b
			}
		}
		if flags&EpClamp != 0 {
			for j, v := range row {
				row[j] = clampMaxMin(v, lo, hi)
			}
		}
	}
}

// clampMaxMin is min(max(v, lo), hi) with the x86 MAXPS/MINPS rule for
// NaN (the second operand is returned), so twin and assembly agree.
func clampMaxMin(v, lo, hi float32) float32 {
	if !(v > lo) {
		v = lo
	}
	if !(v < hi) {
		v = hi
	}
	return v
}

// BiasActRow sets dst[j] = clamp(src[j] + b + z[j]) for j < len(dst), the
// z term when flags has EpResidual and the clamp when it has EpClamp (see
// EpRows). dst may alias src. It panics if an operand is too short.
func BiasActRow(dst, src, z []float32, b, lo, hi float32, flags int) {
	n := len(dst)
	if n == 0 {
		return
	}
	if len(src) < n || flags&EpResidual != 0 && len(z) < n {
		panic("asm: BiasActRow: short operand")
	}
	biasActRow(dst, src, z, b, lo, hi, flags)
}

func biasActRowGo(dst, src, z []float32, b, lo, hi float32, flags int) {
	src = src[:len(dst)]
	if flags&EpResidual != 0 {
		z = z[:len(dst)]
		for j, v := range src {
			dst[j] = v + b + z[j]
		}
	} else {
		for j, v := range src {
			dst[j] = v + b
		}
	}
	if flags&EpClamp != 0 {
		for j, v := range dst {
			dst[j] = clampMaxMin(v, lo, hi)
		}
	}
}

// SgemmKernelEp is SgemmKernel followed by EpRows on the tile (rows
// Tile().mr, columns Tile().nr; rowBias holds mr values when flags has
// EpRowBias, colBias nr values when it has EpColBias), applied while the
// tile is still in registers where the CPU allows.
func SgemmKernelEp(k int, a, b, c []float32, ldc int, alpha, beta float32, rowBias, colBias []float32, lo, hi float32, flags int) {
	if k < 0 || len(a) < k*tileMR || len(b) < k*tileNR || len(c) < (tileMR-1)*ldc+tileNR || ldc < tileNR ||
		flags&EpRowBias != 0 && len(rowBias) < tileMR || flags&EpColBias != 0 && len(colBias) < tileNR {
		panic("asm: SgemmKernelEp: short operand")
	}
	sgemmKernelEp(k, a, b, c, ldc, alpha, beta, rowBias, colBias, lo, hi, flags)
}
