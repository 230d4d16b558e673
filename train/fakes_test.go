package train

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/kiln-ml/kiln/train/layer"
)

// Small stand-ins for catalog layers, so the model code is tested on its
// own. Classes with Keras names are registered only when the catalog does
// not provide them (then the tests also exercise the real layers);
// "KilnTest*" classes are always the fakes.

type fakeDense struct {
	layer.Base
	Units   int   `json:"units"`
	UseBias *bool `json:"use_bias"`
	kernel  *layer.Weight
	bias    *layer.Weight
}

func (d *fakeDense) Build(in []layer.Shape) ([]layer.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("want 1 input, got %d", len(in))
	}
	x := in[0]
	if !d.Built {
		d.kernel = d.AddWeight("kernel", []int{x[len(x)-1], d.Units}, true)
		if d.UseBias == nil || *d.UseBias {
			d.bias = d.AddWeight("bias", []int{d.Units}, true)
		}
		d.Built = true
	}
	out := x.Clone()
	out[len(out)-1] = d.Units
	return []layer.Shape{out}, nil
}

func (d *fakeDense) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	x := in[0]
	y := b.Op("MatMul", nil, x.Name, b.Param(d.kernel))
	if d.bias != nil {
		y = b.Op("Add", nil, y, b.Param(d.bias))
	}
	s := x.Shape.Clone()
	s[len(s)-1] = d.Units
	return []layer.Tensor{{Name: y, Shape: s, DType: x.DType, Mask: x.Mask}}, nil
}

// fakeNorm has a trainable and a non-trainable weight, like
// BatchNormalization's gamma and moving_mean.
type fakeNorm struct{ layer.Base }

func (n *fakeNorm) Build(in []layer.Shape) ([]layer.Shape, error) {
	if !n.Built {
		c := in[0][len(in[0])-1]
		n.AddWeight("gamma", []int{c}, true)
		n.AddWeight("moving_mean", []int{c}, false)
		n.Built = true
	}
	return []layer.Shape{in[0].Clone()}, nil
}

func (n *fakeNorm) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	y := b.Op("Sub", nil, in[0].Name, b.Param(n.W[1]))
	y = b.Op("Mul", nil, y, b.Param(n.W[0]))
	t := in[0]
	t.Name = y
	return []layer.Tensor{t}, nil
}

// fakeAdd sums its inputs (a merge layer).
type fakeAdd struct{ layer.Base }

func (a *fakeAdd) Build(in []layer.Shape) ([]layer.Shape, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("want at least 2 inputs, got %d", len(in))
	}
	for _, s := range in[1:] {
		if !slices.Equal(s, in[0]) {
			return nil, fmt.Errorf("shapes %s and %s differ", in[0], s)
		}
	}
	return []layer.Shape{in[0].Clone()}, nil
}

func (a *fakeAdd) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	y := in[0].Name
	for _, t := range in[1:] {
		y = b.Op("Add", nil, y, t.Name)
	}
	t := in[0]
	t.Name = y
	return []layer.Tensor{t}, nil
}

// fakeIdentity passes its input through (Dropout, Rescaling by 1).
type fakeIdentity struct{ layer.Base }

func (f *fakeIdentity) Build(in []layer.Shape) ([]layer.Shape, error) {
	return []layer.Shape{in[0].Clone()}, nil
}
func (f *fakeIdentity) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	return in[:1], nil
}

// fakeMask puts a mask on its output (as Embedding(mask_zero) does).
type fakeMask struct{ layer.Base }

func (f *fakeMask) Build(in []layer.Shape) ([]layer.Shape, error) {
	return []layer.Shape{in[0].Clone()}, nil
}
func (f *fakeMask) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	t := in[0]
	t.Mask = b.Op("Cast", nil, t.Name) // a stand-in mask value
	return []layer.Tensor{t}, nil
}

// fakeMaskRead fails unless its input carries a mask.
type fakeMaskRead struct{ layer.Base }

func (f *fakeMaskRead) Build(in []layer.Shape) ([]layer.Shape, error) {
	return []layer.Shape{in[0].Clone()}, nil
}
func (f *fakeMaskRead) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	if in[0].Mask == "" {
		return nil, fmt.Errorf("no mask arrived")
	}
	return in[:1], nil
}

// fakeCall records the keyword information of its calls.
type fakeCall struct {
	layer.Base
	built []layer.CallInfo
	ins   [][]layer.Shape
}

