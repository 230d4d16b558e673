package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
)

// convKernelLayout says how a saved convolution kernel is laid out.
type convKernelLayout int

const (
	// convLayoutKeras is Keras 2/3 (and Keras 1 "tf"): (k1..kr, in, out).
	convLayoutKeras convKernelLayout = iota
	// convLayoutTheano is Keras 1 with dim_ordering "th": (out, in, k1..kr).
	convLayoutTheano
	// convLayoutKeras1D is Keras 1's Convolution1D, a 2D convolution with
	// a (filter_length, 1) window: (k, 1, in, out).
	convLayoutKeras1D
)

// ConvConfig is the configuration shared by the convolution layers, with
// Keras 2/3 field names. Keras 1 configs (nb_filter, nb_row, nb_col,
// filter_length, kernel_dim1..3, border_mode, subsample, subsample_length,
// dim_ordering, bias, atrous_rate) are mapped onto these fields when decoded.
type ConvConfig struct {
	Filters         int        `json:"filters,omitempty"`
	KernelSize      convInts   `json:"kernel_size"`
	Strides         convInts   `json:"strides"`
	Padding         string     `json:"padding"`
	DataFormat      string     `json:"data_format,omitempty"`
	DilationRate    convInts   `json:"dilation_rate"`
	Groups          int        `json:"groups,omitempty"`
	DepthMultiplier int        `json:"depth_multiplier,omitempty"`
	Activation      Activation `json:"activation"`
	UseBias         *bool      `json:"use_bias,omitempty"`
	OutputPadding   convInts   `json:"output_padding,omitempty"`

	rank          int
	channelsFirst bool
	k, s, d       []int
	layout        convKernelLayout
	theano        bool
	dimOrdering   string
}

// convKeras1 holds the Keras 1 spellings of the convolution config.
type convKeras1 struct {
	NbFilter        *int     `json:"nb_filter"`
	NbRow           int      `json:"nb_row"`
	NbCol           int      `json:"nb_col"`
	FilterLength    int      `json:"filter_length"`
	KernelDim1      int      `json:"kernel_dim1"`
	KernelDim2      int      `json:"kernel_dim2"`
	KernelDim3      int      `json:"kernel_dim3"`
	BorderMode      string   `json:"border_mode"`
	Subsample       convInts `json:"subsample"`
	SubsampleLength int      `json:"subsample_length"`
	DimOrdering     string   `json:"dim_ordering"`
	Bias            *bool    `json:"bias"`
	AtrousRate      convInts `json:"atrous_rate"`
}

// decode fills the config from a Keras 1, 2 or 3 layer config. The kernel
// and strides of Keras 1's 1D layers are 2D (length, 1) internally; only
// the first axis is kept.
func (c *ConvConfig) decode(raw json.RawMessage, ctx *DecodeContext, rank int, into any) error {
	if err := json.Unmarshal(raw, into); err != nil {
		return err
	}
	var k1 convKeras1
	if err := json.Unmarshal(raw, &k1); err != nil {
		return err
	}
	c.rank = rank
	c.layout = convLayoutKeras
	if k1.NbFilter != nil || k1.BorderMode != "" || k1.DimOrdering != "" {
		if k1.NbFilter != nil {
			c.Filters = *k1.NbFilter
		}
		switch rank {
		case 1:
			if k1.FilterLength > 0 {
				c.KernelSize = convInts{k1.FilterLength}
			}
			if k1.SubsampleLength > 0 {
				c.Strides = convInts{k1.SubsampleLength}
			}
			if k1.NbFilter != nil {
				c.layout = convLayoutKeras1D
			}
		case 2:
			if k1.NbRow > 0 {
				c.KernelSize = convInts{k1.NbRow, k1.NbCol}
			}
		case 3:
			if k1.KernelDim1 > 0 {
				c.KernelSize = convInts{k1.KernelDim1, k1.KernelDim2, k1.KernelDim3}
			}
		}
		if rank > 1 && len(k1.Subsample) > 0 {
			c.Strides = k1.Subsample
		}
		if k1.BorderMode != "" {
			c.Padding = k1.BorderMode
		}
		if k1.Bias != nil {
			c.UseBias = k1.Bias
		}
		if len(k1.AtrousRate) > 0 {
			c.DilationRate = k1.AtrousRate
		}
		if rank > 1 && k1.DimOrdering == "th" && k1.NbFilter != nil {
			c.layout = convLayoutTheano
		}
	}
	c.dimOrdering = k1.DimOrdering
	c.theano = ctx != nil && ctx.Version.Backend == "theano"
	return c.setup()
}

