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
