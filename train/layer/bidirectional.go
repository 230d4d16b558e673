package layer

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// rnnLayer is a recurrent layer a Bidirectional can wrap.
type rnnLayer interface {
	Layer
	recurrent() *RecurrentConfig
}

func (c *RecurrentConfig) recurrent() *RecurrentConfig { return c }

// Bidirectional is keras.layers.Bidirectional: it runs a forward copy of
// its recurrent layer and a backward one (go_backwards flipped; or the
// saved backward_layer) on the same input and merges their outputs. With
// return_sequences the backward output is reversed along time first, so
// both read step t at position t. merge_mode concat joins them along the
// last axis, sum adds, mul multiplies, ave is (y + y_rev) / 2 and null
// returns both. With return_state the outputs are followed by the forward
// states, then the backward states; extra inputs are the initial states,
// forward half first.
//
// Since Keras 2.2 the wrapped layers output zeros at masked steps when they
// return sequences (zero_output_for_mask); kiln does the same for files
// from those versions. Weights are the forward layer's, then the backward
// layer's; in a .keras file they live under forward_layer/ and
// backward_layer/.
type Bidirectional struct {
	Base
	MergeMode *string         `json:"merge_mode"`
	LayerCfg  json.RawMessage `json:"layer"`
	Backward  json.RawMessage `json:"backward_layer,omitempty"`
	// Forward and BackwardLayer are the wrapped layers.
	Forward, BackwardLayer rnnLayer `json:"-"`
	version                Version
}

func init() {
	Register("Bidirectional", func() Layer { return &Bidirectional{} })
}

// rnnNested decodes a nested {"class_name", "config"} layer config.
func rnnNested(raw json.RawMessage, ctx *DecodeContext) (Layer, error) {
	if ctx != nil && ctx.Layer != nil {
		return ctx.Layer(raw)
	}
	var obj struct {
		ClassName string          `json:"class_name"`
		Config    json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	if obj.ClassName == "" {
		return nil, fmt.Errorf("nested layer config has no class_name")
	}
	return New(obj.ClassName, obj.Config, ctx)
}

// DecodeConfig reads the wrapper and its layers.
func (l *Bidirectional) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	if ctx != nil {
		l.version = ctx.Version
	}
	if len(l.LayerCfg) == 0 {
		return fmt.Errorf("missing layer")
	}
	if l.MergeMode == nil {
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(raw, &keys)
		if _, ok := keys["merge_mode"]; !ok {
			m := "concat"
			l.MergeMode = &m
		}
	}
	if m := l.merge(); m != "" && m != "concat" && m != "sum" && m != "mul" && m != "ave" {
		return fmt.Errorf("merge_mode %q is not one of concat, sum, mul, ave, null: %w", m, ErrUnsupported)
	}
	fw, err := rnnNested(l.LayerCfg, ctx)
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	var bw Layer
	if len(l.Backward) > 0 && string(l.Backward) != "null" {
		if bw, err = rnnNested(l.Backward, ctx); err != nil {
			return fmt.Errorf("backward_layer: %w", err)
		}
	} else if bw, err = rnnNested(l.LayerCfg, ctx); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	var ok bool
	if l.Forward, ok = fw.(rnnLayer); !ok {
		return fmt.Errorf("wraps a %s, which is not a recurrent layer kiln knows: %w", fw.Class(), ErrUnsupported)
	}
	if l.BackwardLayer, ok = bw.(rnnLayer); !ok {
		return fmt.Errorf("backward_layer is a %s, which is not a recurrent layer kiln knows: %w", bw.Class(), ErrUnsupported)
	}
	if len(l.Backward) == 0 || string(l.Backward) == "null" {
		l.BackwardLayer.recurrent().GoBackwards = !l.Forward.recurrent().GoBackwards
		BaseOf(l.BackwardLayer).LayerName = "backward_" + strings.TrimPrefix(fw.Name(), "forward_")
		BaseOf(l.Forward).LayerName = "forward_" + strings.TrimPrefix(fw.Name(), "forward_")
	}
	f, bk := l.Forward.recurrent(), l.BackwardLayer.recurrent()
	if f.GoBackwards == bk.GoBackwards {
		return fmt.Errorf("forward and backward layers both have go_backwards=%v", f.GoBackwards)
	}
	if f.ReturnSequences != bk.ReturnSequences || f.ReturnState != bk.ReturnState {
		return fmt.Errorf("forward and backward layers differ in return_sequences or return_state")
	}
	return nil
}

func (l *Bidirectional) merge() string {
	if l.MergeMode == nil {
		return ""
	}
	return *l.MergeMode
}

// NewBidirectional wraps a recurrent layer the way Keras does: a forward
// copy and a backward one with go_backwards flipped. fw and bw must be
// distinct layers with the same config.
func NewBidirectional(name, mergeMode string, fw, bw Layer) (*Bidirectional, error) {
	f, ok1 := fw.(rnnLayer)
	b, ok2 := bw.(rnnLayer)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("layer: Bidirectional %q: both layers must be recurrent: %w", name, ErrUnsupported)
	}
	l := &Bidirectional{Base: Base{LayerName: name, ClassName: "Bidirectional"}, Forward: f, BackwardLayer: b}
	if mergeMode != "" {
		l.MergeMode = &mergeMode
	}
	b.recurrent().GoBackwards = !f.recurrent().GoBackwards
	return l, nil
}

