package ops

import "github.com/kiln-ml/kiln/ops/tensor"

// Helpers that let the shared data-movement and elementwise helpers carry
// the low-precision element types (float8, float4e2m1, int4/uint4,
// int2/uint2), which are held one element per byte.

// lbTake is shpTake's gather for the low-precision types; it reports
// whether dst was one of them.
func lbTake(dst, src any, idx []int, fill any) bool {
	switch d := dst.(type) {
	case []tensor.F8E4M3FN:
		shpTakeT(d, src.([]tensor.F8E4M3FN), idx, fill)
	case []tensor.F8E4M3FNUZ:
		shpTakeT(d, src.([]tensor.F8E4M3FNUZ), idx, fill)
	case []tensor.F8E5M2:
		shpTakeT(d, src.([]tensor.F8E5M2), idx, fill)
	case []tensor.F8E5M2FNUZ:
		shpTakeT(d, src.([]tensor.F8E5M2FNUZ), idx, fill)
	case []tensor.F4E2M1:
		shpTakeT(d, src.([]tensor.F4E2M1), idx, fill)
	case []tensor.F8E8M0:
		shpTakeT(d, src.([]tensor.F8E8M0), idx, fill)
	case []tensor.U4:
		shpTakeT(d, src.([]tensor.U4), idx, fill)
	case []tensor.I4:
		shpTakeT(d, src.([]tensor.I4), idx, fill)
	case []tensor.U2:
		shpTakeT(d, src.([]tensor.U2), idx, fill)
	case []tensor.I2:
		shpTakeT(d, src.([]tensor.I2), idx, fill)
	default:
		return false
	}
	return true
}

// lbPut is shpPut's scatter for the low-precision types.
func lbPut(dst, src any, idx []int) {
	switch d := dst.(type) {
	case []tensor.F8E4M3FN:
		shpPutT(d, src.([]tensor.F8E4M3FN), idx)
	case []tensor.F8E4M3FNUZ:
		shpPutT(d, src.([]tensor.F8E4M3FNUZ), idx)
	case []tensor.F8E5M2:
		shpPutT(d, src.([]tensor.F8E5M2), idx)
	case []tensor.F8E5M2FNUZ:
		shpPutT(d, src.([]tensor.F8E5M2FNUZ), idx)
	case []tensor.F4E2M1:
		shpPutT(d, src.([]tensor.F4E2M1), idx)
	case []tensor.F8E8M0:
		shpPutT(d, src.([]tensor.F8E8M0), idx)
	case []tensor.U4:
		shpPutT(d, src.([]tensor.U4), idx)
	case []tensor.I4:
		shpPutT(d, src.([]tensor.I4), idx)
	case []tensor.U2:
		shpPutT(d, src.([]tensor.U2), idx)
	case []tensor.I2:
		shpPutT(d, src.([]tensor.I2), idx)
	}
}
