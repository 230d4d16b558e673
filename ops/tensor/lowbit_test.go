package tensor

import (
	"math"
	"sort"
	"testing"
)

// lbSpec is a small float format as ONNX documents it (docs/Operators.md,
// Cast; OCP 8-bit floating point): exponent and mantissa widths, bias and
// which bit patterns are special.
type lbSpec struct {
	name      string
	bits      int // 8 or 4
	exp, man  int
	bias      int
	isNaN     func(b uint8) bool
	isInf     func(b uint8) bool
	max       float64
	maxBits   uint8
	overflow  func(neg bool) uint8 // result of overflow without saturation
	noNegZero bool
	enc       func(v float64, sat bool) uint8
	dec       func(b uint8) float32
}

func lbSpecs() []lbSpec {
	never := func(uint8) bool { return false }
	return []lbSpec{
		{name: "e4m3fn", bits: 8, exp: 4, man: 3, bias: 7, max: 448, maxBits: 0x7e,
			isNaN: func(b uint8) bool { return b&0x7f == 0x7f }, isInf: never,
			overflow: func(neg bool) uint8 { return lbIf(neg, 0xff, 0x7f) },
			enc:      func(v float64, s bool) uint8 { return uint8(ToF8E4M3FN(v, s)) },
			dec:      func(b uint8) float32 { return F8E4M3FN(b).Float32() }},
		{name: "e4m3fnuz", bits: 8, exp: 4, man: 3, bias: 8, max: 240, maxBits: 0x7f, noNegZero: true,
			isNaN: func(b uint8) bool { return b == 0x80 }, isInf: never,
			overflow: func(bool) uint8 { return 0x80 },
			enc:      func(v float64, s bool) uint8 { return uint8(ToF8E4M3FNUZ(v, s)) },
			dec:      func(b uint8) float32 { return F8E4M3FNUZ(b).Float32() }},
		{name: "e5m2", bits: 8, exp: 5, man: 2, bias: 15, max: 57344, maxBits: 0x7b,
			isNaN:    func(b uint8) bool { return b&0x7f > 0x7c },
			isInf:    func(b uint8) bool { return b&0x7f == 0x7c },
			overflow: func(neg bool) uint8 { return lbIf(neg, 0xfc, 0x7c) },
			enc:      func(v float64, s bool) uint8 { return uint8(ToF8E5M2(v, s)) },
			dec:      func(b uint8) float32 { return F8E5M2(b).Float32() }},
		{name: "e5m2fnuz", bits: 8, exp: 5, man: 2, bias: 16, max: 57344, maxBits: 0x7f, noNegZero: true,
			isNaN: func(b uint8) bool { return b == 0x80 }, isInf: never,
			overflow: func(bool) uint8 { return 0x80 },
			enc:      func(v float64, s bool) uint8 { return uint8(ToF8E5M2FNUZ(v, s)) },
			dec:      func(b uint8) float32 { return F8E5M2FNUZ(b).Float32() }},
		{name: "e2m1", bits: 4, exp: 2, man: 1, bias: 1, max: 6, maxBits: 0x7,
			isNaN: never, isInf: never,
			overflow: func(neg bool) uint8 { return lbIf(neg, 0xf, 0x7) }, // always saturates
			enc:      func(v float64, _ bool) uint8 { return uint8(ToF4E2M1(v)) },
			dec:      func(b uint8) float32 { return F4E2M1(b).Float32() }},
	}
}

func lbIf(c bool, a, b uint8) uint8 {
	if c {
		return a
	}
	return b
}

// value is the spec's formula: (-1)^s * 2^(E-bias) * (1 + M/2^man) for
// E > 0, (-1)^s * 2^(1-bias) * (M/2^man) for E = 0.
func (s lbSpec) value(b uint8) float64 {
	sign := 1.0
	if b>>(s.bits-1)&1 == 1 {
		sign = -1
	}
	e := int(b>>s.man) & (1<<s.exp - 1)
	m := float64(int(b) & (1<<s.man - 1))
	frac := m / math.Pow(2, float64(s.man))
	if e == 0 {
		return sign * math.Pow(2, float64(1-s.bias)) * frac
	}
	return sign * math.Pow(2, float64(e-s.bias)) * (1 + frac)
}

func TestLowFloatDecodeAllPatterns(t *testing.T) {
	for _, s := range lbSpecs() {
		for i := range 1 << s.bits {
			b := uint8(i)
			got := float64(s.dec(b))
			switch {
			case s.isNaN(b):
				if !math.IsNaN(got) {
					t.Errorf("%s %#x = %v, want NaN", s.name, b, got)
				}
			case s.isInf(b):
				if !math.IsInf(got, 0) || math.Signbit(got) != (b&0x80 != 0) {
					t.Errorf("%s %#x = %v, want signed inf", s.name, b, got)
				}
			default:
				want := s.value(b)
				if got != want || math.Signbit(got) != math.Signbit(want) {
					t.Errorf("%s %#x = %v, want %v", s.name, b, got, want)
				}
			}
		}
		if got := float64(s.dec(s.maxBits)); got != s.max {
			t.Errorf("%s max pattern %#x = %v, want %v", s.name, s.maxBits, got, s.max)
		}
	}
}

