package layer

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// statefulErr refuses stateful=true with what the user can do.
func statefulErr() error {
	return fmt.Errorf("field stateful=true: a stateful RNN carries its state from one predict call to the next, but kiln's predictions are stateless (every call starts from a zero state), so after the first call they would differ from Keras's; re-save the model with stateful=False (the weights stay valid) to run single-call inference: %w", ErrUnsupported)
}

// RecurrentConfig holds the config fields shared by Keras's recurrent layers
// (keras.layers.RNN and its subclasses), with the Keras 1 spellings
// (output_dim, inner_activation, consume_less) folded in by DecodeConfig.
//
// Dropout, recurrent_dropout, initializers, regularizers, constraints,
// unroll and implementation do not change inference results and are
// ignored. stateful=true is refused: a stateful layer carries its state
// across calls, which a pure graph cannot express.
type RecurrentConfig struct {
	Units               int        `json:"units"`
	Activation          Activation `json:"activation"`
	RecurrentActivation Activation `json:"recurrent_activation"`
	UseBias             *bool      `json:"use_bias,omitempty"`
	ReturnSequences     bool       `json:"return_sequences"`
	ReturnState         bool       `json:"return_state"`
	GoBackwards         bool       `json:"go_backwards"`
	Stateful            bool       `json:"stateful"`
	TimeMajor           bool       `json:"time_major,omitempty"`
	Unroll              bool       `json:"unroll"`
	// ZeroOutputForMask makes masked steps output zeros instead of the
	// previous step's output. Keras does not save it; Bidirectional sets
	// it on its layers when it returns sequences.
	ZeroOutputForMask bool `json:"-"`
	// ConsumeLess is the Keras 1 implementation switch; anything but "gpu"
	// means the weights are saved as separate per-gate arrays.
	ConsumeLess string `json:"consume_less,omitempty"`
}

// rnnKeras1 holds the Keras 1 spellings of the recurrent config.
type rnnKeras1 struct {
	OutputDim       int         `json:"output_dim"`
	InnerActivation *Activation `json:"inner_activation"`
}

// decode fills the config from raw JSON: Keras 1 names, version-dependent
// defaults (tanh; recurrent hard_sigmoid before Keras 3, sigmoid from Keras
// 3 and in tf.keras 2 configs, which always write it) and checks.
func (c *RecurrentConfig) decode(raw json.RawMessage, ctx *DecodeContext, l any, hasRecurrentAct bool) error {
	if err := json.Unmarshal(raw, l); err != nil {
		return err
	}
	var k1 rnnKeras1
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &k1); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &keys); err != nil {
		return err
	}
	if c.Units == 0 && k1.OutputDim > 0 {
		c.Units = k1.OutputDim
	}
	if _, ok := keys["activation"]; !ok {
		c.Activation.Name = "tanh"
	}
	if hasRecurrentAct {
		if _, ok := keys["recurrent_activation"]; !ok {
			switch {
			case k1.InnerActivation != nil:
				c.RecurrentActivation = *k1.InnerActivation
			case ctx != nil && ctx.Version.Major > 0 && ctx.Version.Major < 3:
				c.RecurrentActivation.Name = "hard_sigmoid"
			default:
				c.RecurrentActivation.Name = "sigmoid"
			}
		}
		if err := c.RecurrentActivation.Check(); err != nil {
			return fmt.Errorf("recurrent_activation: %w", err)
		}
	}
	if err := c.Activation.Check(); err != nil {
		return fmt.Errorf("activation: %w", err)
	}
	if c.Units <= 0 {
		return fmt.Errorf("units must be positive, got %d", c.Units)
	}
	if c.Stateful {
		return statefulErr()
	}
	return nil
}

func (c *RecurrentConfig) useBias() bool { return c.UseBias == nil || *c.UseBias }

// keras1Split reports whether Keras 1 saved this layer's weights as one
// array per gate and kind (W_i, U_i, b_i, ...).
func (c *RecurrentConfig) keras1Split() bool { return c.ConsumeLess != "" && c.ConsumeLess != "gpu" }

