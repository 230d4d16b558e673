package asm

// SgemmKernel computes one MR x NR tile of C from a packed A panel and a
// packed B panel:
//
//	acc[i][j] = sum_{p<k} a[p*MR+i] * b[p*NR+j]
//	C[i*ldc+j] = alpha*acc[i][j]                    (beta == 0)
//	C[i*ldc+j] = alpha*acc[i][j] + beta*C[i*ldc+j]  (otherwise)
//
// for i < MR, j < NR. With beta == 0, C is not read (NaNs in C do not
// propagate), as in BLAS. a holds k*MR floats (A panel, k-major), b holds
// k*NR floats (B panel, k-major). It panics if a, b or c is too short.
func SgemmKernel(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	if k < 0 || len(a) < k*MR || len(b) < k*NR || len(c) < (MR-1)*ldc+NR || ldc < NR {
		panic("asm: SgemmKernel: short operand")
	}
	sgemmKernel(k, a, b, c, ldc, alpha, beta)
}

// sgemmKernelGo is SgemmKernel's pure-Go twin.
func sgemmKernelGo(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var acc [MR][NR]float32
	a = a[:k*MR]
	b = b[:k*NR]
	for p := 0; p < k; p++ {
		ap := a[p*MR : p*MR+MR : p*MR+MR]
		bp := (*[NR]float32)(b[p*NR : p*NR+NR])
		for i := 0; i < MR; i++ {
			ai := ap[i]
			row := &acc[i]
			for j := 0; j < NR; j++ {
				row[j] += ai * bp[j]
			}
		}
	}
	for i := 0; i < MR; i++ {
		row := c[i*ldc : i*ldc+NR : i*ldc+NR]
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
