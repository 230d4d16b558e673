package asm

// SgemmKernel computes one mr x nr tile (mr, nr = Tile()) of C from a packed A panel and a
// packed B panel:
//
//	acc[i][j] = sum_{p<k} a[p*MR+i] * b[p*NR+j]
//	C[i*ldc+j] = alpha*acc[i][j]                    (beta == 0)
//	C[i*ldc+j] = alpha*acc[i][j] + beta*C[i*ldc+j]  (otherwise)
//
// for i < mr, j < nr. With beta == 0, C is not read (NaNs in C do not
// propagate), as in BLAS. a holds k*mr floats (A panel, k-major), b holds
// k*nr floats (B panel, k-major). It panics if a, b or c is too short.
func SgemmKernel(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	if k < 0 || len(a) < k*tileMR || len(b) < k*tileNR || len(c) < (tileMR-1)*ldc+tileNR || ldc < tileNR {
		panic("asm: SgemmKernel: short operand")
	}
	sgemmKernel(k, a, b, c, ldc, alpha, beta)
}

// sgemmKernelGo is SgemmKernel's pure-Go twin for an mr x nr tile
// (mr <= MaxMR, nr <= MaxNR).
func sgemmKernelGo(mr, nr, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var acc [MaxMR][MaxNR]float32
	a = a[:k*mr]
	b = b[:k*nr]
	for p := 0; p < k; p++ {
		ap := a[p*mr : p*mr+mr]
		bp := b[p*nr : p*nr+nr]
		for i, ai := range ap {
			row := acc[i][:len(bp)]
			for j, bv := range bp {
				row[j] += ai * bv
			}
		}
	}
	for i := 0; i < mr; i++ {
		row := c[i*ldc : i*ldc+nr]
		if beta == 0 {
			for j := range row {
				row[j] = alpha * acc[i][j]
			}
		} else {
			for j := range row {
				row[j] = alpha*acc[i][j] + beta*row[j]
			}
		}
	}
}