// checkInput validates a recurrent input shape and returns it batch-major.
func (c *RecurrentConfig) checkInput(class string, in []Shape, rank int) (Shape, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%s: no input", class)
	}
	s := in[0]
	if len(s) != rank {
		return nil, fmt.Errorf("%s: input shape %s has rank %d, want %d (batch, time, features...)", class, s, len(s), rank)
	}
	if c.TimeMajor {
		s = s.Clone()
		s[0], s[1] = s[1], s[0]
	}
	if s[rank-1] < 0 && rank == 3 {
		return nil, fmt.Errorf("%s: input shape %s: the feature dimension must be known", class, in[0])
	}
	return s, nil
}

// outputShapes returns the Keras output shapes: the output (sequence or
// last step), then nStates states when return_state is set.
func (c *RecurrentConfig) outputShapes(s Shape, step Shape, nStates int) []Shape {
	var out Shape
	if c.ReturnSequences {
		out = append(Shape{s[0], s[1]}, step...)
		if c.TimeMajor {
			out[0], out[1] = out[1], out[0]
		}
	} else {
		out = append(Shape{s[0]}, step...)
	}
	res := []Shape{out}
	if c.ReturnState {
		for range nStates {
			res = append(res, append(Shape{s[0]}, step...))
		}
	}
	return res
}

// rnnLoop is one recurrent pass over a batch-major sequence, lowered to an
// ONNX Scan whose body is the cell's step. The input projection x·kernel +
// bias is computed for all steps before the Scan. A Scan rather than ONNX's
// LSTM/GRU/RNN ops, because those cannot express Keras's arbitrary masks
// (sequence_lens only covers right padding, and their padded outputs are
// zeros where Keras repeats the previous output), nor every Keras
// activation (relu, selu, Keras 3's hard_sigmoid slope are fine, but
// gelu, swish and the rest are not ONNX RNN activations).
//
// Masks follow Keras's backend rnn(): a step whose mask is false keeps
// every state unchanged and outputs the previous step's output (zeros before
// any step ran), or zeros when zeroOutput is set. The output of the last
// step is what Keras returns with return_sequences=False. With go_backwards
// the input (and its mask) is read from the last step to the first and the
// output sequence stays in processing order, as Keras returns it.
type rnnLoop struct {
	x         string // per-step inputs [B, T, ...]
	mask      string // bool [B, T], or ""
	init      []string
	stateDims [][]int // per state, the dims after batch
	outState  int     // the state that is the step's output
	backwards bool
	zeroOut   bool
	seqOut    bool
	// step computes the new states from the step input and the states.
	step func(sb *Builder, xt string, states []string) ([]string, error)
}

