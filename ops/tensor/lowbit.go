package tensor

import "math"

// Low-precision element types. Each is held one element per byte in memory
// (files pack the 4-bit and 2-bit types; see formats/onnx). The float types
// hold their bit pattern; the integer types hold their value.
//
// Bit layouts (sign, exponent, mantissa; bias), after ONNX's
// docs/Operators.md (Cast) and the OCP 8-bit floating point and MX
// specifications:
//
//	F8E4M3FN    s.eeee.mmm  bias 7   max 448    no inf; NaN s.1111.111
//	F8E4M3FNUZ  s.eeee.mmm  bias 8   max 240    no inf, no -0; NaN 0x80 only
//	F8E5M2      s.eeeee.mm  bias 15  max 57344  inf s.11111.00; NaN s.11111.{01,10,11}
//	F8E5M2FNUZ  s.eeeee.mm  bias 16  max 57344  no inf, no -0; NaN 0x80 only
//	F4E2M1      s.ee.m      bias 1   max 6      no inf, no NaN (low 4 bits)
//	F8E8M0      eeeeeeee    bias 127 2^-127..2^127, no sign, no zero; NaN 0xFF
type (
	F8E4M3FN   uint8
	F8E4M3FNUZ uint8
	F8E5M2     uint8
	F8E5M2FNUZ uint8
	F4E2M1     uint8
	F8E8M0     uint8
	// U4 is an unsigned 4-bit integer (0..15).
	U4 uint8
	// I4 is a signed 4-bit integer (-8..7).
	I4 int8
	// U2 is an unsigned 2-bit integer (0..3).
	U2 uint8
	// I2 is a signed 2-bit integer (-2..1).
	I2 int8
)

// lbFormat describes a small binary float format with a sign bit.
type lbFormat struct {
	man     int   // mantissa bits
	bias    int   // exponent bias
	sign    uint8 // the sign bit
	max     uint8 // magnitude bits of the largest finite value
	nan     uint8 // magnitude bits of the NaN produced (signed-NaN formats)
	inf     uint8 // magnitude bits of infinity; 0 = no infinity
	uz      bool  // no negative zero; 0x80 is the only NaN
	noNaN   bool  // no NaN at all (float4): NaN converts to the pattern nan
	satOnly bool  // overflow always saturates (no NaN/inf to overflow to)
}

var (
	lbE4M3FN   = lbFormat{man: 3, bias: 7, sign: 0x80, max: 0x7e, nan: 0x7f}
	lbE4M3FNUZ = lbFormat{man: 3, bias: 8, sign: 0x80, max: 0x7f, uz: true}
	lbE5M2     = lbFormat{man: 2, bias: 15, sign: 0x80, max: 0x7b, nan: 0x7e, inf: 0x7c}
	lbE5M2FNUZ = lbFormat{man: 2, bias: 16, sign: 0x80, max: 0x7f, uz: true}
	// ONNX's reference (ml_dtypes) turns NaN into the pattern 0x8 (-0) for
	// float4e2m1, which has no NaN.
	lbE2M1 = lbFormat{man: 1, bias: 1, sign: 0x8, max: 0x7, nan: 0x8, noNaN: true, satOnly: true}
)

// decode returns the exact value of bit pattern b.
func (f *lbFormat) decode(b uint8) float32 {
	if f.uz && b == 0x80 {
		return float32(math.NaN())
	}
	mag := b &^ f.sign
	neg := b&f.sign != 0
	if !f.uz && !f.noNaN {
		switch {
		case f.inf != 0 && mag == f.inf:
			if neg {
				return float32(math.Inf(-1))
			}
			return float32(math.Inf(1))
		case mag > f.max:
			return float32(math.NaN())
		}
	}
	e := int(mag >> f.man)
	m := float64(mag & (1<<f.man - 1))
	var v float64
	if e == 0 {
		v = math.Ldexp(m, 1-f.bias-f.man)
	} else {
		v = math.Ldexp(float64(int(1)<<f.man)+m, e-f.bias-f.man)
	}
	if neg {
		v = -v
	}
	return float32(v)
}

