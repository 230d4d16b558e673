package kernel

import "math"

// Kernels for the kiln fused ops made by the graph passes (ops/fused*.go):
// FusedConv = act(Conv(X, W, B) + Z), FusedGemm = act(Gemm(...)) and
// FusedMatMul = act(MatMul(A, B) + bias). Each runs the kernel of the op it
// extends with the activation in the epilogue (and FusedConv's residual Z
// accumulated into the output before it).

func init() {
	Register("kiln", "FusedConv", "FusedConv/f32-dw3x3", 20, func(s *Spec) Kernel {
		if ep, ok := fusedEpilogue(s); ok {
			return newConvDW(s, ep, true)
		}
		return nil
	})
	Register("kiln", "FusedConv", "FusedConv/f32-gemm", 10, func(s *Spec) Kernel {
		if ep, ok := fusedEpilogue(s); ok {
			return newConvGemm(s, ep, true)
		}
		return nil
	})
	Register("kiln", "FusedGemm", "FusedGemm/f32", 10, func(s *Spec) Kernel {
		if ep, ok := fusedEpilogue(s); ok {
			return newGemm(s, ep)
		}
		return nil
	})
	Register("kiln", "FusedMatMul", "FusedMatMul/f32", 10, func(s *Spec) Kernel {
		if ep, ok := fusedEpilogue(s); ok {
			return newMatMul(s, ep)
		}
		return nil
	})
}

// fusedEpilogue maps a fused op's activation attributes (ops/fused.go) onto
// an Epilogue, or reports false for one it has no form for (HardSigmoid,
// Swish with alpha other than 1).
func fusedEpilogue(s *Spec) (Epilogue, bool) {
	a := s.Node.Attrs
	var ep Epilogue
	switch a.String("activation", "") {
	case "":
	case "Relu":
		ep.Act = ActRelu
	case "Clip":
		// An absent (or NaN) bound is no bound, as the reference does.
		ep.Act, ep.Lo, ep.Hi = ActClip, float32(math.Inf(-1)), float32(math.Inf(1))
		if a.Has("activation_alpha") {
			if v := a.Float("activation_alpha", 0); v == v {
				ep.Lo = v
			}
		}
		if a.Has("activation_beta") {
			if v := a.Float("activation_beta", 0); v == v {
				ep.Hi = v
			}
		}
	case "LeakyRelu":
		ep.Act, ep.Alpha = ActLeakyRelu, a.Float("activation_alpha", 0.01)
	case "Sigmoid":
		ep.Act = ActSigmoid
	case "Tanh":
		ep.Act = ActTanh
	case "Swish":
		if a.Float("activation_alpha", 1) != 1 {
			return ep, false
		}
		ep.Act = ActSiLU
	case "Gelu":
		ep.Act = ActGELU
		if a.String("activation_approximate", "none") == "tanh" {
			ep.Act = ActGELUTanh
		}
	case "HardSwish":
		ep.Act = ActHardSwish
	default:
		return ep, false
	}
	return ep, true
}
