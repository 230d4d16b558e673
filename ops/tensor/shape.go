package tensor

import (
	"fmt"
	"strconv"
	"strings"
)

// Shape lists dimension sizes, outermost first. A scalar has an empty shape.
type Shape []int

// Size is the number of elements: the product of the dimensions (1 for a scalar).
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Clone returns a copy of s (never nil).
func (s Shape) Clone() Shape {
	c := make(Shape, len(s))
	copy(c, s)
	return c
}

// Equal reports whether s and o have the same dimensions.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Strides returns row-major element strides for s.
func (s Shape) Strides() []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

// String formats s as "(2, 3, 4)".
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Broadcast returns the numpy-style broadcast of the given shapes: shapes are
// right-aligned and each dimension must be equal or 1.
func Broadcast(shapes ...Shape) (Shape, error) {
	rank := 0
	for _, s := range shapes {
		if len(s) > rank {
			rank = len(s)
		}
	}
	out := make(Shape, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case d == o || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("tensor: shapes %v cannot be broadcast together (dimension %d: %d vs %d)", shapes, off+i-rank, o, d)
			}
		}
	}
	return out, nil
}

// BroadcastStrides returns strides that read a tensor of shape s as if it had
// shape out (which must be a broadcast of s): broadcast dimensions get stride 0.
func BroadcastStrides(s, out Shape) []int {
	st := make([]int, len(out))
	own := s.Strides()
	off := len(out) - len(s)
	for i := range s {
		if s[i] != 1 {
			st[off+i] = own[i]
		}
	}
	return st
}

// BroadcastIndex returns, for every element of out in row-major order, the
// flat index into a tensor of shape s broadcast to out.
func BroadcastIndex(s, out Shape) []int {
	n := out.Size()
	idx := make([]int, n)
	if s.Equal(out) {
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	st := BroadcastStrides(s, out)
	rank := len(out)
	ctr := make([]int, rank)
	cur := 0
	for i := 0; i < n; i++ {
		idx[i] = cur
		for d := rank - 1; d >= 0; d-- {
			ctr[d]++
			cur += st[d]
			if ctr[d] < out[d] {
				break
			}
			cur -= st[d] * ctr[d]
			ctr[d] = 0
		}
	}
	return idx
}

// NormAxis maps a possibly negative axis into [0, rank). It returns an error
// when the axis is out of range.
func NormAxis(axis, rank int) (int, error) {
	if axis < -rank || axis >= rank {
		if !(rank == 0 && (axis == 0 || axis == -1)) {
			return 0, fmt.Errorf("tensor: axis %d out of range for rank %d", axis, rank)
		}
		return 0, nil
	}
	if axis < 0 {
		axis += rank
	}
	return axis, nil
}
