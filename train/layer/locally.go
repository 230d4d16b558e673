package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// LocallyConnected is Keras's LocallyConnected1D and LocallyConnected2D
// (implementation 1, and Keras 1's layers of the same names): a
// convolution whose weights differ at every output position.
//
//	y[n, p, f] = act(bias[p, f] + sum_q patch(x, p)[q] * kernel[p, q, f])
//
// where p runs over output positions in row-major order and patch(x, p) is
// the window at p flattened as (k1, .., kr, channels) for channels_last and
// (channels, k1, .., kr) for channels_first data. Weights: kernel
// (positions, prod(kernel_size)*channels, filters) and bias (out1, .., outr,
// filters). Only padding "valid" exists in Keras; the spatial input sizes
// must be known. Implementations 2 and 3 (which save a dense or sparse
// kernel of another shape) are rejected.
type LocallyConnected struct {
	Base
	ConvConfig
	Implementation int `json:"implementation,omitempty"`
}

// DecodeConfig reads a Keras 1, 2 config.
func (l *LocallyConnected) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	if err := l.decode(raw, ctx, l.rank, l); err != nil {
		return err
	}
	l.layout = convLayoutKeras
	if l.Implementation > 1 {
		return fmt.Errorf("implementation %d (only implementation 1's kernel layout is supported): %w", l.Implementation, ErrUnsupported)
	}
	if l.Padding != "valid" {
		return fmt.Errorf("padding %q: %w", l.Padding, ErrUnsupported)
	}
	return nil
}

// Build creates kernel and bias.
func (l *LocallyConnected) Build(in []Shape) ([]Shape, error) {
	if err := l.ready(); err != nil {
		return nil, err
	}
	if err := convCheckRank(in, l.rank, "LocallyConnected"); err != nil {
		return nil, err
	}
	sp, ch := l.inShape(in[0])
	out := l.outSpatial(sp)
	positions := 1
	for i, o := range out {
		if sp[i] < 0 || o < 1 {
			return nil, fmt.Errorf("locally connected layer %q: spatial sizes of input %v must be known and fit the kernel", l.Name(), in[0])
		}
		positions *= o
	}
	if ch < 1 || l.Filters < 1 {
		return nil, fmt.Errorf("locally connected layer %q: channels of input %v and filters must be known", l.Name(), in[0])
	}
	if !l.Built {
		kk := 1
		for _, k := range l.k {
			kk *= k
		}
		l.AddWeight("kernel", []int{positions, kk * ch, l.Filters}, true)
		if l.useBias() {
			l.AddWeight("bias", append(append([]int(nil), out...), l.Filters), true)
		}
		l.Built = true
	}
	return []Shape{convShape(in[0][0], out, l.Filters, l.channelsFirst)}, nil
}

// Lower gathers every window with one Gather over the flattened spatial
// axes, multiplies each position's patch batch by its own kernel (a batched
// MatMul over positions), adds the bias and reshapes to the output.
func (l *LocallyConnected) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	outShapes, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	sp, ch := l.inShape(in[0].Shape)
	out := l.outSpatial(sp)
	r := l.rank
	inStride := tensor.Shape(sp).Strides()
	P, K, S := 1, 1, 1
	for i := 0; i < r; i++ {
		P *= out[i]
		K *= l.k[i]
		S *= sp[i]
	}
	// idx[p, q]: flat input position of kernel offset q at output position p.
	idx := make([]int64, 0, P*K)
	op, kq := make([]int, r), make([]int, r)
	for p := 0; p < P; p++ {
		rem := p
		for i := r - 1; i >= 0; i-- {
			op[i] = rem % out[i]
			rem /= out[i]
		}
		for q := 0; q < K; q++ {
			rem := q
			for i := r - 1; i >= 0; i-- {
				kq[i] = rem % l.k[i]
				rem /= l.k[i]
			}
			flat := 0
			for i := 0; i < r; i++ {
				flat += (op[i]*l.s[i] + kq[i]*l.d[i]) * inStride[i]
			}
			idx = append(idx, int64(flat))
		}
	}
	ind := b.Const(tensor.FromInt64s(tensor.Shape{P, K}, idx))
	x := in[0].Name
	var patches string
	if l.channelsFirst {
		x = b.Op("Reshape", nil, x, b.Ints(-1, int64(ch), int64(S)))
		g := b.Op("Gather", graph.Attrs{"axis": int64(2)}, x, ind)           // (N, C, P, K)
		g = b.Op("Transpose", graph.Attrs{"perm": []int64{2, 0, 1, 3}}, g)   // (P, N, C, K)
		patches = b.Op("Reshape", nil, g, b.Ints(int64(P), -1, int64(ch*K))) // (P, N, C*K)
	} else {
		x = b.Op("Reshape", nil, x, b.Ints(-1, int64(S), int64(ch)))
		g := b.Op("Gather", graph.Attrs{"axis": int64(1)}, x, ind)           // (N, P, K, C)
		g = b.Op("Transpose", graph.Attrs{"perm": []int64{1, 0, 2, 3}}, g)   // (P, N, K, C)
		patches = b.Op("Reshape", nil, g, b.Ints(int64(P), -1, int64(K*ch))) // (P, N, K*C)
	}
	y := b.Op("MatMul", nil, patches, b.Param(l.W[0]))              // (P, N, F)
	y = b.Op("Transpose", graph.Attrs{"perm": []int64{1, 0, 2}}, y) // (N, P, F)
	shape := []int64{-1}
	for _, o := range out {
		shape = append(shape, int64(o))
	}
	y = b.Op("Reshape", nil, y, b.Ints(append(shape, int64(l.Filters))...)) // (N, out..., F)
	if l.useBias() {
		y = b.Op("Add", nil, y, b.Param(l.W[1]))
	}
	if l.channelsFirst {
		y = convToFirst(b, y, r)
	}
	y, err = l.Activation.Lower(b, y)
	if err != nil {
		return nil, err
	}
	return []Tensor{{Name: y, Shape: outShapes[0], DType: in[0].DType}}, nil
}

func init() {
	Register("LocallyConnected1D", func() Layer { return &LocallyConnected{ConvConfig: ConvConfig{rank: 1}} })
	Register("LocallyConnected2D", func() Layer { return &LocallyConnected{ConvConfig: ConvConfig{rank: 2}} })
}