// encode rounds v to the nearest value of the format, ties to even. Values
// beyond the largest finite value (after rounding) and infinities become
// the largest finite value of their sign when saturate is set; otherwise
// they become infinity where the format has one, else NaN.
func (f *lbFormat) encode(v float64, saturate bool) uint8 {
	if math.IsNaN(v) {
		switch {
		case f.uz:
			return 0x80
		case f.noNaN:
			return f.nan
		case math.Signbit(v):
			return f.sign | f.nan
		}
		return f.nan
	}
	var s uint8
	if math.Signbit(v) {
		s = f.sign
	}
	a := math.Abs(v)
	overflow := func() uint8 {
		switch {
		case saturate || f.satOnly:
			return s | f.max
		case f.uz:
			return 0x80
		case f.inf != 0:
			return s | f.inf
		}
		return s | f.nan
	}
	if math.IsInf(a, 0) {
		return overflow()
	}
	zero := s
	if f.uz {
		zero = 0
	}
	if a == 0 {
		return zero
	}
	emin := 1 - f.bias
	_, e := math.Frexp(a) // a = frac * 2^e, frac in [0.5, 1)
	ex := max(e-1, emin)
	r := math.RoundToEven(math.Ldexp(a, f.man-ex)) // units of 2^(ex-man)
	if r == 0 {
		return zero
	}
	full := float64(int(1) << f.man)
	if r >= 2*full {
		r /= 2
		ex++
	}
	var bits int
	if r < full { // subnormal (ex == emin)
		bits = int(r)
	} else {
		bits = (ex+f.bias)<<f.man | int(r-full)
	}
	if bits > int(f.max) {
		return overflow()
	}
	return s | uint8(bits)
}

var (
	lbTabE4M3FN, lbTabE4M3FNUZ, lbTabE5M2, lbTabE5M2FNUZ [256]float32
	lbTabE2M1                                            [16]float32
)

func init() {
	for i := range 256 {
		lbTabE4M3FN[i] = lbE4M3FN.decode(uint8(i))
		lbTabE4M3FNUZ[i] = lbE4M3FNUZ.decode(uint8(i))
		lbTabE5M2[i] = lbE5M2.decode(uint8(i))
		lbTabE5M2FNUZ[i] = lbE5M2FNUZ.decode(uint8(i))
	}
	for i := range 16 {
		lbTabE2M1[i] = lbE2M1.decode(uint8(i))
	}
}

// Float32 widens x exactly.
func (x F8E4M3FN) Float32() float32 { return lbTabE4M3FN[x] }

// Float32 widens x exactly.
func (x F8E4M3FNUZ) Float32() float32 { return lbTabE4M3FNUZ[x] }

// Float32 widens x exactly.
func (x F8E5M2) Float32() float32 { return lbTabE5M2[x] }

// Float32 widens x exactly.
func (x F8E5M2FNUZ) Float32() float32 { return lbTabE5M2FNUZ[x] }

// Float32 widens x exactly (only the low 4 bits are used).
func (x F4E2M1) Float32() float32 { return lbTabE2M1[x&0xf] }

// Float32 widens x exactly: 2^(x-127), NaN for 0xFF.
func (x F8E8M0) Float32() float32 {
	if x == 0xff {
		return float32(math.NaN())
	}
	return float32(math.Ldexp(1, int(x)-127))
}

// ToF8E4M3FN rounds v (any float32 or float64 value) to the nearest
// float8e4m3fn, ties to even. With saturate, values beyond ±448 and
// infinities become ±448; without, they become NaN (ONNX Cast's saturate).
func ToF8E4M3FN(v float64, saturate bool) F8E4M3FN {
	return F8E4M3FN(lbE4M3FN.encode(v, saturate))
}

// ToF8E4M3FNUZ is ToF8E4M3FN for float8e4m3fnuz (max ±240; overflow without
// saturate gives the NaN 0x80; -0 becomes +0).
func ToF8E4M3FNUZ(v float64, saturate bool) F8E4M3FNUZ {
	return F8E4M3FNUZ(lbE4M3FNUZ.encode(v, saturate))
}

