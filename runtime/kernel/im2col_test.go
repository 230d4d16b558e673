package kernel

import (
	"math/rand/v2"
	"testing"
)

// TestIm2colConv checks Im2col + Sgemm against a direct convolution loop
// over strides, dilations, paddings and kernel sizes.
func TestIm2colConv(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int }{
		{3, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
		{2, 8, 9, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
		{3, 11, 10, 8, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},
		{4, 6, 6, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
		{2, 9, 9, 2, 3, 2, 1, 3, 2, 2, 0, 2, 1, 0},
		{1, 5, 5, 2, 5, 5, 1, 1, 1, 1, 0, 0, 0, 0},
		{1, 3, 4, 1, 3, 3, 1, 1, 1, 1, 4, 4, 4, 4},
	} {
		oh := (tc.h+tc.pt+tc.pb-((tc.kh-1)*tc.dh+1))/tc.sh + 1
		ow := (tc.w+tc.pl+tc.pr-((tc.kw-1)*tc.dw+1))/tc.sw + 1
		x := randSlice(r, tc.c*tc.h*tc.w)
		wt := randSlice(r, tc.m*tc.c*tc.kh*tc.kw)
		col := randSlice(r, tc.c*tc.kh*tc.kw*oh*ow) // garbage must be overwritten
		Im2col(col, x, tc.c, tc.h, tc.w, tc.kh, tc.kw, tc.sh, tc.sw, tc.dh, tc.dw, tc.pt, tc.pl, oh, ow)
		k := tc.c * tc.kh * tc.kw
		y := make([]float32, tc.m*oh*ow)
		Sgemm(false, false, tc.m, oh*ow, k, 1, wt, k, col, oh*ow, 0, y, oh*ow)
		for mi := 0; mi < tc.m; mi++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s float64
					for ci := 0; ci < tc.c; ci++ {
						for ki := 0; ki < tc.kh; ki++ {
							for kj := 0; kj < tc.kw; kj++ {
								iy, ix := oy*tc.sh-tc.pt+ki*tc.dh, ox*tc.sw-tc.pl+kj*tc.dw
								if iy < 0 || iy >= tc.h || ix < 0 || ix >= tc.w {
									continue
								}
								s += float64(wt[((mi*tc.c+ci)*tc.kh+ki)*tc.kw+kj]) * float64(x[(ci*tc.h+iy)*tc.w+ix])
							}
						}
					}
					if got := float64(y[(mi*oh+oy)*ow+ox]); got-s > tolerance(k) || s-got > tolerance(k) {
						t.Fatalf("%+v: y[%d][%d][%d] = %v, want %v", tc, mi, oy, ox, got, s)
					}
				}
			}
		}
	}
}
