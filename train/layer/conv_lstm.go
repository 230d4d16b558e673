package layer

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
)

// ConvLSTM2D is keras.layers.ConvLSTM2D: an LSTM whose products are 2-D
// convolutions. With kernel (kh, kw, in, 4·filters), recurrent_kernel (kh,
// kw, filters, 4·filters) and bias (4·filters), gates i, f, c, o along the
// last axis:
//
//	z = conv(x, kernel; strides, padding, dilation_rate) + bias
//	    + conv(h, recurrent_kernel; stride 1, "same", no dilation)
//	i = ra(z_i), f = ra(z_f), o = ra(z_o), c' = f⊙c + i⊙a(z_c), h' = o⊙a(c')
//
// Inputs are (batch, time, rows, cols, channels) or, with data_format
// channels_first, (batch, time, channels, rows, cols); rows and cols must be
// known. Padding "same" pads as TensorFlow does (the odd unit at the end).
// For files saved by the Theano backend both kernels are flipped spatially,
// as Keras's legacy loader does.
type ConvLSTM2D struct {
	Base
	RecurrentConfig
	Filters      int    `json:"filters"`
	KernelSize   []int  `json:"kernel_size"`
	Strides      []int  `json:"strides"`
	Padding      string `json:"padding"`
	DataFormat   string `json:"data_format"`
	DilationRate []int  `json:"dilation_rate"`
	built        Shape
}

func init() {
	Register("ConvLSTM2D", func() Layer { return &ConvLSTM2D{} })
}

