package tensor

import "math"

// Half is an IEEE 754 binary16 value stored as its bit pattern.
type Half uint16

// BHalf is a bfloat16 value (the top 16 bits of a float32) stored as its
// bit pattern.
type BHalf uint16

// Float32 widens h exactly.
func (h Half) Float32() float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or nan
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: value = man * 2^-24
		f := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// ToHalf rounds f to the nearest binary16 value (ties to even), with overflow to
// infinity, as IEEE 754 conversion does.
func ToHalf(f float32) Half {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return Half(sign | 0x7e00 | uint16(man>>13))
		}
		return Half(sign | 0x7c00)
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return Half(sign | 0x7c00)
	}
	if e <= 0 {
		if e < -10 {
			return Half(sign)
		}
		man |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := man >> shift
		rem := man & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return Half(sign | uint16(r))
	}
	r := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, giving inf correctly
	}
	return Half(sign | uint16(r))
}

// Float32 widens b exactly.
func (b BHalf) Float32() float32 { return math.Float32frombits(uint32(b) << 16) }

// ToBHalf rounds f to the nearest bfloat16 (ties to even); NaN stays NaN.
func ToBHalf(f float32) BHalf {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return BHalf(u>>16 | 0x40)
	}
	u += 0x7fff + (u>>16)&1
	return BHalf(u >> 16)
}
