package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// naive is the float64 triple-loop reference: C = alpha*op(A)op(B) + beta*C.
func naive(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*ldc+j] = v
		}
	}
	return out
}

// tolerance for a k-term float32 dot product of values in [-1, 1]: each
// of the k roundings adds at most 2^-24 times the running sum (at most k
// in magnitude, typically sqrt(k)); 2e-6*(k+1) covers the worst case seen
// with ample room and still catches any wrong element (errors O(1)).
func tolerance(k int) float64 { return 2e-6 * float64(k+1) }

type shape struct{ m, n, k int }

var shapes = []shape{
	{1, 1, 1}, {1, 1, 7}, {1, 17, 3}, {5, 1, 9}, {6, 16, 1}, {6, 16, 4}, {7, 17, 5},
	{12, 32, 33}, {13, 31, 300}, {1, 512, 784}, {8, 10, 512}, {64, 49, 64},
	{150, 70, 260}, {145, 2050, 20}, {33, 33, 513}, {0, 5, 5}, {5, 0, 5}, {5, 5, 0},
}

func TestSgemm(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range shapes {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0.5, -2}, {0, 0.5}, {-1, 0}} {
				checkSgemm(t, r, s, tr[0], tr[1], ab[0], ab[1], 3, 5, 2)
			}
		}
	}
}

func checkSgemm(t *testing.T, r *rand.Rand, s shape, transA, transB bool, alpha, beta float32, padA, padB, padC int) {
	t.Helper()
	m, n, k := s.m, s.n, s.k
	lda := k + padA
	ra := m
	if transA {
		lda, ra = m+padA, k
	}
	ldb := n + padB
	rb := k
	if transB {
		ldb, rb = k+padB, n
	}
	ldc := n + padC
	a := randSlice(r, ra*lda)
	b := randSlice(r, rb*ldb)
	c := randSlice(r, m*ldc)
	if beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN()) // beta == 0 must not read C
		}
	}
	want := naive(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	got := append([]float32(nil), c...)
	Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
	compare(t, fmt.Sprintf("Sgemm(%v,%v,%d,%d,%d,%v,%v)", transA, transB, m, n, k, alpha, beta), got, want, m, n, ldc, tolerance(k), c)

	pool := testPool
	got = append(got[:0], c...)
	SgemmParallel(pool, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc, nil)
	compare(t, fmt.Sprintf("SgemmParallel(%v,%v,%d,%d,%d,%v,%v)", transA, transB, m, n, k, alpha, beta), got, want, m, n, ldc, tolerance(k), c)

	pb := PackB(transB, k, n, b, ldb)
	got = append(got[:0], c...)
	SgemmPacked(pool, transA, m, alpha, a, lda, pb, beta, got, ldc, nil)
	compare(t, fmt.Sprintf("SgemmPacked(%v,%v,%d,%d,%d,%v,%v)", transA, transB, m, n, k, alpha, beta), got, want, m, n, ldc, tolerance(k), c)
}

var testPool = NewWorkerPool(2)

// compare checks the m x n block and that padding columns are untouched.
func compare(t *testing.T, name string, got []float32, want []float64, m, n, ldc int, tol float64, orig []float32) {
	t.Helper()
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			g := got[i*ldc+j]
			if j >= n {
				if math.Float32bits(g) != math.Float32bits(orig[i*ldc+j]) {
					t.Fatalf("%s: wrote padding C[%d][%d]", name, i, j)
				}
				continue
			}
			if w := want[i*ldc+j]; !(math.Abs(float64(g)-w) <= tol) {
				t.Fatalf("%s: C[%d][%d] = %v, want %v (tol %g)", name, i, j, g, w, tol)
			}
		}
	}
}