func TestLowFloatEncodeRoundTripAndTies(t *testing.T) {
	for _, s := range lbSpecs() {
		signBit := uint8(1) << (s.bits - 1)
		var pos []uint8 // finite non-negative patterns, ascending by value
		for i := range 1 << s.bits {
			b := uint8(i)
			if s.isNaN(b) || s.isInf(b) {
				continue
			}
			v := s.value(b)
			for _, sat := range []bool{true, false} {
				want := b
				if s.noNegZero && v == 0 {
					want = 0
				}
				if got := s.enc(v, sat); got != want {
					t.Errorf("%s encode(%v, sat=%v) = %#x, want %#x", s.name, v, sat, got, want)
				}
			}
			if b&signBit == 0 {
				pos = append(pos, b)
			}
		}
		sort.Slice(pos, func(i, j int) bool { return s.value(pos[i]) < s.value(pos[j]) })
		for k := 0; k+1 < len(pos); k++ {
			lo, hi := pos[k], pos[k+1]
			mid := (s.value(lo) + s.value(hi)) / 2
			even := lo
			if lo&1 == 1 {
				even = hi
			}
			cases := []struct {
				v    float64
				want uint8
			}{
				{mid, even},
				{math.Nextafter(mid, math.Inf(1)), hi},
				{math.Nextafter(mid, math.Inf(-1)), lo},
			}
			for _, c := range cases {
				if got := s.enc(c.v, true); got != c.want {
					t.Errorf("%s encode(%v) = %#x, want %#x", s.name, c.v, got, c.want)
				}
				// Negative values mirror positive ones (no -0 in fnuz).
				wantNeg := c.want | signBit
				if s.noNegZero && c.want == 0 {
					wantNeg = 0
				}
				if got := s.enc(-c.v, true); got != wantNeg {
					t.Errorf("%s encode(%v) = %#x, want %#x", s.name, -c.v, got, wantNeg)
				}
			}
		}
		// Overflow: beyond the largest value, and infinities.
		for _, v := range []float64{s.max * 1.5, s.max * 1e6, math.Inf(1)} {
			for _, neg := range []bool{false, true} {
				x := v
				if neg {
					x = -v
				}
				wantSat := s.maxBits | lbIf(neg, signBit, 0)
				if got := s.enc(x, true); got != wantSat {
					t.Errorf("%s encode(%v, sat) = %#x, want %#x", s.name, x, got, wantSat)
				}
				wantNo := s.overflow(neg)
				if got := s.enc(x, false); got != wantNo {
					t.Errorf("%s encode(%v, no sat) = %#x, want %#x", s.name, x, got, wantNo)
				}
			}
		}
	}
}

