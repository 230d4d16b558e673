package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train/layer"
)

// NewSequential builds a Keras 3 Sequential model from Go layers (made
// with layer.Make, layer.New or the layer constructors) on inputs of the
// given shape (batch first, -1 for None) and float32 dtype, and builds its
// weights. Unnamed layers get Keras's default names.
// The weights start at zero; call InitWeights for Keras's initializers.
func NewSequential(name string, inputShape layer.Shape, layers ...layer.Layer) (*Model, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("train: Sequential model %q has no layers", name)
	}
	if name == "" {
		name = "sequential"
	}
	m := &Model{version: layer.Version{Major: 3}, sequential: true, byName: map[string]layer.Layer{}, calls: map[string][]*Call{}}
	m.LayerName = name
	m.ClassName = "Sequential"
	if err := nameLayers(name, layers); err != nil {
		return nil, err
	}
	in := &layer.InputLayer{BatchShape: inputShape.Clone(), DType: "float32"}
	in.LayerName = layers[0].Name() + "_input"
	in.ClassName = "InputLayer"
	if err := m.addLayer(in); err != nil {
		return nil, err
	}
	prev := m.addCall(in, nil)
	m.implicitInput = true
	for _, l := range layers {
		if err := m.addLayer(l); err != nil {
			return nil, err
		}
		c := m.addCall(l, []TensorRef{{Layer: prev.Layer.Name(), Node: prev.Index}})
		c.Info.NArgs = 1
		prev = c
	}
	m.inputs = []TensorRef{{Layer: in.LayerName}}
	m.outputs = []TensorRef{{Layer: prev.Layer.Name(), Node: prev.Index}}
	if _, err := m.Build(nil); err != nil {
		return nil, err
	}
	return m, nil
}

// InitWeights fills the float32 weights with Keras's default initializers,
// drawn from a generator seeded with seed: kernels (and "depthwise_kernel",
// "pointwise_kernel") glorot_uniform, U(-l, l) with
// l = sqrt(6 / (fan_in + fan_out)) where a convolution kernel's fans are
// its receptive field times its input or output channels; recurrent
// kernels orthogonal; embeddings U(-0.05, 0.05); gamma and
// moving_variance ones; everything else zeros. Layer-specific initializer
// configs are not read.
func (m *Model) InitWeights(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed^0xda3e39cb94b95bdb))
	for _, w := range m.Weights() {
		if w.Value == nil || w.Value.DType() != tensor.Float32 {
			continue
		}
		d := w.Value.F32()
		switch w.Name {
		case "kernel", "depthwise_kernel", "pointwise_kernel":
			fanIn, fanOut := fans(w.Shape)
			lim := math.Sqrt(6 / float64(fanIn+fanOut))
			for i := range d {
				d[i] = float32((rng.Float64()*2 - 1) * lim)
			}
		case "recurrent_kernel":
			orthogonal(d, w.Shape, rng)
		case "embeddings":
			for i := range d {
				d[i] = float32((rng.Float64()*2 - 1) * 0.05)
			}
		case "gamma", "moving_variance":
			for i := range d {
				d[i] = 1
			}
		default:
			clear(d)
		}
	}
}

// fans returns Keras's fan_in and fan_out of a weight shape.
func fans(s []int) (int, int) {
	switch len(s) {
	case 0:
		return 1, 1
	case 1:
		return s[0], s[0]
	case 2:
		return s[0], s[1]
	}
	rf := 1
	for _, v := range s[:len(s)-2] {
		rf *= v
	}
	return rf * s[len(s)-2], rf * s[len(s)-1]
}

// orthogonal fills a (rows, cols) matrix with orthonormal rows or columns
// (Gram-Schmidt on normal samples).
func orthogonal(d []float32, s []int, rng *rand.Rand) {
	if len(s) != 2 {
		for i := range d {
			d[i] = float32(rng.NormFloat64() * 0.05)
		}
		return
	}
	r, c := s[0], s[1]
	// Orthonormalise the longer-side vectors: work on columns when r >= c.
	n, k := c, r // k vectors of length n
	byRow := true
	if r >= c {
		n, k, byRow = r, c, false
	}
	vecs := make([][]float64, k)
	for i := range vecs {
		v := make([]float64, n)
		for {
			for j := range v {
				v[j] = rng.NormFloat64()
			}
			for _, u := range vecs[:i] {
				dot := 0.0
				for j := range v {
					dot += v[j] * u[j]
				}
				for j := range v {
					v[j] -= dot * u[j]
				}
			}
			norm := 0.0
			for _, x := range v {
				norm += x * x
			}
			if norm > 1e-10 {
				norm = math.Sqrt(norm)
				for j := range v {
					v[j] /= norm
				}
				break
			}
		}
		vecs[i] = v
	}
	for i := range r {
		for j := range c {
			if byRow {
				d[i*c+j] = float32(vecs[i][j])
			} else {
				d[i*c+j] = float32(vecs[j][i])
			}
		}
	}
}

// Freeze marks the named layers (top level or nested) not trainable. Call
// Compile afterwards, as in Keras.
func (m *Model) Freeze(names ...string) error {
	for _, n := range names {
		l := m.Layer(n)
		if l == nil {
			return fmt.Errorf("train: Freeze: model %q has no layer %q", m.Name(), n)
		}
		layer.BaseOf(l).SetTrainable(false)
	}
	return nil
}

// FreezePrefix marks every top-level layer whose name starts with prefix
// not trainable and returns how many it froze.
func (m *Model) FreezePrefix(prefix string) int {
	n := 0
	for _, l := range m.layers {
		if _, isIn := l.(*layer.InputLayer); isIn {
			continue
		}
		if len(l.Name()) >= len(prefix) && l.Name()[:len(prefix)] == prefix {
			layer.BaseOf(l).SetTrainable(false)
			n++
		}
	}
	return n
}

// Unfreeze marks the named layers trainable.
func (m *Model) Unfreeze(names ...string) error {
	for _, n := range names {
		l := m.Layer(n)
		if l == nil {
			return fmt.Errorf("train: Unfreeze: model %q has no layer %q", m.Name(), n)
		}
		layer.BaseOf(l).SetTrainable(true)
	}
	return nil
}