// ToF8E5M2 is ToF8E4M3FN for float8e5m2 (max ±57344; overflow without
// saturate gives ±inf).
func ToF8E5M2(v float64, saturate bool) F8E5M2 {
	return F8E5M2(lbE5M2.encode(v, saturate))
}

// ToF8E5M2FNUZ is ToF8E4M3FN for float8e5m2fnuz (max ±57344; overflow
// without saturate gives the NaN 0x80; -0 becomes +0).
func ToF8E5M2FNUZ(v float64, saturate bool) F8E5M2FNUZ {
	return F8E5M2FNUZ(lbE5M2FNUZ.encode(v, saturate))
}

// ToF4E2M1 rounds v to the nearest float4e2m1, ties to even. The format has
// no infinity or NaN: values beyond ±6 and infinities become ±6, and NaN
// becomes 0x8 (-0), as in ONNX's reference.
func ToF4E2M1(v float64) F4E2M1 { return F4E2M1(lbE2M1.encode(v, true)) }

// E8M0Rounding selects how ToF8E8M0 picks a power of two (ONNX Cast's
// round_mode attribute).
type E8M0Rounding uint8

const (
	// E8M0Up rounds the magnitude up to the next power of two ("up", the
	// default).
	E8M0Up E8M0Rounding = iota
	// E8M0Down truncates to the power of two below ("down").
	E8M0Down
	// E8M0Nearest rounds to the nearer power of two, ties up ("nearest").
	E8M0Nearest
)

// ToF8E8M0 converts f to float8e8m0 as ONNX does: the sign is ignored, the
// float32 exponent field is kept and rounded up by one according to mode
// (Up: if any mantissa bit is set; Nearest: if the mantissa is at least one
// half, so ties go up; Down: never), zero gives 2^-127 (0x00), NaN and
// infinities give NaN (0xFF). Rounding past 2^127 gives 2^127 with saturate
// and NaN without. Magnitudes below 2^-126 give 2^-127 or 2^-126 by the
// same rules applied to their value.
func ToF8E8M0(f float32, saturate bool, mode E8M0Rounding) F8E8M0 {
	b := math.Float32bits(f)
	e := b >> 23 & 0xff
	if e == 0xff {
		return 0xff
	}
	m := b & 0x7fffff
	up := false
	if e == 0 {
		// Subnormal float32 (below 2^-126): choose between 2^-127 and
		// 2^-126 by value. (ONNX's reference applies the bit test for
		// normal numbers here, which rounds 2^-127 itself up.)
		switch mode {
		case E8M0Up:
			up = m > 0x400000
		case E8M0Nearest:
			up = m >= 0x600000
		}
		if up {
			return 1
		}
		return 0
	}
	switch mode {
	case E8M0Up:
		up = m != 0
	case E8M0Nearest:
		up = m >= 0x400000
	}
	if up {
		if e == 0xfe && saturate {
			return 0xfe
		}
		e++
	}
	return F8E8M0(e)
}

// ToU4 wraps v to 4 bits (v mod 16).
func ToU4(v int64) U4 { return U4(v & 0xf) }

// ToI4 wraps v to a signed 4-bit value (two's complement of the low 4 bits).
func ToI4(v int64) I4 { return I4(int8(uint8(v)<<4) >> 4) }

// ToU2 wraps v to 2 bits (v mod 4).
func ToU2(v int64) U2 { return U2(v & 0x3) }

// ToI2 wraps v to a signed 2-bit value (two's complement of the low 2 bits).
func ToI2(v int64) I2 { return I2(int8(uint8(v)<<6) >> 6) }