func TestLowFloatNaN(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name string
		got  uint8
		want uint8
	}{
		{"e4m3fn", uint8(ToF8E4M3FN(nan, true)), 0x7f},
		{"e4m3fnuz", uint8(ToF8E4M3FNUZ(nan, true)), 0x80},
		{"e5m2", uint8(ToF8E5M2(nan, true)), 0x7e},
		{"e5m2fnuz", uint8(ToF8E5M2FNUZ(nan, false)), 0x80},
		{"e2m1", uint8(ToF4E2M1(nan)), 0x8},
		{"e8m0", uint8(ToF8E8M0(float32(nan), true, E8M0Up)), 0xff},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s NaN -> %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

func TestE8M0(t *testing.T) {
	for e := range 256 {
		got := float64(F8E8M0(e).Float32())
		if e == 0xff {
			if !math.IsNaN(got) {
				t.Errorf("e8m0 0xff = %v, want NaN", got)
			}
			continue
		}
		if want := math.Pow(2, float64(e-127)); got != want {
			t.Errorf("e8m0 %#x = %v, want %v", e, got, want)
		}
		for _, m := range []E8M0Rounding{E8M0Up, E8M0Down, E8M0Nearest} {
			if r := ToF8E8M0(float32(got), true, m); int(r) != e {
				t.Errorf("e8m0 encode(%v, mode %d) = %#x, want %#x", got, m, r, e)
			}
			if r := ToF8E8M0(float32(-got), true, m); int(r) != e {
				t.Errorf("e8m0 encode(%v, mode %d) = %#x, want %#x", -got, m, r, e)
			}
		}
	}
	cases := []struct {
		v    float32
		sat  bool
		mode E8M0Rounding
		want F8E8M0
	}{
		{1.25, true, E8M0Up, 128}, // 2
		{1.25, true, E8M0Down, 127},
		{1.25, true, E8M0Nearest, 127},
		{1.5, true, E8M0Nearest, 128}, // tie goes up
		{1.75, true, E8M0Nearest, 128},
		{1.75, true, E8M0Down, 127},
		{0.124, true, E8M0Up, 0x7c}, // 0.125
		{1.1, true, E8M0Up, 0x80},
		{0, true, E8M0Up, 0},
		{float32(math.Inf(1)), true, E8M0Up, 0xff},
		{1.5 * (1 << 127), true, E8M0Up, 0xfe},
		{1.5 * (1 << 127), false, E8M0Up, 0xff},
		{1.5 * (1 << 127), false, E8M0Nearest, 0xff},
		{1.5 * (1 << 127), true, E8M0Nearest, 0xfe},
		{1.5 * (1 << 127), false, E8M0Down, 0xfe},
		// Below 2^-126 (float32 subnormals): 2^-127 or 2^-126 by value.
		{1.25 * 0x1p-127, true, E8M0Up, 1},
		{1.25 * 0x1p-127, true, E8M0Nearest, 0},
		{1.5 * 0x1p-127, true, E8M0Nearest, 1},
		{1.5 * 0x1p-127, true, E8M0Down, 0},
		{0x1p-130, true, E8M0Up, 0},
	}
	for _, c := range cases {
		if got := ToF8E8M0(c.v, c.sat, c.mode); got != c.want {
			t.Errorf("ToF8E8M0(%v, sat=%v, mode %d) = %#x, want %#x", c.v, c.sat, c.mode, got, c.want)
		}
	}
}

func TestLowIntWrap(t *testing.T) {
	mod := func(v, m int64) int64 { return ((v % m) + m) % m }
	for v := int64(-40); v <= 40; v++ {
		if got, want := int64(ToU4(v)), mod(v, 16); got != want {
			t.Errorf("ToU4(%d) = %d, want %d", v, got, want)
		}
		if got, want := int64(ToI4(v)), mod(v+8, 16)-8; got != want {
			t.Errorf("ToI4(%d) = %d, want %d", v, got, want)
		}
		if got, want := int64(ToU2(v)), mod(v, 4); got != want {
			t.Errorf("ToU2(%d) = %d, want %d", v, got, want)
		}
		if got, want := int64(ToI2(v)), mod(v+2, 4)-2; got != want {
			t.Errorf("ToI2(%d) = %d, want %d", v, got, want)
		}
	}
}

func TestLowBitTensors(t *testing.T) {
	types := []DType{Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Uint4, Int4, Float4E2M1, Float8E8M0, Uint2, Int2}
	vals := []float64{1, -2, 0.5, 3}
	want := map[DType][]float64{
		Uint4: {1, 14, 0, 3}, Int4: {1, -2, 0, 3}, Uint2: {1, 2, 0, 3}, Int2: {1, -2, 0, -1},
		Float8E8M0: {1, 2, 0.5, 4}, // magnitude rounded up to a power of two
	}
	for _, dt := range types {
		if !dt.Supported() || dt.Size() != 1 || !dt.IsLowBit() || dt.IsFloat() || dt.IsInt() {
			t.Errorf("%v: Supported/Size/IsLowBit/IsFloat/IsInt wrong", dt)
		}
		if p, ok := ParseDType(dt.String()); !ok || p != dt {
			t.Errorf("ParseDType(%q) = %v, %v", dt.String(), p, ok)
		}
		x := FromFloat64s(dt, Shape{2, 2}, vals)
		if x.DType() != dt || DTypeOf(x.Data()) != dt {
			t.Errorf("%v: FromFloat64s gave %v", dt, x.DType())
		}
		w := want[dt]
		if w == nil {
			w = vals
		}
		got := x.Float64s()
		for i := range w {
			if got[i] != w[i] || x.At(i) != w[i] {
				t.Errorf("%v: element %d = %v (At %v), want %v", dt, i, got[i], x.At(i), w[i])
			}
		}
		c := x.Clone()
		p, err := c.Prefix(Shape{3})
		if err != nil || p.Len() != 3 || p.At(2) != w[2] {
			t.Errorf("%v: Prefix = %v, %v", dt, p, err)
		}
		_ = x.String()
	}
	if Int4.Bits() != 4 || Float4E2M1.PackedBytes(5) != 3 || Int2.PackedBytes(5) != 2 || Float8E5M2.PackedBytes(5) != 5 {
		t.Errorf("Bits/PackedBytes wrong")
	}
	if got := FromInt64sAs(Int4, Shape{3}, []int64{7, 8, -9}).Int64s(); got[0] != 7 || got[1] != -8 || got[2] != 7 {
		t.Errorf("FromInt64sAs(Int4) = %v, want [7 -8 7]", got)
	}
}
