package asm

import (
	"math/rand/v2"
	"testing"
)

// TestEpilogues checks EpRows and BiasActRow (whichever implementation init
// chose) against their Go twins, which compute the same float32 sums in
// the same order, so results must be equal.
func TestEpilogues(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{1, 5, 16, 17, 32, 33, 56} {
		for _, rows := range []int{1, 3, 8} {
			for flags := 0; flags < 8; flags++ {
				ldc := n + 3
				c := randSlice(r, rows*ldc)
				rb, cb := randSlice(r, rows), randSlice(r, n)
				want := append([]float32(nil), c...)
				epRowsGo(want, ldc, rows, n, rb, cb, -0.25, 0.5, flags)
				got := append([]float32(nil), c...)
				EpRows(got, ldc, rows, n, rb, cb, -0.25, 0.5, flags)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("EpRows n=%d rows=%d flags=%d: c[%d] = %v, want %v", n, rows, flags, i, got[i], want[i])
					}
				}
			}
		}
		for _, flags := range []int{0, EpClamp, EpResidual, EpResidual | EpClamp} {
			src, z := randSlice(r, n), randSlice(r, n)
			want := make([]float32, n+1)
			biasActRowGo(want[:n], src, z, 0.3, 0, 0.6, flags)
			got := make([]float32, n+1)
			got[n], want[n] = 7, 7
			BiasActRow(got[:n], src, z, 0.3, 0, 0.6, flags)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("BiasActRow n=%d flags=%d: dst[%d] = %v, want %v", n, flags, i, got[i], want[i])
				}
			}
		}
	}
}

// TestSgemmKernelEp checks the fused-epilogue micro-kernel against
// SgemmKernel followed by the Go epilogue (same sums; the epilogue adds in
// the same order, so results are equal).
func TestSgemmKernelEp(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	mr, nr := Tile()
	for _, k := range []int{0, 1, 5, 64, 193} {
		for flags := 0; flags < 8; flags++ {
			for _, beta := range []float32{0, 1, 0.5} {
				ldc := nr + 5
				a, b := randSlice(r, k*mr), randSlice(r, k*nr)
				c := randSlice(r, mr*ldc)
				rb, cb := randSlice(r, mr), randSlice(r, nr)
				want := append([]float32(nil), c...)
				SgemmKernel(k, a, b, want, ldc, 1.5, beta)
				epRowsGo(want, ldc, mr, nr, rb, cb, -0.2, 0.7, flags)
				got := append([]float32(nil), c...)
				SgemmKernelEp(k, a, b, got, ldc, 1.5, beta, rb, cb, -0.2, 0.7, flags)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("k=%d flags=%d beta=%v: c[%d] = %v, want %v", k, flags, beta, i, got[i], want[i])
					}
				}
			}
		}
	}
}
