package h5

import (
	"fmt"
	"slices"
)

// convertKeras1 turns arrays saved by Keras 1 into the Keras 2 layout the
// layers build, as Keras 2's preprocess_weights_for_loading does:
//   - LSTM (and ConvLSTM2D): 12 arrays per cell, gates i, c, f, o, each
//     W, U, b, become kernel, recurrent_kernel, bias with gates i, f, c, o
//     concatenated on the last axis;
//   - GRU: 9 arrays per cell (gates z, r, h) become 3;
//   - convolution kernels stored as (filters, channels, rows, cols) are
//     transposed to (rows, cols, channels, filters), Conv1D kernels of
//     shape (length, 1, channels, filters) lose their unit axis.
//
// Wrappers (Bidirectional, TimeDistributed) are handled by converting
// every block of arrays that matches a cell. The target weights decide
// which rule applies, so a file already in the Keras 2 layout is left as it
// is. The Theano kernel flip is not applied here: Keras 2 does not flip
// Keras 1 files (they record no backend), and for Keras 2 Theano files the
// convolution layers flip their kernels themselves.
func convertKeras1(class string, arrays []*array, target []flatWeight) ([]*array, error) {
	switch {
	case len(target) > 0 && len(target)%3 == 0 && len(arrays) == 4*len(target):
		var out []*array
		for b := 0; b < len(arrays); b += 12 {
			blk := arrays[b : b+12]
			for _, idx := range [][]int{{0, 6, 3, 9}, {1, 7, 4, 10}, {2, 8, 5, 11}} {
				c, err := concatLast(blk[idx[0]], blk[idx[1]], blk[idx[2]], blk[idx[3]])
				if err != nil {
					return nil, err
				}
				out = append(out, c)
			}
		}
		arrays = out
	case len(target) > 0 && len(target)%3 == 0 && len(arrays) == 3*len(target):
		var out []*array
		for b := 0; b < len(arrays); b += 9 {
			blk := arrays[b : b+9]
			for _, idx := range [][]int{{0, 3, 6}, {1, 4, 7}, {2, 5, 8}} {
				c, err := concatLast(blk[idx[0]], blk[idx[1]], blk[idx[2]])
				if err != nil {
					return nil, err
				}
				out = append(out, c)
			}
		}
		arrays = out
	}
	if len(arrays) != len(target) {
		return arrays, nil
	}
	for i, a := range arrays {
		want := target[i].w.Shape
		if slices.Equal(a.Shape, want) {
			continue
		}
		if len(a.Shape) == 4 && len(want) == 3 {
			// Conv1D: (length, 1, channels, filters), or the Keras 1.1
			// (filters, channels, length, 1).
			b := a
			if !(a.Shape[1] == 1 && a.Shape[0] == want[0]) && a.Shape[3] == 1 {
				b = transpose(a, []int{2, 3, 1, 0})
			}
			if b.Shape[1] == 1 {
				arrays[i] = &array{Shape: []int{b.Shape[0], b.Shape[2], b.Shape[3]}, Data: b.Data}
			}
			continue
		}
		for _, perm := range kernelPerms(len(a.Shape)) {
			if t := permShape(a.Shape, perm); slices.Equal(t, want) {
				arrays[i] = transpose(a, perm)
				break
			}
		}
	}
	return arrays, nil
}

// kernelPerms lists the Keras 1 -> 2 kernel transpositions by rank:
// channels_first Conv2D/ConvLSTM2D (2,3,1,0), Conv2DTranspose (0,1,3,2)
// and (2,3,0,1), Conv3D (2,3,4,1,0).
func kernelPerms(rank int) [][]int {
	switch rank {
	case 4:
		return [][]int{{2, 3, 1, 0}, {0, 1, 3, 2}, {2, 3, 0, 1}}
	case 5:
		return [][]int{{2, 3, 4, 1, 0}}
	}
	return nil
}

func permShape(s, perm []int) []int {
	out := make([]int, len(perm))
	for i, p := range perm {
		out[i] = s[p]
	}
	return out
}

// transpose permutes the axes of a row-major array (numpy.transpose).
func transpose(a *array, perm []int) *array {
	r := len(a.Shape)
	out := &array{Shape: permShape(a.Shape, perm), Data: make([]float32, len(a.Data))}
	inStrides := make([]int, r)
	st := 1
	for i := r - 1; i >= 0; i-- {
		inStrides[i] = st
		st *= a.Shape[i]
	}
	idx := make([]int, r)
	for o := range out.Data {
		src := 0
		for k := 0; k < r; k++ {
			src += idx[k] * inStrides[perm[k]]
		}
		out.Data[o] = a.Data[src]
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < out.Shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}

// concatLast concatenates arrays of equal leading shape on the last axis.
func concatLast(as ...*array) (*array, error) {
	lead := as[0].Shape[:max(len(as[0].Shape)-1, 0)]
	outer := 1
	for _, d := range lead {
		outer *= d
	}
	total := 0
	for _, a := range as {
		if len(a.Shape) != len(as[0].Shape) || !slices.Equal(a.Shape[:len(lead)], lead) || len(a.Shape) == 0 {
			return nil, fmt.Errorf("per-gate arrays of shapes %v and %v cannot be concatenated", as[0].Shape, a.Shape)
		}
		total += a.Shape[len(a.Shape)-1]
	}
	out := &array{Shape: append(slices.Clone(lead), total), Data: make([]float32, 0, outer*total)}
	for o := 0; o < outer; o++ {
		for _, a := range as {
			n := a.Shape[len(a.Shape)-1]
			out.Data = append(out.Data, a.Data[o*n:(o+1)*n]...)
		}
	}
	return out, nil
}