// setup validates the config and resolves its tuples; Build calls it for
// layers made in Go rather than decoded.
func (c *ConvConfig) setup() error {
	rank := c.rank
	if c.Padding == "" {
		c.Padding = "valid"
	}
	switch c.Padding {
	case "valid", "same", "causal", "full":
	default:
		return fmt.Errorf("padding %q: want valid, same or causal: %w", c.Padding, ErrUnsupported)
	}
	if c.Padding == "causal" && rank != 1 {
		return fmt.Errorf("padding \"causal\" is only defined for 1D convolutions: %w", ErrUnsupported)
	}
	cf, err := convDataFormat(c.DataFormat, c.dimOrdering)
	if err != nil {
		return err
	}
	c.channelsFirst = cf
	if c.k, err = c.KernelSize.expand(rank, 0, "kernel_size"); err != nil {
		return err
	}
	if c.s, err = c.Strides.expand(rank, 1, "strides"); err != nil {
		return err
	}
	if c.d, err = c.DilationRate.expand(rank, 1, "dilation_rate"); err != nil {
		return err
	}
	if c.Groups == 0 {
		c.Groups = 1
	}
	if c.DepthMultiplier == 0 {
		c.DepthMultiplier = 1
	}
	return c.Activation.Check()
}

// ready runs setup once for layers that were not decoded.
func (c *ConvConfig) ready() error {
	if c.k != nil {
		return nil
	}
	return c.setup()
}

// inShape splits the input shape into spatial dims and channels.
func (c *ConvConfig) inShape(s Shape) ([]int, int) { return convSpatial(s, c.rank, c.channelsFirst) }

// outSpatial returns Keras's output spatial dims of a strided window.
func (c *ConvConfig) outSpatial(in []int) []int {
	ek := convEffective(c.k, c.d)
	out := make([]int, len(in))
	for i := range in {
		out[i] = convOutLen(in[i], ek[i], c.s[i], c.Padding)
	}
	return out
}

// convAttrs returns the ONNX Conv attributes for the layer's window.
func (c *ConvConfig) convAttrs(in []int, group int) (graph.Attrs, error) {
	a := graph.Attrs{
		"kernel_shape": convI64(c.k),
		"strides":      convI64(c.s),
		"dilations":    convI64(c.d),
		"group":        int64(group),
	}
	if err := convPadAttrs(a, c.Padding, in, convEffective(c.k, c.d), c.s); err != nil {
		return nil, err
	}
	return a, nil
}

// useBias reports whether the layer has a bias (default true).
func (c *ConvConfig) useBias() bool { return convBool(c.UseBias, true) }

// enter transposes a channels_last input to channels_first.
func (c *ConvConfig) enter(b *Builder, x string) string {
	if c.channelsFirst {
		return x
	}
	return convToFirst(b, x, c.rank)
}

// leave transposes back to the layer's data format and applies the
// activation.
//
// An elementwise activation is applied before the layout change back to
// channels-last, so that a following layer's change to channels-first
// (another convolution, a pooling) cancels against it: in training graphs,
// where the activation's value is kept for the backward pass, that saves
// two full transposes per layer each way.
func (c *ConvConfig) leave(b *Builder, y string, in Tensor, shape Shape) ([]Tensor, error) {
	var err error
	early := !c.channelsFirst && c.Activation.Elementwise()
	if early {
		if y, err = c.Activation.Lower(b, y); err != nil {
			return nil, err
		}
	}
	if !c.channelsFirst {
		y = convToLast(b, y, c.rank)
	}
	if !early {
		if y, err = c.Activation.Lower(b, y); err != nil {
			return nil, err
		}
	}
	return []Tensor{{Name: y, Shape: shape, DType: in.DType}}, nil
}

// kernelONNX returns the layer's kernel param as an ONNX Conv weight
// (out, in/group, k1..kr), flipped for Theano-backend files.
func (c *ConvConfig) kernelONNX(b *Builder, w *Weight) string {
	x := b.Param(w)
	switch c.layout {
	case convLayoutKeras:
		x = convKernelToONNX(b, x, c.rank)
	case convLayoutKeras1D:
		x = b.Op("Reshape", nil, x, b.Ints(int64(w.Shape[0]), int64(w.Shape[2]), int64(w.Shape[3])))
		x = convKernelToONNX(b, x, 1)
	}
	if c.theano {
		x = convFlip(b, x, c.rank)
	}
	return x
}