// run appends the Scan and returns the output sequence ("" unless seqOut),
// the final states and the last output.
func (r *rnnLoop) run(b *Builder) (seq string, finals []string, last string, err error) {
	n := len(r.stateDims)
	body := &graph.Graph{Name: b.Fresh("step")}
	sb := &Builder{G: body, Layer: b.Layer, Training: b.Training, Version: b.Version, seq: b.seq, params: map[*Weight]string{}}
	typ := func(dims []int) graph.Type { return graph.TensorType(tensor.Float32, append([]int{-1}, dims...)...) }
	states := make([]string, n)
	for i := range states {
		states[i] = sb.Fresh("state_in")
		body.Inputs = append(body.Inputs, &graph.Value{Name: states[i], Type: typ(r.stateDims[i])})
	}
	masked := r.mask != ""
	outDims := r.stateDims[r.outState]
	prevOut := ""
	if masked {
		prevOut = sb.Fresh("out_in")
		body.Inputs = append(body.Inputs, &graph.Value{Name: prevOut, Type: typ(outDims)})
	}
	xt := sb.Fresh("x_t")
	body.Inputs = append(body.Inputs, &graph.Value{Name: xt, Type: graph.UnrankedType(tensor.Float32)})
	mt := ""
	if masked {
		mt = sb.Fresh("mask_t")
		body.Inputs = append(body.Inputs, &graph.Value{Name: mt, Type: graph.TensorType(tensor.Bool, -1)})
	}
	news, err := r.step(sb, xt, states)
	if err != nil {
		return "", nil, "", err
	}
	out := news[r.outState]
	if masked {
		axes := make([]int64, len(outDims))
		for i := range axes {
			axes[i] = int64(i + 1)
		}
		m := sb.Op("Unsqueeze", nil, mt, sb.Ints(axes...))
		for i := range news {
			news[i] = sb.Op("Where", nil, m, news[i], states[i])
		}
		other := prevOut
		if r.zeroOut {
			other = sb.Scalar(0)
		}
		out = sb.Op("Where", nil, m, out, other)
	}
	for i, s := range news {
		body.Outputs = append(body.Outputs, &graph.Value{Name: s, Type: typ(r.stateDims[i])})
	}
	if masked {
		body.Outputs = append(body.Outputs, &graph.Value{Name: out, Type: typ(outDims)})
	}
	if r.seqOut {
		// The output is also a state output; a body output name may appear
		// only once.
		o := sb.Op("Identity", nil, out)
		body.Outputs = append(body.Outputs, &graph.Value{Name: o, Type: typ(outDims)})
	}

	b.seq = sb.seq // body and outer names share one counter, so none shadows another
	inputs := append([]string(nil), r.init...)
	if masked {
		inputs = append(inputs, rnnZeros(b, r.x, outDims))
	}
	inputs = append(inputs, r.x)
	dir := int64(0)
	if r.backwards {
		dir = 1
	}
	axes, dirs := []int64{1}, []int64{dir}
	if masked {
		inputs = append(inputs, r.mask)
		axes, dirs = append(axes, 1), append(dirs, dir)
	}
	nOut := len(body.Outputs)
	attrs := graph.Attrs{"body": body, "num_scan_inputs": int64(len(axes)), "scan_input_axes": axes, "scan_input_directions": dirs}
	if r.seqOut {
		attrs["scan_output_axes"] = []int64{1}
	}
	outs := b.OpN("Scan", attrs, nOut, inputs...)
	finals = append([]string(nil), outs[:n]...)
	last = finals[r.outState]
	if masked {
		last = outs[n]
	}
	if r.seqOut {
		seq = outs[nOut-1]
	}
	return seq, finals, last, nil
}

// rnnZeros returns a float32 zero tensor of shape [batch of x, dims...].
func rnnZeros(b *Builder, x string, dims []int) string {
	batch := b.Op("Slice", nil, b.Op("Shape", nil, x), b.Ints(0), b.Ints(1))
	d := make([]int64, len(dims))
	for i, v := range dims {
		d[i] = int64(v)
	}
	shape := b.Op("Concat", graph.Attrs{"axis": int64(0)}, batch, b.Ints(d...))
	return b.Op("ConstantOfShape", graph.Attrs{"value": tensor.Must(tensor.Shape{1}, []float32{0})}, shape)
}

// rnnSplit splits x along its last axis into n equal parts of size u.
func rnnSplit(b *Builder, x string, n, u int) []string {
	sizes := make([]int64, n)
	for i := range sizes {
		sizes[i] = int64(u)
	}
	return b.OpN("Split", graph.Attrs{"axis": int64(-1)}, n, x, b.Ints(sizes...))
}

// rnnCols slices columns [from, to) of a 2-D value.
func rnnCols(b *Builder, x string, from, to int) string {
	return b.Op("Slice", nil, x, b.Ints(int64(from)), b.Ints(int64(to)), b.Ints(1))
}

// rnnRow picks row i of a 2-D value as a 1-D value.
func rnnRow(b *Builder, x string, i int) string {
	return b.Op("Gather", graph.Attrs{"axis": int64(0)}, x, b.Const(tensor.Scalar(int64(i))))
}

