package kernel

import "testing"

// TestGatherRows checks the phase-plane row gather (assembly for stride 2)
// on every tail length, with several rows and strides, and that it writes
// nothing outside the rows.
func TestGatherRows(t *testing.T) {
	src := make([]float32, 1000)
	for i := range src {
		src[i] = float32(i)
	}
	for _, stride := range []int{1, 2, 3} {
		for n := 1; n <= 40; n++ {
			for _, rows := range []int{1, 3} {
				srcStride, dstStride := 2*n*stride+1, n+2
				dst := make([]float32, rows*dstStride)
				for i := range dst {
					dst[i] = -1
				}
				gatherRows(dst, src[:(rows-1)*srcStride+(n-1)*stride+1], n, rows, dstStride, srcStride, stride)
				for r := range rows {
					for i := range dstStride {
						want := float32(-1)
						if i < n {
							want = float32(r*srcStride + i*stride)
						}
						if got := dst[r*dstStride+i]; got != want {
							t.Fatalf("stride %d n %d rows %d: dst[%d][%d] = %v, want %v", stride, n, rows, r, i, got, want)
						}
					}
				}
			}
		}
	}
}
