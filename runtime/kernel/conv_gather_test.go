package kernel

import "testing"

func TestGatherStrided(t *testing.T) {
	src := make([]float32, 200)
	for i := range src {
		src[i] = float32(i)
	}
	for _, stride := range []int{1, 2, 3} {
		for n := 0; n <= 60; n++ {
			if (n-1)*stride >= len(src) {
				continue
			}
			dst := make([]float32, n+1)
			dst[n] = -1
			gatherStrided(dst[:n], src[:max((n-1)*stride+1, 0)], stride)
			for i := 0; i < n; i++ {
				if dst[i] != float32(i*stride) {
					t.Fatalf("stride %d n %d: dst[%d] = %v", stride, n, i, dst[i])
				}
			}
			if dst[n] != -1 {
				t.Fatalf("stride %d n %d: wrote past dst", stride, n)
			}
		}
	}
}
