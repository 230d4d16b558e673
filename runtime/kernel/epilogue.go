package kernel

import (
	"math"

	"github.com/kiln-ml/kiln/runtime/internal/asm"
)

// Activation names the elementwise function an Epilogue applies.
type Activation int

// The activations, with ONNX semantics (Keras' where ONNX has none).
const (
	ActNone      Activation = iota
	ActRelu                 // max(x, 0)
	ActClip                 // min(max(x, Lo), Hi); Relu6 is Lo=0, Hi=6
	ActLeakyRelu            // x if x >= 0 else Alpha*x
	ActSigmoid              // 1/(1+e^-x)
	ActTanh                 // tanh(x)
	ActSiLU                 // x*sigmoid(x) (Swish with beta 1)
	ActGELUTanh             // 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))) (ONNX Gelu approximate="tanh")
	ActGELU                 // 0.5x(1+erf(x/sqrt 2)) (ONNX Gelu approximate="none")
	ActHardSwish            // x*max(0, min(1, x/6+0.5)) (ONNX HardSwish)
)

// Epilogue is applied to C after the GEMM, tile by tile while the tile is
// in L1: C[i][j] = act(C[i][j] + bias), where bias is Bias[j] (a length-n
// per-column bias, as in Gemm's C or a Dense layer) or, with BiasPerRow,
// Bias[i] (length m, as a Conv's per-output-channel bias in the
// C = W x im2col layout). A nil Bias adds nothing.
type Epilogue struct {
	Bias       []float32
	BiasPerRow bool
	Act        Activation
	// Lo and Hi bound ActClip.
	Lo, Hi float32
	// Alpha is ActLeakyRelu's slope.
	Alpha float32
}

// applyRow applies the epilogue to row, the part of C's row i starting at
// column j.
func (e *Epilogue) applyRow(row []float32, i, j int) {
	if e.Bias != nil {
		if e.BiasPerRow {
			b := e.Bias[i]
			for k := range row {
				row[k] += b
			}
		} else {
			bs := e.Bias[j : j+len(row)]
			for k := range row {
				row[k] += bs[k]
			}
		}
	}
	e.Apply(row)
}

// Apply applies the epilogue's activation (not its bias) to x in place.
func (e *Epilogue) Apply(x []float32) {
	switch e.Act {
	case ActNone:
	case ActRelu:
		for k, v := range x {
			x[k] = max(v, 0)
		}
	case ActClip:
		lo, hi := e.Lo, e.Hi
		for k, v := range x {
			x[k] = min(max(v, lo), hi)
		}
	case ActLeakyRelu:
		a := e.Alpha
		for k, v := range x {
			if v < 0 {
				x[k] = a * v
			}
		}
	case ActSigmoid:
		asm.Sigmoid(x, x)
	case ActTanh:
		asm.Tanh(x, x)
	case ActSiLU:
		var t [64]float32
		for len(x) > 0 {
			s := t[:min(len(x), len(t))]
			asm.Sigmoid(s, x[:len(s)])
			for k := range s {
				x[k] *= s[k]
			}
			x = x[len(s):]
		}
	case ActGELUTanh:
		const c = 0.7978845608028654 // sqrt(2/pi)
		var t [64]float32
		for len(x) > 0 {
			s := t[:min(len(x), len(t))]
			for k := range s {
				v := x[k]
				s[k] = c * (v + 0.044715*v*v*v)
			}
			asm.Tanh(s, s)
			for k := range s {
				x[k] = 0.5 * x[k] * (1 + s[k])
			}
			x = x[len(s):]
		}
	case ActGELU:
		var t [64]float32
		for len(x) > 0 {
			s := t[:min(len(x), len(t))]
			for k := range s {
				s[k] = x[k] * math.Sqrt2 / 2
			}
			asm.Erf(s, s)
			for k := range s {
				x[k] = 0.5 * x[k] * (1 + s[k])
			}
			x = x[len(s):]
		}
	case ActHardSwish:
		for k, v := range x {
			x[k] = v * min(max(v*(1.0/6)+0.5, 0), 1)
		}
	default:
		panic("kernel: unknown activation")
	}
}

// Exp sets dst[i] = e^src[i]; see asm.Exp for accuracy. dst may alias src
// and must be at least as long as src.
func Exp(dst, src []float32) { asm.Exp(dst, src) }

// Sigmoid sets dst[i] = 1/(1+e^-src[i]).
func Sigmoid(dst, src []float32) { asm.Sigmoid(dst, src) }

// Tanh sets dst[i] = tanh(src[i]).
func Tanh(dst, src []float32) { asm.Tanh(dst, src) }

// Erf sets dst[i] = erf(src[i]).
func Erf(dst, src []float32) { asm.Erf(dst, src) }
