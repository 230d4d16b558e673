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

// kernelTile runs the micro-kernel on a full tile and applies ep (nil for
// none) to it, fused into the kernel's store when ep is a bias with a
// clamp activation.
func kernelTile(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, ep *Epilogue, i, j int) {
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
