package kernel

import (
	"math"

	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// clampFlags returns the asm epilogue flag and bounds for the activations
// that are a clamp (none, Relu, Clip), and false for the others.
func (e *Epilogue) clampFlags() (flags int, lo, hi float32, ok bool) {
	switch e.Act {
	case ActNone:
		return 0, 0, 0, true
	case ActRelu:
		return asm.EpClamp, 0, float32(math.Inf(1)), true
	case ActClip:
		return asm.EpClamp, e.Lo, e.Hi, true
	}
	return 0, 0, 0, false
}

// applyTile applies the epilogue to the mm x nn block of C at c (row
// stride ldc) whose top-left element is C[i][j]: one vectorized pass for a
// bias with a clamp activation, else row by row.
func (e *Epilogue) applyTile(c []float32, ldc, mm, nn, i, j int) {
	if flags, lo, hi, ok := e.clampFlags(); ok {
		var rb, cb []float32
		if e.Bias != nil {
			if e.BiasPerRow {
				flags |= asm.EpRowBias
				rb = e.Bias[i : i+mm]
			} else {
				flags |= asm.EpColBias
				cb = e.Bias[j : j+nn]
			}
		}
		if flags != 0 {
			asm.EpRows(c, ldc, mm, nn, rb, cb, lo, hi, flags)
		}
		return
	}
	for r := 0; r < mm; r++ {
		e.applyRow(c[r*ldc:r*ldc+nn], i+r, j)
	}
}

// tileArgs returns the asm epilogue arguments for the full tile whose
// top-left element is C[i][j], or false when the activation is not a
// clamp (the caller then applies the epilogue itself).
func (e *Epilogue) tileArgs(i, j int) (rb, cb []float32, lo, hi float32, flags int, ok bool) {
	flags, lo, hi, ok = e.clampFlags()
	if !ok {
		return nil, nil, 0, 0, 0, false
	}
	if e.Bias != nil {
		if e.BiasPerRow {
			flags |= asm.EpRowBias
			rb = e.Bias[i : i+mr]
		} else {
			flags |= asm.EpColBias
			cb = e.Bias[j : j+nr]
		}
	}
	return rb, cb, lo, hi, flags, true
}

// kAcc bounds how many products one set of micro-kernel accumulators sums
// before the partial sum is added to C. A float32 running sum of n terms
// has a rounding error growing with n; summing blocks of at most kAcc
// into C instead bounds it by about kAcc + k/kAcc roundings (rather than
// kc + k/kc), roughly halving the worst error of a 3x3 convolution over
// 64 channels (k = 576), for one extra load and store of the C tile per
// block, which stays in L1.
const kAcc = 64

// accSteps returns the depth of the accumulation blocks of a kc-deep
// product: kc cut into equal blocks of at most kAcc.
func accSteps(kc int) int {
	if kc <= kAcc {
		return kc
	}
	n := (kc + kAcc - 1) / kAcc
	return (kc + n - 1) / n
}

// microKernel is asm.SgemmKernel (C = alpha*A*B + beta*C on one tile)
// with the depth cut into accumulation blocks (kAcc).
func microKernel(kc int, ap, bp, c []float32, ldc int, alpha, beta float32) {
	ks := accSteps(kc)
	for kc > ks {
		asm.SgemmKernel(ks, ap, bp, c, ldc, alpha, beta)
		ap, bp, kc, beta = ap[ks*mr:], bp[ks*nr:], kc-ks, 1
	}
	asm.SgemmKernel(kc, ap, bp, c, ldc, alpha, beta)
}

// kernelTile runs the micro-kernel on a full tile and applies ep (nil for
// none) to it, fused into the kernel's store when ep is a bias with a
// clamp activation. The depth is summed in accumulation blocks (kAcc).
func kernelTile(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, ep *Epilogue, i, j int) {
	if ks := accSteps(kc); ks < kc {
		for kc > ks {
			asm.SgemmKernel(ks, ap, bp, c, ldc, alpha, beta)
			ap, bp, kc, beta = ap[ks*mr:], bp[ks*nr:], kc-ks, 1
		}
	}
	if ep == nil {
		asm.SgemmKernel(kc, ap, bp, c, ldc, alpha, beta)
		return
	}
	if rb, cb, lo, hi, flags, ok := ep.tileArgs(i, j); ok {
		asm.SgemmKernelEp(kc, ap, bp, c, ldc, alpha, beta, rb, cb, lo, hi, flags)
		return
	}
	asm.SgemmKernel(kc, ap, bp, c, ldc, alpha, beta)
	ep.applyTile(c, ldc, mr, nr, i, j)
}