// rnnAct applies an activation inside a step.
func rnnAct(b *Builder, a Activation, x string) (string, error) { return a.Lower(b, x) }

// rnnSetPaths sets the Keras 3 .keras paths of a recurrent layer's weights,
// which live in its cell ("cell/vars/<i>").
func rnnSetPaths(ws []*Weight) {
	for i, w := range ws {
		w.Path = fmt.Sprintf("cell/vars/%d", i)
	}
}

// rnnPrepare handles the parts of lowering shared by the recurrent layers:
// the input in batch-major order, its mask, and the initial states (given as
// extra inputs, else zeros).
func (c *RecurrentConfig) rnnPrepare(b *Builder, in []Tensor, stateDims [][]int) (x string, init []string, err error) {
	if len(in) == 0 {
		return "", nil, fmt.Errorf("no input")
	}
	x = in[0].Name
	if c.TimeMajor {
		perm := make([]int64, len(in[0].Shape))
		for i := range perm {
			perm[i] = int64(i)
		}
		perm[0], perm[1] = 1, 0
		x = b.Op("Transpose", graph.Attrs{"perm": perm}, x)
	}
	if len(in) > 1 {
		if len(in)-1 != len(stateDims) {
			return "", nil, fmt.Errorf("got %d initial states, want %d", len(in)-1, len(stateDims))
		}
		for _, s := range in[1:] {
			init = append(init, s.Name)
		}
		return x, init, nil
	}
	for _, d := range stateDims {
		init = append(init, rnnZeros(b, x, d))
	}
	return x, init, nil
}

// rnnFinish assembles the Keras outputs: the sequence (time-major again if
// asked) or the last output, then the final states with return_state.
func (c *RecurrentConfig) rnnFinish(b *Builder, in []Tensor, outShapes []Shape, seq, last string, finals []string) []Tensor {
	mask := in[0].Mask
	var res []Tensor
	if c.ReturnSequences {
		if c.TimeMajor {
			perm := make([]int64, len(outShapes[0]))
			for i := range perm {
				perm[i] = int64(i)
			}
			perm[0], perm[1] = 1, 0
			seq = b.Op("Transpose", graph.Attrs{"perm": perm}, seq)
		}
		res = append(res, Tensor{Name: seq, Shape: outShapes[0], DType: tensor.Float32, Mask: mask})
	} else {
		res = append(res, Tensor{Name: last, Shape: outShapes[0], DType: tensor.Float32})
	}
	if c.ReturnState {
		for i, f := range finals {
			res = append(res, Tensor{Name: f, Shape: outShapes[1+i], DType: tensor.Float32})
		}
	}
	return res
}

// rnnMask returns the mask to scan with (time-major inputs keep a
// batch-major [B, T] mask in Keras as well).
func rnnMask(in []Tensor) string {
	if len(in) == 0 {
		return ""
	}
	return in[0].Mask
}

// rnnRange slices [from, to) along axis of a value.
func rnnRange(b *Builder, x string, axis, from, to int) string {
	return b.Op("Slice", nil, x, b.Ints(int64(from)), b.Ints(int64(to)), b.Ints(int64(axis)))
}

// rnnProject computes x·kernel (+ bias) for every step at once.
func rnnProject(b *Builder, x, kernel, bias string) string {
	y := b.Op("MatMul", nil, x, kernel)
	if bias != "" {
		y = b.Op("Add", nil, y, bias)
	}
	return y
}

// rnnDefaults fills activations left unset by a Go caller (a zero
// Activation; JSON null decodes to "linear") with Keras's defaults.
func (c *RecurrentConfig) rnnDefaults() {
	if c.Activation.Name == "" {
		c.Activation.Name = "tanh"
	}
	if c.RecurrentActivation.Name == "" {
		c.RecurrentActivation.Name = "sigmoid"
	}
}