func (f *fakeCall) Build(in []layer.Shape) ([]layer.Shape, error) {
	return nil, fmt.Errorf("Build called instead of BuildCall")
}
func (f *fakeCall) BuildCall(in []layer.Shape, c *layer.CallInfo) ([]layer.Shape, error) {
	f.built = append(f.built, *c)
	f.ins = append(f.ins, in)
	return []layer.Shape{in[0].Clone()}, nil
}
func (f *fakeCall) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	return nil, fmt.Errorf("Lower called instead of LowerCall")
}
func (f *fakeCall) LowerCall(b *layer.Builder, in []layer.Tensor, c *layer.CallInfo) ([]layer.Tensor, error) {
	y := in[0].Name
	for _, t := range in[1:] {
		y = b.Op("Add", nil, y, t.Name)
	}
	t := in[0]
	t.Name = y
	return []layer.Tensor{t}, nil
}

// fakeConv2D and fakePool2D compute Keras's output shapes (channels_last).
type fakeConv2D struct {
	layer.Base
	Filters    int             `json:"filters"`
	KernelSize json.RawMessage `json:"kernel_size"`
	Padding    string          `json:"padding"`
}

func pair(raw json.RawMessage) int {
	var one int
	if json.Unmarshal(raw, &one) == nil {
		return one
	}
	var two []int
	_ = json.Unmarshal(raw, &two)
	if len(two) > 0 {
		return two[0]
	}
	return 1
}

func (c *fakeConv2D) Build(in []layer.Shape) ([]layer.Shape, error) {
	k := pair(c.KernelSize)
	x := in[0]
	if !c.Built {
		c.AddWeight("kernel", []int{k, k, x[3], c.Filters}, true)
		c.AddWeight("bias", []int{c.Filters}, true)
		c.Built = true
	}
	h, w := x[1], x[2]
	if c.Padding != "same" {
		h, w = h-k+1, w-k+1
	}
	return []layer.Shape{{x[0], h, w, c.Filters}}, nil
}
func (c *fakeConv2D) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	return nil, fmt.Errorf("fake Conv2D does not lower")
}

type fakePool2D struct {
	layer.Base
	PoolSize json.RawMessage `json:"pool_size"`
}

func (p *fakePool2D) Build(in []layer.Shape) ([]layer.Shape, error) {
	k := pair(p.PoolSize)
	x := in[0]
	return []layer.Shape{{x[0], (x[1]-k)/k + 1, (x[2]-k)/k + 1, x[3]}}, nil
}
func (p *fakePool2D) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	return nil, fmt.Errorf("fake pooling does not lower")
}

type fakeGAP2D struct{ layer.Base }

func (p *fakeGAP2D) Build(in []layer.Shape) ([]layer.Shape, error) {
	return []layer.Shape{{in[0][0], in[0][3]}}, nil
}
func (p *fakeGAP2D) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	return nil, fmt.Errorf("fake pooling does not lower")
}

func init() {
	always := map[string]layer.Factory{
		"KilnTestDense":    func() layer.Layer { return &fakeDense{} },
		"KilnTestNorm":     func() layer.Layer { return &fakeNorm{} },
		"KilnTestAdd":      func() layer.Layer { return &fakeAdd{} },
		"KilnTestIdentity": func() layer.Layer { return &fakeIdentity{} },
		"KilnTestMask":     func() layer.Layer { return &fakeMask{} },
		"KilnTestMaskRead": func() layer.Layer { return &fakeMaskRead{} },
		"KilnTestCall":     func() layer.Layer { return &fakeCall{} },
	}
	for c, f := range always {
		layer.Register(c, f)
	}
	known := map[string]bool{}
	for _, c := range layer.Classes() {
		known[c] = true
	}
	ifMissing := map[string]layer.Factory{
		"Dense":                  func() layer.Layer { return &fakeDense{} },
		"Add":                    func() layer.Layer { return &fakeAdd{} },
		"Dropout":                func() layer.Layer { return &fakeIdentity{} },
		"Rescaling":              func() layer.Layer { return &fakeIdentity{} },
		"Conv2D":                 func() layer.Layer { return &fakeConv2D{} },
		"MaxPooling2D":           func() layer.Layer { return &fakePool2D{} },
		"GlobalAveragePooling2D": func() layer.Layer { return &fakeGAP2D{} },
	}
	for c, f := range ifMissing {
		if !known[c] {
			layer.Register(c, f)
		}
	}
}
