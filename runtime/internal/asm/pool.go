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
