package train

import (
	"fmt"
	"reflect"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// takeRows returns the rows idx of t (axis 0) as a new tensor.
func takeRows(t *tensor.Tensor, idx []int) (*tensor.Tensor, error) {
	if t.Rank() == 0 {
		return nil, fmt.Errorf("train: a scalar has no rows")
	}
	n := t.Shape()[0]
	src := reflect.ValueOf(t.Data())
	per := 0
	if n > 0 {
		per = t.Len() / n
	}
	dst := reflect.MakeSlice(src.Type(), len(idx)*per, len(idx)*per)
	for i, r := range idx {
		if r < 0 || r >= n {
			return nil, fmt.Errorf("train: row %d out of range [0, %d)", r, n)
		}
		reflect.Copy(dst.Slice(i*per, (i+1)*per), src.Slice(r*per, (r+1)*per))
	}
	shape := t.Shape().Clone()
	shape[0] = len(idx)
	return tensor.FromSlice(shape, dst.Interface())
}

// rowRange returns rows [lo, hi) of every tensor.
func rowRange(ts []*tensor.Tensor, idx []int) ([]*tensor.Tensor, error) {
	out := make([]*tensor.Tensor, len(ts))
	for i, t := range ts {
		r, err := takeRows(t, idx)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// concatRows stacks tensors of equal trailing shape along axis 0.
func concatRows(parts []*tensor.Tensor) (*tensor.Tensor, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("train: nothing to concatenate")
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	first := reflect.ValueOf(parts[0].Data())
	total, rows := 0, 0
	for _, p := range parts {
		total += p.Len()
		rows += p.Shape()[0]
	}
	dst := reflect.MakeSlice(first.Type(), 0, total)
	for _, p := range parts {
		dst = reflect.AppendSlice(dst, reflect.ValueOf(p.Data()))
	}
	shape := parts[0].Shape().Clone()
	shape[0] = rows
	return tensor.FromSlice(shape, dst.Interface())
}

func seq(lo, hi int) []int {
	out := make([]int, hi-lo)
	for i := range out {
		out[i] = lo + i
	}
	return out
}

// numRows checks that all tensors have the same number of rows.
func numRows(what string, ts []*tensor.Tensor) (int, error) {
	n := -1
	for i, t := range ts {
		if t == nil || t.Rank() == 0 {
			return 0, fmt.Errorf("train: %s %d has no batch dimension", what, i)
		}
		if n >= 0 && t.Shape()[0] != n {
			return 0, fmt.Errorf("train: %s %d has %d samples, the first has %d", what, i, t.Shape()[0], n)
		}
		n = t.Shape()[0]
	}
	return n, nil
}