// Conv is Keras's Conv1D, Conv2D and Conv3D (and Keras 1's Convolution1D/2D/3D
// and AtrousConvolution1D/2D): a grouped, strided, dilated cross-correlation
// plus bias, then the activation.
//
//	y[n, o..., f] = act(bias[f] + sum_{k..., c} x[n, o*s + k*d - pad, g*C/G + c] * kernel[k..., c, f])
//
// Weights: kernel (k1..kr, in/groups, filters) and bias (filters) — Keras 1
// "th" files store (filters, in, k1..kr) and Keras 1 Convolution1D stores
// (k, 1, in, filters). Padding "same" pads as TensorFlow (the odd unit at
// the end), "causal" (1D) pads k-1 at the start. Theano-backend kernels are
// flipped spatially (Theano convolves; TensorFlow correlates).
type Conv struct {
	Base
	ConvConfig
}

// DecodeConfig reads a Keras 1, 2 or 3 config.
func (l *Conv) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	return l.decode(raw, ctx, l.rank, l)
}

// Build creates kernel and bias.
func (l *Conv) Build(in []Shape) ([]Shape, error) {
	if err := l.ready(); err != nil {
		return nil, err
	}
	if err := convCheckRank(in, l.rank, "Conv"); err != nil {
		return nil, err
	}
	sp, ch := l.inShape(in[0])
	if ch < 1 {
		return nil, fmt.Errorf("conv layer %q: the channel dimension of input %v must be known", l.Name(), in[0])
	}
	if l.Filters < 1 || ch%l.Groups != 0 || l.Filters%l.Groups != 0 {
		return nil, fmt.Errorf("conv layer %q: filters %d and input channels %d must divide by groups %d", l.Name(), l.Filters, ch, l.Groups)
	}
	if !l.Built {
		var ks []int
		switch l.layout {
		case convLayoutTheano:
			ks = append([]int{l.Filters, ch}, l.k...)
		case convLayoutKeras1D:
			ks = []int{l.k[0], 1, ch, l.Filters}
		default:
			ks = append(append([]int(nil), l.k...), ch/l.Groups, l.Filters)
		}
		l.AddWeight("kernel", ks, true)
		if l.useBias() {
			l.AddWeight("bias", []int{l.Filters}, true)
		}
		l.Built = true
	}
	return []Shape{convShape(in[0][0], l.outSpatial(sp), l.Filters, l.channelsFirst)}, nil
}

// Lower emits Transpose -> Conv -> Transpose (channels_last) with the
// activation (see leave for where it goes).
func (l *Conv) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	out, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	sp, _ := l.inShape(in[0].Shape)
	a, err := l.convAttrs(sp, l.Groups)
	if err != nil {
		return nil, err
	}
	inputs := []string{l.enter(b, in[0].Name), l.kernelONNX(b, l.W[0])}
	if l.useBias() {
		inputs = append(inputs, b.Param(l.W[1]))
	}
	y := b.Op("Conv", a, inputs...)
	return l.leave(b, y, in[0], out[0])
}

// DepthwiseConv is Keras's DepthwiseConv1D and DepthwiseConv2D: each input
// channel c is correlated with depth_multiplier kernels of its own, giving
// output channel c*depth_multiplier + m. Weights: depthwise_kernel
// (k1..kr, in, depth_multiplier) and bias (in*depth_multiplier). It lowers
// to an ONNX Conv with group = in and weight (in*mult, 1, k1..kr).
type DepthwiseConv struct {
	Base
	ConvConfig
}

// DecodeConfig reads a Keras 2 or 3 config.
func (l *DepthwiseConv) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	if err := l.decode(raw, ctx, l.rank, l); err != nil {
		return err
	}
	if l.layout != convLayoutKeras {
		return fmt.Errorf("a Keras 1 depthwise kernel layout: %w", ErrUnsupported)
	}
	return nil
}

