//go:build !amd64 || noasm

package kernel

// dwRow sets dst[j] = bias + sum_{t<9} w[t]*src[offs[t]+j] for j <
// len(dst), then clamps it to [lo, hi] when clamp is set (max then min,
// as Clip). src must hold offs[t]+len(dst) floats for every t.
func dwRow(dst, src []float32, offs *[9]int, w *[9]float32, bias float32, clamp bool, lo, hi float32) {
	dwRowGo(dst, src, offs, w, bias, clamp, lo, hi)
}

// gatherStrided sets dst[i] = src[i*stride].
func gatherStrided(dst, src []float32, stride int) { gatherStridedGo(dst, src, stride) }
