package asm

import "math"

// MaxPool2x2 sets dst[i] to the maximum of the 2x2 window r0[2i],
// r0[2i+1], r1[2i], r1[2i+1] (a stride-2 max pooling row), taken as the
// pooling reference takes it: the first element, then each strictly
// greater one in that order, so a NaN first is kept and a NaN later is
// passed over. r0 and r1 need 2*len(dst) elements.
func MaxPool2x2(dst, r0, r1 []float32) {
	n := len(dst)
	maxpool2x2(dst, r0[:2*n], r1[:2*n])
}

func maxpool2x2Go(dst, r0, r1 []float32) {
	r0, r1 = r0[:2*len(dst)], r1[:2*len(dst)]
	for i := range dst {
		m := r0[2*i]
		if v := r0[2*i+1]; v > m {
			m = v
		}
		if v := r1[2*i]; v > m {
			m = v
		}
		if v := r1[2*i+1]; v > m {
			m = v
		}
		dst[i] = m
	}
}

// MaxPoolGrad2x2 is the gradient of MaxPool2x2 for one output row: for
// window i it writes dy[i] at the window's maximum (chosen as MaxPool2x2
// chooses it: the first element, then each strictly greater one; a NaN
// first keeps the first place) and zeros at its other three places, into
// d0[2i], d0[2i+1] (from r0) and d1[2i], d1[2i+1] (from r1). d0, d1, r0
// and r1 need 2*len(dy) elements.
func MaxPoolGrad2x2(d0, d1, r0, r1, dy []float32) {
	n := len(dy)
	maxpoolgrad2x2(d0[:2*n], d1[:2*n], r0[:2*n], r1[:2*n], dy)
}

func maxpoolgrad2x2Go(d0, d1, r0, r1, dy []float32) {
	d0, d1, r0, r1 = d0[:2*len(dy)], d1[:2*len(dy)], r0[:2*len(dy)], r1[:2*len(dy)]
	for i, g := range dy {
		j := 2 * i
		a, b, c, d := r0[j], r0[j+1], r1[j], r1[j+1]
		at := 0
		if a != a || b != b || c != c || d != d {
			// NaN compares false: the float chain keeps its meaning.
			best := a
			if b > best {
				best, at = b, 1
			}
			if c > best {
				best, at = c, 2
			}
			if d > best {
				at = 3
			}
		} else {
			// Ordered integer keys compare as the floats do (-0 and +0
			// made equal first), and integer selects compile to CMOV:
			// random data mispredicts branches.
			ka, kb, kc, kd := poolKey(a), poolKey(b), poolKey(c), poolKey(d)
			best := ka
			if kb > best {
				best, at = kb, 1
			}
			if kc > best {
				best, at = kc, 2
			}
			if kd > best {
				at = 3
			}
		}
		d0[j], d0[j+1], d1[j], d1[j+1] = 0, 0, 0, 0
		if at < 2 {
			d0[j+at] = g
		} else {
			d1[j+at-2] = g
		}
	}
}

// poolKey maps a non-NaN float32 to an int32 with the same order (-0 and
// +0 both to 0).
func poolKey(x float32) int32 {
	b := int32(math.Float32bits(x + 0))
	return b ^ (b >> 31 & 0x7fffffff)
}