// lbFromFloat64s converts float64 values to a low-precision type as ONNX
// Cast does: floats round to nearest even (saturating if asked), float8e8m0
// rounds by mode, integers truncate toward zero and wrap. It returns nil
// when dt is not one of the low-precision types.
func lbFromFloat64s(dt DType, vals []float64, saturate bool, mode E8M0Rounding) any {
	switch dt {
	case Float8E4M3FN:
		return lbMapF(vals, func(v float64) F8E4M3FN { return ToF8E4M3FN(v, saturate) })
	case Float8E4M3FNUZ:
		return lbMapF(vals, func(v float64) F8E4M3FNUZ { return ToF8E4M3FNUZ(v, saturate) })
	case Float8E5M2:
		return lbMapF(vals, func(v float64) F8E5M2 { return ToF8E5M2(v, saturate) })
	case Float8E5M2FNUZ:
		return lbMapF(vals, func(v float64) F8E5M2FNUZ { return ToF8E5M2FNUZ(v, saturate) })
	case Float4E2M1:
		return lbMapF(vals, ToF4E2M1)
	case Float8E8M0:
		return lbMapF(vals, func(v float64) F8E8M0 { return ToF8E8M0(float32(v), saturate, mode) })
	case Uint4:
		return lbMapF(vals, func(v float64) U4 { return ToU4(lbTrunc(v)) })
	case Int4:
		return lbMapF(vals, func(v float64) I4 { return ToI4(lbTrunc(v)) })
	case Uint2:
		return lbMapF(vals, func(v float64) U2 { return ToU2(lbTrunc(v)) })
	case Int2:
		return lbMapF(vals, func(v float64) I2 { return ToI2(lbTrunc(v)) })
	}
	return nil
}

// lbTrunc truncates toward zero; NaN gives 0 and huge values saturate
// before wrapping.
func lbTrunc(v float64) int64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v >= 1<<63:
		return math.MaxInt64
	case v < -(1 << 63):
		return math.MinInt64
	}
	return int64(v)
}

func lbMapF[T any](vals []float64, f func(float64) T) []T {
	out := make([]T, len(vals))
	for i, v := range vals {
		out[i] = f(v)
	}
	return out
}

// ConvertFloat64s builds a tensor of a low-precision type from float64
// values with explicit Cast attributes: saturate for the float8 types and
// the rounding mode for float8e8m0. Other types are built as FromFloat64s
// does.
func ConvertFloat64s(dt DType, shape Shape, vals []float64, saturate bool, mode E8M0Rounding) *Tensor {
	if d := lbFromFloat64s(dt, vals, saturate, mode); d != nil {
		return Must(shape, d)
	}
	return FromFloat64s(dt, shape, vals)
}

// FromInt64sAs builds a tensor of an integer type dt from int64 values,
// wrapping to the type's width (C conversion semantics, as ONNX Cast between
// integers). It returns nil if dt is not an integer type.
func FromInt64sAs(dt DType, shape Shape, vals []int64) *Tensor {
	var d any
	switch dt {
	case Uint4:
		d = lbMapI(vals, ToU4)
	case Int4:
		d = lbMapI(vals, ToI4)
	case Uint2:
		d = lbMapI(vals, ToU2)
	case Int2:
		d = lbMapI(vals, ToI2)
	case Int8:
		d = lbMapI(vals, func(v int64) int8 { return int8(v) })
	case Int16:
		d = lbMapI(vals, func(v int64) int16 { return int16(v) })
	case Int32:
		d = lbMapI(vals, func(v int64) int32 { return int32(v) })
	case Int64:
		d = lbMapI(vals, func(v int64) int64 { return v })
	case Uint8:
		d = lbMapI(vals, func(v int64) uint8 { return uint8(v) })
	case Uint16:
		d = lbMapI(vals, func(v int64) uint16 { return uint16(v) })
	case Uint32:
		d = lbMapI(vals, func(v int64) uint32 { return uint32(v) })
	case Uint64:
		d = lbMapI(vals, func(v int64) uint64 { return uint64(v) })
	default:
		return nil
	}
	return Must(shape, d)
}

func lbMapI[T any](vals []int64, f func(int64) T) []T {
	out := make([]T, len(vals))
	for i, v := range vals {
		out[i] = f(v)
	}
	return out
}
