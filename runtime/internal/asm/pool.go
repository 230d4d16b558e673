package asm

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
		best, at := r0[j], 0
		if v := r0[j+1]; v > best {
			best, at = v, 1
		}
		if v := r1[j]; v > best {
			best, at = v, 2
		}
		if v := r1[j+1]; v > best {
			at = 3
		}
		d0[j], d0[j+1], d1[j], d1[j+1] = 0, 0, 0, 0
		switch at {
		case 0:
			d0[j] = g
		case 1:
			d0[j+1] = g
		case 2:
			d1[j] = g
		default:
			d1[j+1] = g
		}
	}
}