// DecodeConfig reads Keras 2 and 3 ConvLSTM2D configs.
func (l *ConvLSTM2D) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	var f struct {
		Filters int `json:"filters"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return err
	}
	l.Units = f.Filters
	return l.decode(raw, ctx, l, true)
}

func (l *ConvLSTM2D) pair(v []int, def int) [2]int {
	switch len(v) {
	case 0:
		return [2]int{def, def}
	case 1:
		return [2]int{v[0], v[0]}
	}
	return [2]int{v[0], v[1]}
}

func (l *ConvLSTM2D) channelsFirst() bool { return l.DataFormat == "channels_first" }

// geometry returns the input channels and rows/cols, the output rows/cols
// and the input conv's pads [top, left, bottom, right].
func (l *ConvLSTM2D) geometry(s Shape) (c int, hw, ohw [2]int, pads [4]int64, err error) {
	if len(s) != 5 {
		return 0, hw, ohw, pads, fmt.Errorf("ConvLSTM2D %q: input shape %s, want (batch, time, rows, cols, channels)", l.Name(), s)
	}
	if l.channelsFirst() {
		c, hw = s[2], [2]int{s[3], s[4]}
	} else {
		c, hw = s[4], [2]int{s[2], s[3]}
	}
	if c < 0 || hw[0] < 0 || hw[1] < 0 {
		return 0, hw, ohw, pads, fmt.Errorf("ConvLSTM2D %q: input shape %s: channels, rows and cols must be known: %w", l.Name(), s, ErrUnsupported)
	}
	k, st, d := l.pair(l.KernelSize, 1), l.pair(l.Strides, 1), l.pair(l.DilationRate, 1)
	for i := range 2 {
		dk := (k[i]-1)*d[i] + 1
		switch l.Padding {
		case "same":
			ohw[i] = (hw[i] + st[i] - 1) / st[i]
			total := max((ohw[i]-1)*st[i]+dk-hw[i], 0)
			pads[i], pads[i+2] = int64(total/2), int64(total-total/2)
		case "valid", "":
			ohw[i] = (hw[i]-dk)/st[i] + 1
		default:
			return 0, hw, ohw, pads, fmt.Errorf("ConvLSTM2D %q: padding %q: %w", l.Name(), l.Padding, ErrUnsupported)
		}
		if ohw[i] <= 0 {
			return 0, hw, ohw, pads, fmt.Errorf("ConvLSTM2D %q: input %s is smaller than the kernel", l.Name(), s)
		}
	}
	return c, hw, ohw, pads, nil
}

func (l *ConvLSTM2D) stepShape(ohw [2]int) Shape {
	if l.channelsFirst() {
		return Shape{l.Filters, ohw[0], ohw[1]}
	}
	return Shape{ohw[0], ohw[1], l.Filters}
}

// Build creates the weights and returns the output shapes.
func (l *ConvLSTM2D) Build(in []Shape) ([]Shape, error) {
	l.rnnDefaults()
	if len(in) == 0 {
		return nil, fmt.Errorf("ConvLSTM2D %q: no input", l.Name())
	}
	c, _, ohw, _, err := l.geometry(in[0])
	if err != nil {
		return nil, err
	}
	k := l.pair(l.KernelSize, 1)
	f := l.Filters
	if !l.Built {
		l.AddWeight("kernel", []int{k[0], k[1], c, 4 * f}, true)
		l.AddWeight("recurrent_kernel", []int{k[0], k[1], f, 4 * f}, true)
		if l.useBias() {
			l.AddWeight("bias", []int{4 * f}, true)
		}
		rnnSetPaths(l.W)
		l.Built, l.built = true, in[0]
	}
	return l.outputShapes(in[0], l.stepShape(ohw), 2), nil
}

// rnnConvKernel turns a Keras (kh, kw, in, out) kernel param into ONNX's
// (out, in, kh, kw), flipped spatially first for Theano files.
func rnnConvKernel(b *Builder, w string, flip bool) string {
	if flip {
		w = b.Op("Slice", nil, w, b.Ints(-1, -1), b.Ints(math.MinInt64, math.MinInt64), b.Ints(0, 1), b.Ints(-1, -1))
	}
	return b.Op("Transpose", graph.Attrs{"perm": []int64{3, 2, 0, 1}}, w)
}

// Lower appends the ConvLSTM2D, computing in channels-first layout.
func (l *ConvLSTM2D) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	s := in[0].Shape
	c, hw, ohw, pads, err := l.geometry(s)
	if err != nil {
		return nil, err
	}
	f := l.Filters
	k, st, d := l.pair(l.KernelSize, 1), l.pair(l.Strides, 1), l.pair(l.DilationRate, 1)
	outShapes := l.outputShapes(s, l.stepShape(ohw), 2)
	flip := b.Version.Backend == "theano"

	x := in[0].Name
	if !l.channelsFirst() {
		x = b.Op("Transpose", graph.Attrs{"perm": []int64{0, 1, 4, 2, 3}}, x)
	}
	folded := b.Op("Reshape", nil, x, b.Ints(-1, int64(c), int64(hw[0]), int64(hw[1])))
	conv := []string{folded, rnnConvKernel(b, b.Param(l.W[0]), flip)}
	if len(l.W) > 2 {
		conv = append(conv, b.Param(l.W[2]))
	}
	xc := b.Op("Conv", graph.Attrs{
		"strides": []int64{int64(st[0]), int64(st[1])}, "dilations": []int64{int64(d[0]), int64(d[1])},
		"pads": pads[:], "kernel_shape": []int64{int64(k[0]), int64(k[1])},
	}, conv...)
	unfold := b.Op("Concat", graph.Attrs{"axis": int64(0)}, rnnShapeRange(b, x, 0, 2), b.Ints(int64(4*f), int64(ohw[0]), int64(ohw[1])))
	xs := b.Op("Reshape", nil, xc, unfold)

	rk := rnnConvKernel(b, b.Param(l.W[1]), flip)
	var rpads [4]int64
	for i := range 2 {
		total := k[i] - 1
		rpads[i], rpads[i+2] = int64(total/2), int64(total-total/2)
	}
	dims := []int{f, ohw[0], ohw[1]}
	var init []string
	if len(in) > 1 {
		if len(in) != 3 {
			return nil, fmt.Errorf("ConvLSTM2D %q: got %d initial states, want 2", l.Name(), len(in)-1)
		}
		for _, t := range in[1:] {
			v := t.Name
			if !l.channelsFirst() {
				v = b.Op("Transpose", graph.Attrs{"perm": []int64{0, 3, 1, 2}}, v)
			}
			init = append(init, v)
		}
	} else {
		init = []string{rnnZeros(b, x, dims), rnnZeros(b, x, dims)}
	}
	ra, a := l.RecurrentActivation, l.Activation
	loop := &rnnLoop{
		x: xs, mask: rnnMask(in), init: init, stateDims: [][]int{dims, dims}, outState: 0,
		backwards: l.GoBackwards, zeroOut: l.ZeroOutputForMask, seqOut: l.ReturnSequences,
		step: func(sb *Builder, xt string, stt []string) ([]string, error) {
			rec := sb.Op("Conv", graph.Attrs{"pads": rpads[:], "kernel_shape": []int64{int64(k[0]), int64(k[1])}}, stt[0], rk)
			z := sb.Op("Add", nil, xt, rec)
			g := sb.OpN("Split", graph.Attrs{"axis": int64(1)}, 4, z, sb.Ints(int64(f), int64(f), int64(f), int64(f)))
			i, err := ra.Lower(sb, g[0])
			if err != nil {
				return nil, err
			}
			fg, _ := ra.Lower(sb, g[1])
			cc, err := a.Lower(sb, g[2])
			if err != nil {
				return nil, err
			}
			o, _ := ra.Lower(sb, g[3])
			cn := sb.Op("Add", nil, sb.Op("Mul", nil, fg, stt[1]), sb.Op("Mul", nil, i, cc))
			ac, _ := a.Lower(sb, cn)
			return []string{sb.Op("Mul", nil, o, ac), cn}, nil
		},
	}
	seq, finals, last, err := loop.run(b)
	if err != nil {
		return nil, fmt.Errorf("ConvLSTM2D %q: %w", l.Name(), err)
	}
	if !l.channelsFirst() {
		if seq != "" {
			seq = b.Op("Transpose", graph.Attrs{"perm": []int64{0, 1, 3, 4, 2}}, seq)
		}
		toLast := func(v string) string { return b.Op("Transpose", graph.Attrs{"perm": []int64{0, 2, 3, 1}}, v) }
		if !l.ReturnSequences {
			last = toLast(last)
		}
		if l.ReturnState {
			for i := range finals {
				finals[i] = toLast(finals[i])
			}
		}
	}
	return l.rnnFinish(b, in, outShapes, seq, last, finals), nil
}
