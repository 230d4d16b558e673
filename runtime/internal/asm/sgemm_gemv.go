package asm

// SgemvPanel adds one packed B panel's product with a row vector to c:
//
//	c[j] += sum_{p<k} a[p] * b[p*NR+j]   for j < NR
//
// where NR is Tile()'s nr and b is a k x NR panel, k-major (the layout of
// one panel of a packed SGEMM B operand). It is the m = 1 (matrix-vector)
// case of the SGEMM, which the MR-row micro-kernel would run at 1/MR of
// its rate. It panics if a, b or c is too short.
func SgemvPanel(k int, a, b, c []float32) {
	if k < 0 || len(a) < k || len(b) < k*tileNR || len(c) < tileNR {
		panic("asm: SgemvPanel: short operand")
	}
	if k == 0 {
		return
	}
	sgemvPanel(k, a, b, c)
}

// sgemvPanelGo is SgemvPanel's pure-Go twin for a panel nr wide.
func sgemvPanelGo(nr, k int, a, b, c []float32) {
	c = c[:nr]
	for p, av := range a[:k] {
		bp := b[p*nr : p*nr+nr]
		for j, bv := range bp {
			c[j] += av * bv
		}
	}
}