// Build creates depthwise_kernel and bias.
func (l *DepthwiseConv) Build(in []Shape) ([]Shape, error) {
	if err := l.ready(); err != nil {
		return nil, err
	}
	if err := convCheckRank(in, l.rank, "DepthwiseConv"); err != nil {
		return nil, err
	}
	sp, ch := l.inShape(in[0])
	if ch < 1 {
		return nil, fmt.Errorf("depthwise conv layer %q: the channel dimension of input %v must be known", l.Name(), in[0])
	}
	m := l.DepthMultiplier
	if !l.Built {
		l.AddWeight("depthwise_kernel", append(append([]int(nil), l.k...), ch, m), true)
		if l.useBias() {
			l.AddWeight("bias", []int{ch * m}, true)
		}
		l.Built = true
	}
	return []Shape{convShape(in[0][0], l.outSpatial(sp), ch*m, l.channelsFirst)}, nil
}

// convDepthwiseKernel turns a Keras depthwise kernel (k1..kr, in, mult) into
// an ONNX group-conv weight (in*mult, 1, k1..kr).
func (c *ConvConfig) convDepthwiseKernel(b *Builder, w *Weight) string {
	r := c.rank
	shape := make([]int64, 0, r+2)
	for _, k := range w.Shape[:r] {
		shape = append(shape, int64(k))
	}
	shape = append(shape, 1, int64(w.Shape[r]*w.Shape[r+1]))
	x := b.Op("Reshape", nil, b.Param(w), b.Ints(shape...))
	x = convKernelToONNX(b, x, r)
	if c.theano {
		x = convFlip(b, x, r)
	}
	return x
}

// Lower emits the grouped convolution.
func (l *DepthwiseConv) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	out, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	sp, ch := l.inShape(in[0].Shape)
	a, err := l.convAttrs(sp, ch)
	if err != nil {
		return nil, err
	}
	inputs := []string{l.enter(b, in[0].Name), l.convDepthwiseKernel(b, l.W[0])}
	if l.useBias() {
		inputs = append(inputs, b.Param(l.W[1]))
	}
	return l.leave(b, b.Op("Conv", a, inputs...), in[0], out[0])
}

// SeparableConv is Keras's SeparableConv1D and SeparableConv2D: a depthwise
// convolution (strides, dilation and padding apply here) followed by a
// pointwise (1x1) convolution plus bias. Weights: depthwise_kernel
// (k1..kr, in, depth_multiplier), pointwise_kernel (1..1, in*mult, filters),
// bias (filters).
type SeparableConv struct {
	Base
	ConvConfig
}

// DecodeConfig reads a Keras 2 or 3 config.
func (l *SeparableConv) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	if err := l.decode(raw, ctx, l.rank, l); err != nil {
		return err
	}
	if l.layout == convLayoutTheano {
		return fmt.Errorf("a Keras 1 \"th\" separable kernel layout: %w", ErrUnsupported)
	}
	l.layout = convLayoutKeras
	return nil
}

// Build creates depthwise_kernel, pointwise_kernel and bias.
func (l *SeparableConv) Build(in []Shape) ([]Shape, error) {
	if err := l.ready(); err != nil {
		return nil, err
	}
	if err := convCheckRank(in, l.rank, "SeparableConv"); err != nil {
		return nil, err
	}
	sp, ch := l.inShape(in[0])
	if ch < 1 || l.Filters < 1 {
		return nil, fmt.Errorf("separable conv layer %q: the channel dimension of input %v and filters must be known", l.Name(), in[0])
	}
	m := l.DepthMultiplier
	if !l.Built {
		l.AddWeight("depthwise_kernel", append(append([]int(nil), l.k...), ch, m), true)
		pw := make([]int, l.rank, l.rank+2)
		for i := range pw {
			pw[i] = 1
		}
		l.AddWeight("pointwise_kernel", append(pw, ch*m, l.Filters), true)
		if l.useBias() {
			l.AddWeight("bias", []int{l.Filters}, true)
		}
		l.Built = true
	}
	return []Shape{convShape(in[0][0], l.outSpatial(sp), l.Filters, l.channelsFirst)}, nil
}

// Lower emits the depthwise then the pointwise Conv.
func (l *SeparableConv) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	out, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	sp, ch := l.inShape(in[0].Shape)
	a, err := l.convAttrs(sp, ch)
	if err != nil {
		return nil, err
	}
	y := b.Op("Conv", a, l.enter(b, in[0].Name), l.convDepthwiseKernel(b, l.W[0]))
	ones := make([]int64, l.rank)
	for i := range ones {
		ones[i] = 1
	}
	pa := graph.Attrs{"kernel_shape": ones, "strides": ones, "dilations": ones, "group": int64(1), "pads": make([]int64, 2*l.rank)}
	inputs := []string{y, convKernelToONNX(b, b.Param(l.W[1]), l.rank)}
	if l.useBias() {
		inputs = append(inputs, b.Param(l.W[2]))
	}
	return l.leave(b, b.Op("Conv", pa, inputs...), in[0], out[0])
}