// Build builds both layers and returns the merged output shapes.
func (l *Bidirectional) Build(in []Shape) ([]Shape, error) {
	if l.Forward == nil || l.BackwardLayer == nil {
		return nil, fmt.Errorf("Bidirectional %q: no wrapped layer", l.Name())
	}
	seq := in[:1]
	fo, err := l.Forward.Build(seq)
	if err != nil {
		return nil, fmt.Errorf("Bidirectional %q: forward: %w", l.Name(), err)
	}
	if _, err := l.BackwardLayer.Build(seq); err != nil {
		return nil, fmt.Errorf("Bidirectional %q: backward: %w", l.Name(), err)
	}
	if !l.Built {
		for _, part := range []struct {
			prefix string
			ly     Layer
		}{{"forward_layer/", l.Forward}, {"backward_layer/", l.BackwardLayer}} {
			for i, w := range part.ly.Weights() {
				p := w.Path
				if p == "" {
					p = fmt.Sprintf("vars/%d", i)
				}
				w.Path = part.prefix + p
				l.W = append(l.W, w)
			}
		}
		l.Built = true
	}
	out := fo[0].Clone()
	var res []Shape
	switch l.merge() {
	case "concat":
		out[len(out)-1] *= 2
		res = []Shape{out}
	case "":
		res = []Shape{out, out.Clone()}
	default:
		res = []Shape{out}
	}
	states := fo[1:]
	res = append(res, states...)
	for _, s := range states {
		res = append(res, s.Clone())
	}
	return res, nil
}

// rnnParamAs registers w as a graph param under name (made unique) unless
// it already is one, so wrapped layers' weights keep readable names.
func rnnParamAs(b *Builder, w *Weight, name string) {
	if _, ok := b.params[w]; ok {
		return
	}
	n := name
	for i := 1; b.G.Param(n) != nil; i++ {
		n = fmt.Sprintf("%s_%d", name, i)
	}
	b.G.Params = append(b.G.Params, &graph.Param{Name: n, Tensor: w.Value, Trainable: w.Trainable})
	b.params[w] = n
}

// rnnReverseTime reverses axis 1.
func rnnReverseTime(b *Builder, x string) string {
	return b.Op("Slice", nil, x, b.Ints(-1), b.Ints(math.MinInt64), b.Ints(1), b.Ints(-1))
}

// Lower runs both directions and merges them.
func (l *Bidirectional) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	fc, bc := l.Forward.recurrent(), l.BackwardLayer.recurrent()
	v := b.Version
	zero := fc.ReturnSequences && (v.Major == 0 || v.Major > 2 || (v.Major == 2 && v.Minor >= 2))
	fc.ZeroOutputForMask, bc.ZeroOutputForMask = zero, zero
	fin, bin := []Tensor{in[0]}, []Tensor{in[0]}
	if len(in) > 1 {
		st := in[1:]
		if len(st)%2 != 0 {
			return nil, fmt.Errorf("Bidirectional %q: %d initial states; want as many for each direction", l.Name(), len(st))
		}
		fin = append(fin, st[:len(st)/2]...)
		bin = append(bin, st[len(st)/2:]...)
	}
	lower := func(ly Layer, ins []Tensor) ([]Tensor, error) {
		for _, w := range ly.Weights() {
			rnnParamAs(b, w, l.Name()+"/"+ly.Name()+"/"+w.Name)
		}
		return ly.Lower(b, ins)
	}
	fo, err := lower(l.Forward, fin)
	if err != nil {
		return nil, fmt.Errorf("Bidirectional %q: %w", l.Name(), err)
	}
	bo, err := lower(l.BackwardLayer, bin)
	if err != nil {
		return nil, fmt.Errorf("Bidirectional %q: %w", l.Name(), err)
	}
	y, yr := fo[0], bo[0]
	if fc.ReturnSequences {
		yr.Name = rnnReverseTime(b, yr.Name)
	}
	var res []Tensor
	out := y
	switch l.merge() {
	case "concat":
		out.Name = b.Op("Concat", graph.Attrs{"axis": int64(-1)}, y.Name, yr.Name)
		out.Shape = y.Shape.Clone()
		out.Shape[len(out.Shape)-1] *= 2
	case "sum":
		out.Name = b.Op("Add", nil, y.Name, yr.Name)
	case "mul":
		out.Name = b.Op("Mul", nil, y.Name, yr.Name)
	case "ave":
		out.Name = b.Op("Div", nil, b.Op("Add", nil, y.Name, yr.Name), b.Const(tensor.Scalar(float32(2))))
	}
	if l.merge() == "" {
		res = []Tensor{y, yr}
	} else {
		res = []Tensor{out}
	}
	res = append(res, fo[1:]...)
	res = append(res, bo[1:]...)
	return res, nil
}
