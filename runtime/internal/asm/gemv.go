package asm

// SgemvAcc computes c[j] += sum_{p<k} x[p]*b[p*ldb+j] for j < len(c): a row
// vector times a k x len(c) row-major matrix with row stride ldb,
// accumulated into c. It is the recurrent step of LSTM/GRU at batch 1,
// where packing B for a GEMM micro-kernel would waste most of the tile.
// It panics if x or b is too short.
func SgemvAcc(x, b []float32, ldb int, c []float32) {
	k, n := len(x), len(c)
	if k == 0 || n == 0 {
		return
	}
	if ldb < n || len(b) < (k-1)*ldb+n {
		panic("asm: SgemvAcc: short operand")
	}
	sgemvAcc(x, b, ldb, c)
}

// sgemvAccGo is SgemvAcc's pure-Go twin.
func sgemvAccGo(x, b []float32, ldb int, c []float32) {
	n := len(c)
	for p, xv := range x {
		row := b[p*ldb : p*ldb+n]
		for j, bv := range row {
			c[j] += xv * bv
		}
	}
}