// ConvTranspose is Keras's Conv1DTranspose, Conv2DTranspose and
// Conv3DTranspose: the gradient of a convolution with respect to its input,
// plus bias. Weights: kernel (k1..kr, filters, in) and bias (filters).
//
// The output length follows Keras's deconv_output_length: with
// output_padding unset, "valid" gives n*s + max(k-s, 0) and "same" n*s;
// with it, (n-1)*s + k - 2*pad + output_padding where pad is k//2 for "same"
// (k the dilated extent). The result equals TensorFlow's
// conv_transpose for that output size: the forward convolution's "same"
// begin padding is floor(max((n-1)*s + k - len, 0) / 2). It lowers to ONNX
// ConvTranspose with explicit pads and output_padding chosen so ONNX's
// output size s*(n-1) + output_padding + k - pad_begin - pad_end equals it.
type ConvTranspose struct {
	Base
	ConvConfig
	op []int // user output_padding, nil when unset
}

// DecodeConfig reads a Keras 2 or 3 config.
func (l *ConvTranspose) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	if err := l.decode(raw, ctx, l.rank, l); err != nil {
		return err
	}
	if l.layout != convLayoutKeras {
		return fmt.Errorf("a Keras 1 Deconvolution config: %w", ErrUnsupported)
	}
	if l.Groups != 1 {
		return fmt.Errorf("groups %d in a transposed convolution: %w", l.Groups, ErrUnsupported)
	}
	if l.Padding != "valid" && l.Padding != "same" {
		return fmt.Errorf("padding %q in a transposed convolution: %w", l.Padding, ErrUnsupported)
	}
	if len(l.OutputPadding) > 0 {
		op := make([]int, l.rank)
		switch len(l.OutputPadding) {
		case 1:
			for i := range op {
				op[i] = l.OutputPadding[0]
			}
		case l.rank:
			copy(op, l.OutputPadding)
		default:
			return fmt.Errorf("output_padding %v: want %d values: %w", []int(l.OutputPadding), l.rank, ErrUnsupported)
		}
		for i := range op {
			if op[i] < 0 || (op[i] >= l.s[i] && op[i] >= l.d[i]) {
				return fmt.Errorf("output_padding %v must be smaller than the strides %v: %w", op, l.s, ErrUnsupported)
			}
		}
		l.op = op
	}
	return nil
}

// convTransposeGeometry returns, for one axis, Keras's output length for n
// input positions (-1 stays unknown) and ONNX's pads and output_padding.
// delta = full - len, where full = (n-1)*s + k is the unpadded
// ConvTranspose output, does not depend on n.
func (l *ConvTranspose) geometry(i, n int) (length, pb, pe, op int) {
	k := (l.k[i]-1)*l.d[i] + 1
	s := l.s[i]
	var delta int
	switch {
	case l.op == nil && l.Padding == "same":
		delta = k - s
		length = n * s
	case l.op == nil:
		delta = min(k-s, 0)
		length = n*s + max(k-s, 0)
	default:
		pad := 0
		if l.Padding == "same" {
			pad = k / 2
		}
		delta = 2*pad - l.op[i]
		length = (n-1)*s + k - 2*pad + l.op[i]
	}
	if n < 0 {
		length = -1
	}
	if l.Padding == "same" && delta > 0 {
		pb = delta / 2
	}
	op = max(0, pb-delta)
	pe = delta + op - pb
	return
}

// Build creates kernel and bias.
func (l *ConvTranspose) Build(in []Shape) ([]Shape, error) {
	if err := l.ready(); err != nil {
		return nil, err
	}
	if err := convCheckRank(in, l.rank, "ConvTranspose"); err != nil {
		return nil, err
	}
	sp, ch := l.inShape(in[0])
	if ch < 1 || l.Filters < 1 {
		return nil, fmt.Errorf("transposed conv layer %q: the channel dimension of input %v and filters must be known", l.Name(), in[0])
	}
	if !l.Built {
		l.AddWeight("kernel", append(append([]int(nil), l.k...), l.Filters, ch), true)
		if l.useBias() {
			l.AddWeight("bias", []int{l.Filters}, true)
		}
		l.Built = true
	}
	out := make([]int, l.rank)
	for i := range out {
		out[i], _, _, _ = l.geometry(i, sp[i])
	}
	return []Shape{convShape(in[0][0], out, l.Filters, l.channelsFirst)}, nil
}

// Lower emits Transpose -> ConvTranspose -> Transpose and the activation.
func (l *ConvTranspose) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	out, err := l.Build([]Shape{in[0].Shape})
	if err != nil {
		return nil, err
	}
	r := l.rank
	pads, ops := make([]int64, 2*r), make([]int64, r)
	for i := 0; i < r; i++ {
		_, pb, pe, op := l.geometry(i, 1)
		pads[i], pads[r+i], ops[i] = int64(pb), int64(pe), int64(op)
	}
	a := graph.Attrs{
		"kernel_shape":   convI64(l.k),
		"strides":        convI64(l.s),
		"dilations":      convI64(l.d),
		"group":          int64(1),
		"pads":           pads,
		"output_padding": ops,
	}
	// Keras (k..., filters, in) -> ONNX (in, filters, k...).
	w := convKernelToONNX(b, b.Param(l.W[0]), r)
	if l.theano {
		w = convFlip(b, w, r)
	}
	inputs := []string{l.enter(b, in[0].Name), w}
	if l.useBias() {
		inputs = append(inputs, b.Param(l.W[1]))
	}
	return l.leave(b, b.Op("ConvTranspose", a, inputs...), in[0], out[0])
}

func init() {
	for r := 1; r <= 3; r++ {
		r := r
		names := map[int][]string{1: {"Conv1D", "Convolution1D", "AtrousConvolution1D"}, 2: {"Conv2D", "Convolution2D", "AtrousConvolution2D"}, 3: {"Conv3D", "Convolution3D"}}[r]
		Register(names[0], func() Layer { return &Conv{ConvConfig: ConvConfig{rank: r}} }, names[1:]...)
		Register(fmt.Sprintf("Conv%dDTranspose", r), func() Layer { return &ConvTranspose{ConvConfig: ConvConfig{rank: r}} })
	}
	for r := 1; r <= 2; r++ {
		r := r
		Register(fmt.Sprintf("DepthwiseConv%dD", r), func() Layer { return &DepthwiseConv{ConvConfig: ConvConfig{rank: r}} })
		sep := []string{}
		if r == 2 {
			sep = append(sep, "SeparableConvolution2D")
		}
		Register(fmt.Sprintf("SeparableConv%dD", r), func() Layer { return &SeparableConv{ConvConfig: ConvConfig{rank: r}} }, sep...)
	}
}

// NewConv returns a Conv of rank 1, 2 or 3 (Keras's Conv1D/2D/3D) named
// name, configured by c; Build validates the config.
func NewConv(name string, rank int, c ConvConfig) *Conv {
	c.rank = rank
	return &Conv{Base: Base{LayerName: name, ClassName: fmt.Sprintf("Conv%dD", rank)}, ConvConfig: c}
}

// NewConvTranspose returns a Conv1DTranspose/2D/3D.
func NewConvTranspose(name string, rank int, c ConvConfig) *ConvTranspose {
	c.rank = rank
	l := &ConvTranspose{Base: Base{LayerName: name, ClassName: fmt.Sprintf("Conv%dDTranspose", rank)}, ConvConfig: c}
	if len(c.OutputPadding) > 0 {
		l.op = append([]int(nil), c.OutputPadding...)
		for len(l.op) < rank {
			l.op = append(l.op, l.op[0])
		}
	}
	return l
}

// NewDepthwiseConv returns a DepthwiseConv1D/2D.
func NewDepthwiseConv(name string, rank int, c ConvConfig) *DepthwiseConv {
	c.rank = rank
	return &DepthwiseConv{Base: Base{LayerName: name, ClassName: fmt.Sprintf("DepthwiseConv%dD", rank)}, ConvConfig: c}
}

// NewSeparableConv returns a SeparableConv1D/2D.
func NewSeparableConv(name string, rank int, c ConvConfig) *SeparableConv {
	c.rank = rank
	return &SeparableConv{Base: Base{LayerName: name, ClassName: fmt.Sprintf("SeparableConv%dD", rank)}, ConvConfig: c}
}
