// Package lift turns an op graph (an imported ONNX model, or the graph of a
// Keras model after a trip through ONNX) back into a Keras model built from
// the train/layer catalog, so it can be trained and saved as .h5 or .keras.
//
// Nodes are lifted in graph order. Provenance comes first: nodes that
// carry a Keras layer name (graph.Meta.KerasLayer) give the lifted layer its
// name, and the nodes a Keras layer was lowered to are recognised as that
// layer (a BatchNormalization lowered to arithmetic becomes a
// BatchNormalization again, with its gamma, beta and moving statistics taken
// from the graph params named after it). Other nodes are lifted by
// pattern:
//
//	MatMul(x, W) [+ Add(b)], Gemm(x, W, b) -> Dense
//	Conv(x, W[, b]) [+ Add(b)]             -> Conv1D/Conv2D (ZeroPadding for explicit pads; groups),
//	                                          DepthwiseConv1D/2D for one group per input channel
//	Gather(table, indices) on axis 0       -> Embedding
//	LSTM, GRU (forward, default activations, zero initial states, as
//	PyTorch exports them: time-major, states built from Shape) -> LSTM, GRU
//	Relu, Sigmoid, Tanh, Softmax, Elu, ... -> the activation of the layer before, or Activation
//	Clip(x, 0, max)                        -> ReLU(max_value)
//	Flatten, Reshape                       -> Flatten, Reshape
//	MaxPool, AveragePool                   -> MaxPooling2D, AveragePooling2D (explicit pads: a
//	                                          ZeroPadding2D first where zeros are exact)
//	GlobalAveragePool, GlobalMaxPool       -> GlobalAveragePooling2D, GlobalMaxPooling2D
//	BatchNormalization                     -> BatchNormalization
//	Add, Sub, Mul, Concat of two tensors   -> Add, Subtract, Multiply, Concatenate
//	Transpose, Identity, Dropout           -> layout bookkeeping, nothing
//
// Layouts: ONNX convolutions work on NCHW tensors, Keras's on NHWC. The
// lifter keeps, for every graph value, the Keras tensor it is a
// transposition of; a convolution or pooling reads the NHWC form, a
// Flatten or MatMul the plain one, and a Keras Permute layer is inserted
// only where the two differ. Convolution kernels are transposed from
// (out, in, kh, kw) to Keras's (kh, kw, in, out). Constant subgraphs
// (transposed kernels, folded normalisation factors) are evaluated with the
// ops' reference kernels.
//
// A node that fits no rule gives an error that names it and wraps
// layer.ErrUnsupported.
package lift

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
)

// kt is a Keras tensor (the first output of a lifted layer) and how a
// graph value is laid out relative to it: graph axis j is Keras axis
// perm[j] (nil: the same layout).
type kt struct {
	layer string
	perm  []int
	rank  int
}

type entry struct {
	class, name string
	cfg         map[string]any
	in          []string
	w           []*tensor.Tensor
	node        *graph.Node
}

type lifter struct {
	g         *graph.Graph
	consts    map[string]*tensor.Tensor
	vals      map[string]kt
	entries   []*entry
	byName    map[string]*entry
	used      map[string]bool
	count     map[string]int
	consumers map[string]int
	outputs   map[string]bool
	// shapeVals are values computed from the shapes of lifted tensors
	// (Shape and the integer arithmetic on it); zeros are
	// ConstantOfShape(0) of such values: a recurrent layer's default
	// initial state, built at run time.
	shapeVals map[string]bool
	zeros     map[string]bool
	// rnnLast and rnnSeq are a lifted recurrent layer's ONNX outputs Y_h
	// ([1, batch, H]) and Y ([seq, 1, batch, H]), waiting for the node
	// that drops their unit direction axis.
	rnnLast, rnnSeq map[string]string
	// rnnSeqBi is a lifted Bidirectional's Y ([seq, 2, batch, H]) and
	// rnnSeqBiT that after Transpose(0, 2, 1, 3) ([seq, batch, 2, H]),
	// waiting for the Reshape that joins the directions.
	rnnSeqBi, rnnSeqBiT map[string]string
	// affineBN are the BatchNormalization layers made from a constant
	// per-channel scale or shift (see affine).
	affineBN map[string]bool
}

// Lift builds a Keras model computing the same function as g. The model
// is a functional model whose InputLayers are g's inputs (in order, with
// their declared shapes, the first dimension taken as the batch) and whose
// outputs are g's outputs.
func Lift(g *graph.Graph) (*train.Model, error) {
	l := &lifter{g: g, consts: map[string]*tensor.Tensor{}, vals: map[string]kt{}, byName: map[string]*entry{},
		used: map[string]bool{}, count: map[string]int{}, consumers: map[string]int{}, outputs: map[string]bool{},
		shapeVals: map[string]bool{}, zeros: map[string]bool{}, rnnLast: map[string]string{}, rnnSeq: map[string]string{},
		rnnSeqBi: map[string]string{}, rnnSeqBiT: map[string]string{}, affineBN: map[string]bool{}}
	for _, p := range g.Params {
		l.consts[p.Name] = p.Tensor
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			l.consumers[in]++
		}
	}
	for _, o := range g.Outputs {
		l.outputs[o.Name] = true
		l.consumers[o.Name]++
	}
	var inputs []string
	for _, v := range g.Inputs {
		if _, ok := l.consts[v.Name]; ok {
			continue
		}
		shape := slices.Clone(v.Type.Shape)
		if len(shape) == 0 {
			return nil, fmt.Errorf("lift: input %q has no known rank", v.Name)
		}
		shape[0] = -1
		dt := v.Type.DType.String()
		if v.Type.DType == tensor.Undefined {
			dt = "float32"
		}
		e := l.add("InputLayer", sanitize(v.Name), map[string]any{"batch_input_shape": shapeJSON(shape), "dtype": dt, "sparse": false}, nil, nil, nil)
		l.vals[v.Name] = kt{layer: e.name, rank: len(shape)}
		inputs = append(inputs, e.name)
	}
	for i := 0; i < len(l.g.Nodes); i++ {
		n := l.g.Nodes[i]
		skip, err := l.safeNode(i, n)
		if err != nil {
			var le *liftError
			if errors.As(err, &le) {
				return nil, err
			}
			return nil, &liftError{fmt.Errorf("lift: node %s: %w", n.Describe(), err)}
		}
		i += skip
	}
	var outs []string
	for _, o := range g.Outputs {
		v, ok := l.vals[o.Name]
		if !ok {
			return nil, fmt.Errorf("lift: output %q is a constant or not computed by a lifted layer: %w", o.Name, layer.ErrUnsupported)
		}
		name, err := l.layout(v, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("lift: output %q: %w", o.Name, err)
		}
		outs = append(outs, name)
	}
	return l.build(inputs, outs)
}

type liftError struct{ err error }

func (e *liftError) Error() string { return e.err.Error() }
func (e *liftError) Unwrap() error { return e.err }

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "input"
	}
	return string(b)
}

var snake = map[string]string{
	"InputLayer": "input", "Dense": "dense", "Conv1D": "conv1d", "Conv2D": "conv2d", "Activation": "activation",
	"DepthwiseConv1D": "depthwise_conv1d", "DepthwiseConv2D": "depthwise_conv2d", "Embedding": "embedding", "ReLU": "re_lu",
	"LSTM": "lstm", "GRU": "gru", "Bidirectional": "bidirectional",
	"Flatten": "flatten", "Reshape": "reshape", "MaxPooling2D": "max_pooling2d", "AveragePooling2D": "average_pooling2d",
	"GlobalAveragePooling2D": "global_average_pooling2d", "GlobalMaxPooling2D": "global_max_pooling2d",
	"BatchNormalization": "batch_normalization", "Add": "add", "Subtract": "subtract", "Multiply": "multiply",
	"Concatenate": "concatenate", "LeakyReLU": "leaky_re_lu", "Permute": "permute", "ZeroPadding1D": "zero_padding1d", "ZeroPadding2D": "zero_padding2d",
}

// add appends a layer; name is a provenance name or "" for a generated one.
func (l *lifter) add(class, name string, cfg map[string]any, in []string, w []*tensor.Tensor, n *graph.Node) *entry {
	if name == "" || l.used[name] {
		base := snake[class]
		for {
			name = base
			if k := l.count[base]; k > 0 {
				name = fmt.Sprintf("%s_%d", base, k)
			}
			l.count[base]++
			if !l.used[name] {
				break
			}
		}
	}
	l.used[name] = true
	e := &entry{class: class, name: name, cfg: cfg, in: in, w: w, node: n}
	l.entries = append(l.entries, e)
	l.byName[name] = e
	return e
}

// provName is the Keras layer name a node carries, if not yet taken.
func (l *lifter) provName(n *graph.Node) string {
	if n.Meta.KerasLayer != "" && !l.used[n.Meta.KerasLayer] {
		return n.Meta.KerasLayer
	}
	return ""
}

func invert(p []int) []int {
	inv := make([]int, len(p))
	for i, v := range p {
		inv[v] = i
	}
	return inv
}

func isIdentity(p []int) bool {
	for i, v := range p {
		if v != i {
			return false
		}
	}
	return true
}

// layout returns a Keras layer whose output T' satisfies: graph axis j of
// the value is T' axis target[j] (target nil: the same layout), inserting
// a Permute when v's Keras tensor is laid out otherwise.
func (l *lifter) layout(v kt, target []int, n *graph.Node) (string, error) {
	perm := v.perm
	if perm == nil {
		perm = identity(v.rank)
	}
	if target == nil {
		target = identity(v.rank)
	}
	inv := invert(target)
	d := make([]int, v.rank)
	for i := range d {
		d[i] = perm[inv[i]]
	}
	if isIdentity(d) {
		return v.layer, nil
	}
	if d[0] != 0 {
		return "", fmt.Errorf("the value is a transposition that moves the batch axis; Keras layers keep the batch first: %w", layer.ErrUnsupported)
	}
	dims := make([]int, 0, len(d)-1)
	dims = append(dims, d[1:]...)
	e := l.add("Permute", "", map[string]any{"dims": dims}, []string{v.layer}, nil, n)
	return e.name, nil
}

func identity(r int) []int {
	p := make([]int, r)
	for i := range p {
		p[i] = i
	}
	return p
}

func shapeJSON(s []int) []any {
	out := make([]any, len(s))
	for i, d := range s {
		if d >= 0 {
			out[i] = d
		}
	}
	return out
}

var activations = map[string]string{
	"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax", "Elu": "elu",
	"Softplus": "softplus", "Softsign": "softsign", "Selu": "selu", "HardSigmoid": "hard_sigmoid",
	"Exp": "exponential", "Gelu": "gelu", "Mish": "mish",
}

// foldable are ops evaluated when all their inputs are constants.
var foldable = map[string]bool{
	"Transpose": true, "Reshape": true, "Cast": true, "Unsqueeze": true, "Squeeze": true, "Add": true,
	"Mul": true, "Sub": true, "Div": true, "Sqrt": true, "Reciprocal": true, "Neg": true, "Identity": true,
	"Constant": true, "Concat": true, "Shape": false, "Flatten": true, "ConstantOfShape": true, "Expand": true,
	"Slice": true, "Gather": true, "Range": true, "Tile": true, "Pow": true, "Exp": true, "Log": true, "Abs": true,
}

// safeNode is node with a panic (a bug on some unforeseen graph) turned
// into an error naming the node, so a bad file cannot crash the caller.
func (l *lifter) safeNode(i int, n *graph.Node) (skip int, err error) {
	defer func() {
		if r := recover(); r != nil {
			skip, err = 0, fmt.Errorf("internal error lifting this node (please report it): %v", r)
		}
	}()
	return l.node(i, n)
}

func (l *lifter) node(i int, n *graph.Node) (int, error) {
	// Nodes nothing reads (an old Dropout's mask, say) need no layer.
	dead := len(n.Outputs) > 0
	for _, o := range n.Outputs {
		if o != "" && (l.consumers[o] > 0 || l.outputs[o]) {
			dead = false
		}
	}
	if dead {
		return 0, nil
	}
	// Constant folding.
	allConst := true
	for _, in := range n.Inputs {
		if in == "" {
			continue
		}
		if _, ok := l.consts[in]; !ok {
			allConst = false
		}
	}
	if allConst && n.Op == "Identity" && n.Domain == "" && len(n.Inputs) == 1 && len(n.Outputs) == 1 {
		l.consts[n.Outputs[0]] = l.consts[n.Inputs[0]]
		return 0, nil
	}
	if allConst && foldable[n.Op] && n.Domain == "" {
		d := ops.Lookup(n.Domain, n.Op)
		if d == nil || d.Kernel == nil {
			return 0, fmt.Errorf("no reference kernel to fold it")
		}
		ins := make([]*tensor.Tensor, len(n.Inputs))
		for j, in := range n.Inputs {
			ins[j] = l.consts[in]
		}
		outs, err := d.Kernel(n, ins)
		if err != nil {
			return 0, err
		}
		for j, o := range n.Outputs {
			if j < len(outs) && outs[j] != nil {
				l.consts[o] = outs[j]
			}
		}
		return 0, nil
	}
	if done, err := l.shapeArith(n); done || err != nil {
		return 0, err
	}
	if done, err := l.dropDirection(n); done || err != nil {
		return 0, err
	}
	// Provenance: a Keras BatchNormalization lowered to arithmetic.
	if n.Meta.KerasClass == "BatchNormalization" && n.Meta.KerasLayer != "" && n.Op != "BatchNormalization" {
		return l.kerasBatchNorm(i)
	}
	if n.Meta.KerasClass == "GlobalAveragePooling2D" || n.Meta.KerasClass == "GlobalMaxPooling2D" {
		if n.Op == "ReduceMean" || n.Op == "ReduceMax" {
			return 0, l.globalReduce(n)
		}
	}
	x := func(j int) (kt, error) {
		v, ok := l.vals[n.Input(j)]
		if !ok {
			return kt{}, fmt.Errorf("input %d %q is not computed by a lifted layer (a constant where Keras needs a tensor?): %w", j, n.Input(j), layer.ErrUnsupported)
		}
		return v, nil
	}
	out := func(v kt) {
		if len(n.Outputs) > 0 {
			l.vals[n.Outputs[0]] = v
		}
	}
	switch n.Op {
	case "Identity", "Dropout":
		v, err := x(0)
		if err != nil {
			return 0, err
		}
		out(v)
		return 0, nil
	case "Transpose":
		v, err := x(0)
		if err != nil {
			return 0, err
		}
		q := n.Attrs.Ints("perm")
		if len(q) == 0 {
			q = make([]int64, v.rank)
			for j := range q {
				q[j] = int64(v.rank - 1 - j)
			}
		}
		perm := v.perm
		if perm == nil {
			perm = identity(v.rank)
		}
		np := make([]int, len(q))
		for j, a := range q {
			np[j] = perm[a]
		}
		out(kt{layer: v.layer, perm: np, rank: v.rank})
		return 0, nil
	case "MatMul", "Gemm":
		return 0, l.dense(n)
	case "Sum":
		return 0, l.sum(n)
	case "Cast":
		// Integer ids cast between integer types (before an Embedding,
		// which takes any integer type) need no layer.
		v, err := x(0)
		if err != nil {
			return 0, err
		}
		to := tensor.DType(n.Attrs.Int("to", 0))
		if t, ok := l.valueType(n.Input(0)); !ok || !t.IsInt() || !to.IsInt() {
			return 0, fmt.Errorf("Cast to %s (only integer ids cast to another integer type lift): %w", to, layer.ErrUnsupported)
		}
		out(v)
		return 0, nil
	case "Gather":
		return 0, l.embedding(n)
	case "LSTM", "GRU":
		return 0, l.recurrent(n)
	case "Conv":
		return 0, l.conv(n)
	case "Add", "Sub", "Mul":
		return 0, l.binary(n)
	case "Concat":
		return 0, l.concat(n)
	case "Flatten":
		v, err := x(0)
		if err != nil {
			return 0, err
		}
		if ax := n.Attrs.Int("axis", 1); ax != 1 {
			return 0, fmt.Errorf("Flatten with axis %d (Keras flattens from axis 1): %w", ax, layer.ErrUnsupported)
		}
		src, err := l.layout(v, nil, n)
		if err != nil {
			return 0, err
		}
		if v.rank == 2 {
			out(kt{layer: src, rank: 2})
			return 0, nil
		}
		e := l.add("Flatten", l.provName(n), map[string]any{"data_format": "channels_last"}, []string{src}, nil, n)
		out(kt{layer: e.name, rank: 2})
		return 0, nil
	case "Reshape":
		return 0, l.reshape(n)
	case "MaxPool", "AveragePool":
		return 0, l.pool(n)
	case "GlobalAveragePool", "GlobalMaxPool":
		v, err := x(0)
		if err != nil {
			return 0, err
		}
		if v.rank != 4 {
			return 0, fmt.Errorf("%s of rank %d (only 2-D pooling is lifted): %w", n.Op, v.rank, layer.ErrUnsupported)
		}
		src, err := l.layout(v, []int{0, 3, 1, 2}, n)
		if err != nil {
			return 0, err
		}
		class := map[string]string{"GlobalAveragePool": "GlobalAveragePooling2D", "GlobalMaxPool": "GlobalMaxPooling2D"}[n.Op]
		e := l.add(class, l.provName(n), map[string]any{"data_format": "channels_last", "keepdims": true}, []string{src}, nil, n)
		out(kt{layer: e.name, perm: []int{0, 3, 1, 2}, rank: 4})
		return 0, nil
	case "BatchNormalization":
		return 0, l.batchNorm(n)
	case "Clip":
		return 0, l.clip(n)
	case "LeakyRelu":
		v, err := x(0)
		if err != nil {
			return 0, err
		}
		e := l.add("LeakyReLU", l.provName(n), map[string]any{"alpha": n.Attrs.Float("alpha", 0.01)}, []string{v.layer}, nil, n)
		out(kt{layer: e.name, perm: v.perm, rank: v.rank})
		return 0, nil
	}
	if act, ok := activations[n.Op]; ok {
		v, err := x(0)
		if err != nil {
			return 0, err
		}
		if n.Op == "Softmax" {
			ax := int(n.Attrs.Int("axis", -1))
			if ax < 0 {
				ax += v.rank
			}
			perm := v.perm
			if perm == nil {
				perm = identity(v.rank)
			}
			if perm[ax] != v.rank-1 {
				return 0, fmt.Errorf("Softmax over axis %d, which is not the last axis of the Keras tensor: %w", ax, layer.ErrUnsupported)
			}
		}
		if n.Op == "Elu" && n.Attrs.Float("alpha", 1) != 1 {
			return 0, fmt.Errorf("Elu with alpha %g: %w", n.Attrs.Float("alpha", 1), layer.ErrUnsupported)
		}
		// Fold into the layer that made x when nothing else reads it.
		if p := l.byName[v.layer]; p != nil && foldsActivation[p.class] &&
			p.cfg["activation"] == "linear" && l.consumers[n.Input(0)] == 1 && !l.outputs[n.Input(0)] {
			p.cfg["activation"] = act
			out(v)
			return 0, nil
		}
		e := l.add("Activation", l.provName(n), map[string]any{"activation": act}, []string{v.layer}, nil, n)
		out(kt{layer: e.name, perm: v.perm, rank: v.rank})
		return 0, nil
	}
	return 0, fmt.Errorf("no Keras layer computes it (ops lifted: MatMul, Gemm, Conv, Gather, LSTM, GRU, Add, Sub, Mul, Concat, Flatten, Reshape, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, BatchNormalization, Clip, Transpose, activations): %w", layer.ErrUnsupported)
}

// biasFor reports whether c is a bias of n channels (shape (n,), (1,n),
// (n,1,1) or (1,n,1,1)) and returns it flattened.
func biasFor(c *tensor.Tensor, n int) *tensor.Tensor {
	if c == nil || c.Len() != n {
		return nil
	}
	nontrivial := 0
	for _, d := range c.Shape() {
		if d != 1 {
			nontrivial++
		}
	}
	if nontrivial > 1 || (n > 1 && nontrivial == 0) {
		return nil
	}
	return f32(c, tensor.Shape{n})
}

func f32(c *tensor.Tensor, shape tensor.Shape) *tensor.Tensor {
	if c.DType() == tensor.Float32 {
		return tensor.From(shape, slices.Clone(c.F32()))
	}
	f := c.Float64s()
	out := make([]float32, len(f))
	for i, v := range f {
		out[i] = float32(v)
	}
	return tensor.From(shape, out)
}

// transpose2 transposes a matrix.
func transpose2(t *tensor.Tensor) *tensor.Tensor {
	s := t.Shape()
	r, c := s[0], s[1]
	in := f32(t, s).F32()
	out := make([]float32, len(in))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = in[i*c+j]
		}
	}
	return tensor.From(tensor.Shape{c, r}, out)
}

func (l *lifter) dense(n *graph.Node) error {
	v, ok := l.vals[n.Input(0)]
	if !ok {
		return fmt.Errorf("the first input is not computed by a lifted layer: %w", layer.ErrUnsupported)
	}
	w := l.consts[n.Input(1)]
	if w == nil || w.Rank() != 2 {
		return fmt.Errorf("the weight is not a constant matrix (a product of two tensors has no Keras layer here): %w", layer.ErrUnsupported)
	}
	kernel := f32(w, w.Shape())
	var bias *tensor.Tensor
	if n.Op == "Gemm" {
		if n.Attrs.Int("transA", 0) != 0 || n.Attrs.Float("alpha", 1) != 1 || n.Attrs.Float("beta", 1) != 1 {
			return fmt.Errorf("Gemm with transA, alpha or beta: %w", layer.ErrUnsupported)
		}
		if n.Attrs.Int("transB", 0) != 0 {
			kernel = transpose2(kernel)
		}
		if c := n.Input(2); c != "" {
			if bias = biasFor(l.consts[c], kernel.Shape()[1]); bias == nil {
				return fmt.Errorf("the Gemm's C is not a bias of %d units: %w", kernel.Shape()[1], layer.ErrUnsupported)
			}
		}
	}
	src, err := l.layout(v, nil, n)
	if err != nil {
		return err
	}
	units := kernel.Shape()[1]
	ws := []*tensor.Tensor{kernel}
	cfg := map[string]any{"units": units, "activation": "linear", "use_bias": bias != nil}
	if bias != nil {
		ws = append(ws, bias)
	}
	e := l.add("Dense", l.provName(n), cfg, []string{src}, ws, n)
	l.vals[n.Outputs[0]] = kt{layer: e.name, rank: v.rank}
	return nil
}

func (l *lifter) conv(n *graph.Node) error {
	v, ok := l.vals[n.Input(0)]
	if !ok {
		return fmt.Errorf("the input is not computed by a lifted layer: %w", layer.ErrUnsupported)
	}
	w := l.consts[n.Input(1)]
	if w == nil || (w.Rank() != 4 && w.Rank() != 3) || w.Rank() != v.rank {
		return fmt.Errorf("the kernel is not a constant of rank 3 or 4 matching the input: %w", layer.ErrUnsupported)
	}
	r := w.Rank() - 2
	group := int(n.Attrs.Int("group", 1))
	if group < 1 || w.Shape()[0]%group != 0 {
		return fmt.Errorf("group %d does not divide the %d filters: %w", group, w.Shape()[0], layer.ErrUnsupported)
	}
	// SAME_UPPER pads as Keras's "same" does (the odd padding at the end).
	ap := n.Attrs.String("auto_pad", "NOTSET")
	if ap != "NOTSET" && ap != "VALID" && ap != "SAME_UPPER" {
		return fmt.Errorf("auto_pad %s: %w", ap, layer.ErrUnsupported)
	}
	ints := func(name string, def int) []int {
		a := n.Attrs.Ints(name)
		out := make([]int, r)
		for i := range out {
			out[i] = def
			if i < len(a) {
				out[i] = int(a[i])
			}
		}
		return out
	}
	strides, dil := ints("strides", 1), ints("dilations", 1)
	pads := n.Attrs.Ints("pads")
	// Keras tensor layout: channels last.
	target := []int{0, 2, 1}
	if r == 2 {
		target = []int{0, 3, 1, 2}
	}
	src, err := l.layout(v, target, n)
	if err != nil {
		return err
	}
	padding := "valid"
	nonzero := false
	for _, p := range pads {
		if p != 0 {
			nonzero = true
		}
	}
	if ap == "SAME_UPPER" {
		padding, nonzero = "same", false
	} else if ap == "VALID" {
		nonzero = false
	}
	if nonzero {
		if n.Meta.KerasClass == "Conv2D" || n.Meta.KerasClass == "Conv1D" {
			padding = "same" // a Keras convolution's only padded mode
		} else {
			var spec any
			if r == 2 {
				spec = [][]int{{int(pads[0]), int(pads[2])}, {int(pads[1]), int(pads[3])}}
			} else {
				spec = []int{int(pads[0]), int(pads[1])}
			}
			class := fmt.Sprintf("ZeroPadding%dD", r)
			e := l.add(class, "", map[string]any{"padding": spec, "data_format": "channels_last"}, []string{src}, nil, n)
			if r == 1 {
				delete(e.cfg, "data_format")
			}
			src = e.name
		}
	}
	// (out, in, k...) -> (k..., in, out)
	s := w.Shape()
	kperm := []int64{2, 3, 1, 0}
	if r == 1 {
		kperm = []int64{2, 1, 0}
	}
	kernel, err := ops.Lookup("", "Transpose").Kernel(&graph.Node{Op: "Transpose", Attrs: graph.Attrs{"perm": kperm}}, []*tensor.Tensor{f32(w, s)})
	if err != nil {
		return err
	}
	filters := s[0]
	ws := []*tensor.Tensor{kernel[0]}
	// One group per input channel (W is (C*m, 1, k...)): a depthwise
	// convolution, whose kernel is (k..., C, m) with output channel c*m+j
	// from kernel[..., c, j].
	depthwise := group > 1 && s[1] == 1 && filters%group == 0
	if depthwise {
		m := filters / group
		perm := []int64{2, 3, 0, 1}
		shape := tensor.Shape{group, m, s[2], s[3]}
		if r == 1 {
			perm, shape = []int64{2, 0, 1}, tensor.Shape{group, m, s[2]}
		}
		dk, err := ops.Lookup("", "Transpose").Kernel(&graph.Node{Op: "Transpose", Attrs: graph.Attrs{"perm": perm}}, []*tensor.Tensor{f32(w, shape)})
		if err != nil {
			return err
		}
		ws[0] = dk[0]
	}
	if b := n.Input(2); b != "" {
		bias := biasFor(l.consts[b], filters)
		if bias == nil {
			return fmt.Errorf("the bias is not a constant of %d values: %w", filters, layer.ErrUnsupported)
		}
		ws = append(ws, bias)
	}
	ksize := []int{}
	for _, k := range s[2:] {
		ksize = append(ksize, k)
	}
	class := fmt.Sprintf("Conv%dD", r)
	cfg := map[string]any{"filters": filters, "kernel_size": ksize, "strides": strides, "padding": padding,
		"data_format": "channels_last", "dilation_rate": dil, "activation": "linear", "use_bias": len(ws) == 2}
	switch {
	case depthwise:
		class = fmt.Sprintf("DepthwiseConv%dD", r)
		delete(cfg, "filters")
		cfg["depth_multiplier"] = filters / group
	case group > 1:
		cfg["groups"] = group
	}
	e := l.add(class, l.provName(n), cfg, []string{src}, ws, n)
	l.vals[n.Outputs[0]] = kt{layer: e.name, perm: target, rank: v.rank}
	return nil
}

// embedding lifts Gather(table, indices) on axis 0 of a constant (V, D)
// table to a Keras Embedding.
func (l *lifter) embedding(n *graph.Node) error {
	table := l.consts[n.Input(0)]
	if table == nil || table.Rank() != 2 || n.Attrs.Int("axis", 0) != 0 {
		return fmt.Errorf("only a Gather of rows of a constant 2-D table lifts (to Embedding): %w", layer.ErrUnsupported)
	}
	v, ok := l.vals[n.Input(1)]
	if !ok {
		return fmt.Errorf("the indices are not computed by a lifted layer: %w", layer.ErrUnsupported)
	}
	src, err := l.layout(v, nil, n)
	if err != nil {
		return err
	}
	s := table.Shape()
	cfg := map[string]any{"input_dim": s[0], "output_dim": s[1], "mask_zero": false}
	e := l.add("Embedding", l.provName(n), cfg, []string{src}, []*tensor.Tensor{f32(table, s)}, n)
	l.vals[n.Outputs[0]] = kt{layer: e.name, rank: v.rank + 1}
	return nil
}

// shapeOps may compute on shape values without a Keras layer.
var shapeOps = map[string]bool{"Gather": true, "Unsqueeze": true, "Squeeze": true, "Concat": true, "Cast": true,
	"Slice": true, "Reshape": true, "Add": true, "Sub": true, "Mul": true, "Div": true, "Identity": true}

// shapeArith follows the shapes of lifted tensors through the integer
// arithmetic PyTorch exports build initial states with: Shape of a lifted
// value, then shape ops on shape values and constants, then
// ConstantOfShape(0). It reports whether it handled n.
func (l *lifter) shapeArith(n *graph.Node) (bool, error) {
	if n.Domain != "" || len(n.Outputs) == 0 {
		return false, nil
	}
	switch {
	case n.Op == "Shape":
		if _, ok := l.vals[n.Input(0)]; ok {
			l.shapeVals[n.Outputs[0]] = true
			return true, nil
		}
	case n.Op == "ConstantOfShape" && l.shapeVals[n.Input(0)]:
		if v := n.Attrs.Tensor("value"); v != nil && (v.Len() != 1 || v.At(0) != 0) {
			return true, fmt.Errorf("ConstantOfShape of a run-time shape with a value other than 0: %w", layer.ErrUnsupported)
		}
		l.zeros[n.Outputs[0]] = true
		return true, nil
	case shapeOps[n.Op]:
		shape := false
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			if l.shapeVals[in] {
				shape = true
			} else if _, ok := l.consts[in]; !ok {
				return false, nil
			}
		}
		if shape {
			for _, o := range n.Outputs {
				l.shapeVals[o] = true
			}
			return true, nil
		}
	}
	return false, nil
}

// dropDirection maps Gather(Y_h, 0, axis 0) / Squeeze(Y_h, [0]) of a
// lifted recurrent layer to its last state, and Squeeze(Y, [1]) to its
// sequence (time-major in the graph, batch-major in Keras).
func (l *lifter) dropDirection(n *graph.Node) (bool, error) {
	if len(n.Inputs) == 0 || len(n.Outputs) == 0 {
		return false, nil
	}
	axesIs := func(want int64) bool {
		var axes []int64
		if n.Op == "Squeeze" {
			if c := l.consts[n.Input(1)]; c != nil {
				axes = c.Int64s()
			} else {
				axes = n.Attrs.Ints("axes")
			}
		} else if n.Op == "Gather" {
			idx := l.consts[n.Input(1)]
			if idx == nil || idx.Rank() != 0 || (idx.At(0) != 0 && idx.At(0) != -1) || n.Attrs.Int("axis", 0) != want {
				return false
			}
			return true
		}
		return len(axes) == 1 && axes[0] == want
	}
	if name, ok := l.rnnLast[n.Input(0)]; ok && (n.Op == "Squeeze" || n.Op == "Gather") && axesIs(0) {
		l.vals[n.Outputs[0]] = kt{layer: name, rank: 2}
		return true, nil
	}
	if name, ok := l.rnnSeqBi[n.Input(0)]; ok && n.Op == "Transpose" && slices.Equal(n.Attrs.Ints("perm"), []int64{0, 2, 1, 3}) {
		l.rnnSeqBiT[n.Outputs[0]] = name
		return true, nil
	}
	if name, ok := l.rnnSeqBiT[n.Input(0)]; ok && n.Op == "Reshape" {
		c := l.consts[n.Input(1)]
		if c == nil || c.Len() != 3 {
			return true, fmt.Errorf("the directions of a bidirectional layer are joined by a Reshape to a shape kiln does not know: %w", layer.ErrUnsupported)
		}
		sh := c.Int64s()
		if (sh[0] != 0 && sh[0] != -1) || (sh[1] != 0 && sh[1] != -1) || (sh[2] != -1 && sh[2] != int64(2*l.unitsOf(name))) || (sh[0] == -1 && sh[1] == -1) {
			return true, fmt.Errorf("Reshape of a bidirectional layer's output to %v (want [0, 0, -1]): %w", sh, layer.ErrUnsupported)
		}
		l.vals[n.Outputs[0]] = kt{layer: name, perm: []int{1, 0, 2}, rank: 3}
		return true, nil
	}
	if name, ok := l.rnnSeq[n.Input(0)]; ok && (n.Op == "Squeeze" || n.Op == "Gather") && axesIs(1) {
		l.vals[n.Outputs[0]] = kt{layer: name, perm: []int{1, 0, 2}, rank: 3}
		return true, nil
	}
	return false, nil
}

// recurrent lifts a forward ONNX LSTM or GRU with the default activations
// and zero (or absent) initial states to a Keras LSTM or GRU: gates
// reordered (ONNX LSTM i,o,f,c to Keras i,f,c,o; GRU z,r,h alike),
// kernels transposed to (in, units), LSTM biases summed, GRU biases kept
// as the (2, 3*units) of reset_after = linear_before_reset = 1.
func (l *lifter) recurrent(n *graph.Node) error {
	gru := n.Op == "GRU"
	v, ok := l.vals[n.Input(0)]
	if !ok || v.rank != 3 {
		return fmt.Errorf("the input is not a lifted 3-D tensor: %w", layer.ErrUnsupported)
	}
	dirs := 1
	switch d := n.Attrs.String("direction", "forward"); d {
	case "forward":
	case "bidirectional":
		dirs = 2
	default:
		return fmt.Errorf("direction %s (forward and bidirectional layers lift): %w", d, layer.ErrUnsupported)
	}
	if n.Attrs.Int("layout", 0) != 0 || n.Attrs.Has("clip") || n.Attrs.Int("input_forget", 0) != 0 || len(n.Attrs.Strings("activations")) > 0 {
		return fmt.Errorf("layout, clip, input_forget or custom activations: %w", layer.ErrUnsupported)
	}
	if n.Input(4) != "" {
		return fmt.Errorf("sequence_lens: %w", layer.ErrUnsupported)
	}
	for j := 5; j < len(n.Inputs); j++ {
		if in := n.Input(j); in != "" && !l.zeros[in] {
			if c := l.consts[in]; c == nil || !allZero(c) {
				return fmt.Errorf("an initial state other than zeros: %w", layer.ErrUnsupported)
			}
		}
	}
	G := 4
	if gru {
		G = 3
	}
	W, R := l.consts[n.Input(1)], l.consts[n.Input(2)]
	H := int(n.Attrs.Int("hidden_size", 0))
	if W == nil || R == nil || W.Rank() != 3 || R.Rank() != 3 || W.Shape()[0] != dirs || H <= 0 ||
		W.Shape()[1] != G*H || !R.Shape().Equal(tensor.Shape{dirs, G * H, H}) {
		return fmt.Errorf("weights W %v, R %v are not constants of a forward layer with hidden_size %d: %w", shapeOf(W), shapeOf(R), H, layer.ErrUnsupported)
	}
	in := W.Shape()[2]
	var B []float64
	if b := n.Input(3); b != "" {
		c := l.consts[b]
		if c == nil || c.Len() != dirs*2*G*H {
			return fmt.Errorf("bias is not a constant of %d values: %w", dirs*2*G*H, layer.ErrUnsupported)
		}
		B = c.Float64s()
	} else {
		B = make([]float64, dirs*2*G*H)
	}
	order := []int{0, 2, 3, 1} // Keras i, f, c, o from ONNX i, o, f, c
	if gru {
		order = []int{0, 1, 2}
	}
	w, r := W.Float64s(), R.Float64s()
	lbr := gru && n.Attrs.Int("linear_before_reset", 0) != 0
	// weightsOf converts direction d's W, R and B to Keras's kernel,
	// recurrent_kernel and bias.
	weightsOf := func(d int) []*tensor.Tensor {
		wd, rd, bd := w[d*G*H*in:(d+1)*G*H*in], r[d*G*H*H:(d+1)*G*H*H], B[d*2*G*H:(d+1)*2*G*H]
		kernel := make([]float32, in*G*H)
		rec := make([]float32, H*G*H)
		for k, src := range order {
			for u := range H {
				row := src*H + u // ONNX row of this gate unit
				for x := range in {
					kernel[x*G*H+k*H+u] = float32(wd[row*in+x])
				}
				for h := range H {
					rec[h*G*H+k*H+u] = float32(rd[row*H+h])
				}
			}
		}
		var bias *tensor.Tensor
		bv := make([]float32, 2*G*H)
		for k, src := range order {
			for u := range H {
				bv[k*H+u] = float32(bd[src*H+u])
				bv[G*H+k*H+u] = float32(bd[G*H+src*H+u])
			}
		}
		if lbr {
			bias = tensor.From(tensor.Shape{2, G * H}, bv)
		} else {
			sum := make([]float32, G*H)
			for i := range sum {
				sum[i] = bv[i] + bv[G*H+i]
			}
			bias = tensor.From(tensor.Shape{G * H}, sum)
		}
		return []*tensor.Tensor{tensor.From(tensor.Shape{in, G * H}, kernel), tensor.From(tensor.Shape{H, G * H}, rec), bias}
	}
	cfg := map[string]any{"units": H, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true,
		"return_sequences": false, "return_state": false, "go_backwards": false, "stateful": false, "unroll": false}
	if gru {
		cfg["reset_after"] = lbr
	} else {
		cfg["unit_forget_bias"] = false
	}
	yUsed := len(n.Outputs) > 0 && n.Outputs[0] != "" && l.consumers[n.Outputs[0]] > 0
	hUsed := len(n.Outputs) > 1 && n.Outputs[1] != "" && l.consumers[n.Outputs[1]] > 0
	cUsed := len(n.Outputs) > 2 && n.Outputs[2] != "" && l.consumers[n.Outputs[2]] > 0
	if cUsed || (yUsed && hUsed) {
		return fmt.Errorf("both the sequence and the last state, or the cell state, are read (Keras return_state is not lifted): %w", layer.ErrUnsupported)
	}
	cfg["return_sequences"] = yUsed
	src, err := l.layout(v, []int{1, 0, 2}, n)
	if err != nil {
		return err
	}
	class := "LSTM"
	if gru {
		class = "GRU"
	}
	if dirs == 2 {
		if !yUsed {
			return fmt.Errorf("a bidirectional layer whose last states are read (only its sequence lifts): %w", layer.ErrUnsupported)
		}
		inner := map[string]any{"name": "forward_" + snake[class]}
		for k, v := range cfg {
			inner[k] = v
		}
		ws := append(weightsOf(0), weightsOf(1)...)
		e := l.add("Bidirectional", l.provName(n), map[string]any{"merge_mode": "concat",
			"layer": map[string]any{"class_name": class, "config": inner}}, []string{src}, ws, n)
		l.rnnSeqBi[n.Outputs[0]] = e.name
		return nil
	}
	e := l.add(class, l.provName(n), cfg, []string{src}, weightsOf(0), n)
	if yUsed {
		l.rnnSeq[n.Outputs[0]] = e.name
	}
	if hUsed {
		l.rnnLast[n.Outputs[1]] = e.name
	}
	return nil
}

// valueType is the element type of a graph input or typed value.
func (l *lifter) valueType(name string) (tensor.DType, bool) {
	for _, in := range l.g.Inputs {
		if in.Name == name {
			return in.Type.DType, true
		}
	}
	if t, ok := l.g.Types[name]; ok && t.DType != tensor.Undefined {
		return t.DType, true
	}
	return tensor.Undefined, false
}

// unitsOf returns the units of a lifted Bidirectional's wrapped layer.
func (l *lifter) unitsOf(name string) int {
	e := l.byName[name]
	if e == nil {
		return -1
	}
	inner, _ := e.cfg["layer"].(map[string]any)
	cfg, _ := inner["config"].(map[string]any)
	u, _ := cfg["units"].(int)
	return u
}

func allZero(t *tensor.Tensor) bool {
	for _, v := range t.Float64s() {
		if v != 0 {
			return false
		}
	}
	return true
}

func shapeOf(t *tensor.Tensor) any {
	if t == nil {
		return "none"
	}
	return t.Shape()
}

// foldsActivation are the lifted classes an activation after them can be
// folded into.
var foldsActivation = map[string]bool{"Dense": true, "Conv1D": true, "Conv2D": true, "DepthwiseConv1D": true, "DepthwiseConv2D": true}

// clip lifts Clip(x, 0, max) (ReLU6 and kin) to a ReLU layer with
// max_value; other ranges have no Keras layer.
func (l *lifter) clip(n *graph.Node) error {
	v, ok := l.vals[n.Input(0)]
	if !ok {
		return fmt.Errorf("the input is not computed by a lifted layer: %w", layer.ErrUnsupported)
	}
	bound := func(j int) (float64, bool, error) {
		if n.Input(j) == "" {
			return 0, false, nil
		}
		c := l.consts[n.Input(j)]
		if c == nil || c.Len() != 1 {
			return 0, false, fmt.Errorf("Clip bound %d is not a constant scalar: %w", j, layer.ErrUnsupported)
		}
		return c.At(0), true, nil
	}
	lo, hasLo, err := bound(1)
	if err != nil {
		return err
	}
	hi, hasHi, err := bound(2)
	if err != nil {
		return err
	}
	if !hasLo || lo != 0 {
		return fmt.Errorf("Clip with a lower bound other than 0 (only ReLU-like clips lift): %w", layer.ErrUnsupported)
	}
	cfg := map[string]any{"negative_slope": 0.0, "threshold": 0.0}
	if hasHi {
		cfg["max_value"] = hi
	}
	e := l.add("ReLU", l.provName(n), cfg, []string{v.layer}, nil, n)
	l.vals[n.Outputs[0]] = kt{layer: e.name, perm: v.perm, rank: v.rank}
	return nil
}

// nonNegative reports whether a lifted value is known to be >= 0: the
// output of a ReLU, or of a layer whose activation is relu.
func (l *lifter) nonNegative(v kt) bool { return l.nonNegLayer(v.layer, 0) }

// nonNegLayer: a ReLU or relu-activated layer, or a layer that only moves,
// pools, joins or adds non-negative inputs.
func (l *lifter) nonNegLayer(name string, depth int) bool {
	e := l.byName[name]
	if e == nil || depth > 64 {
		return false
	}
	switch {
	case e.class == "ReLU":
		ns, _ := e.cfg["negative_slope"].(float64)
		th, _ := e.cfg["threshold"].(float64)
		return ns == 0 && th >= 0
	case e.cfg["activation"] == "relu":
		return true
	case e.class == "Concatenate" || e.class == "MaxPooling2D" || e.class == "AveragePooling2D" || e.class == "ZeroPadding2D" ||
		e.class == "Permute" || e.class == "Reshape" || e.class == "Flatten" || e.class == "Add" || e.class == "Maximum":
		if len(e.in) == 0 {
			return false
		}
		for _, in := range e.in {
			if !l.nonNegLayer(in, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// sum lifts Sum of lifted tensors to an Add layer (one input: the input).
func (l *lifter) sum(n *graph.Node) error {
	var ins []kt
	for j := range n.Inputs {
		v, ok := l.vals[n.Input(j)]
		if !ok {
			return fmt.Errorf("input %d is not computed by a lifted layer: %w", j, layer.ErrUnsupported)
		}
		if len(ins) > 0 && v.rank != ins[0].rank {
			return fmt.Errorf("Sum of tensors of ranks %d and %d: %w", ins[0].rank, v.rank, layer.ErrUnsupported)
		}
		ins = append(ins, v)
	}
	if len(ins) == 0 {
		return fmt.Errorf("Sum of nothing: %w", layer.ErrUnsupported)
	}
	if len(ins) == 1 {
		l.vals[n.Outputs[0]] = ins[0]
		return nil
	}
	target := ins[0].perm
	if target == nil {
		target = identity(ins[0].rank)
	}
	names := []string{ins[0].layer}
	for _, v := range ins[1:] {
		src, err := l.layout(v, target, n)
		if err != nil {
			return err
		}
		names = append(names, src)
	}
	e := l.add("Add", l.provName(n), map[string]any{}, names, nil, n)
	l.vals[n.Outputs[0]] = kt{layer: e.name, perm: ins[0].perm, rank: ins[0].rank}
	return nil
}

func (l *lifter) binary(n *graph.Node) error {
	a, aok := l.vals[n.Input(0)]
	b, bok := l.vals[n.Input(1)]
	switch {
	case aok && bok:
		class := map[string]string{"Add": "Add", "Sub": "Subtract", "Mul": "Multiply"}[n.Op]
		if a.rank != b.rank {
			return fmt.Errorf("%s of tensors of ranks %d and %d: %w", n.Op, a.rank, b.rank, layer.ErrUnsupported)
		}
		target := a.perm
		if target == nil {
			target = identity(a.rank)
		}
		bs, err := l.layout(b, target, n)
		if err != nil {
			return err
		}
		e := l.add(class, l.provName(n), map[string]any{}, []string{a.layer, bs}, nil, n)
		l.vals[n.Outputs[0]] = kt{layer: e.name, perm: a.perm, rank: a.rank}
		return nil
	case n.Op == "Add" && (aok || bok):
		v, c := a, l.consts[n.Input(1)]
		src := n.Input(0)
		if !aok {
			v, c, src = b, l.consts[n.Input(0)], n.Input(1)
		}
		// A bias after a Dense or convolution without one.
		if p := l.byName[v.layer]; p != nil && foldsActivation[p.class] &&
			p.cfg["use_bias"] == false && p.cfg["activation"] == "linear" && l.consumers[src] == 1 && !l.outputs[src] {
			ks := p.w[0].Shape()
			units := ks[len(ks)-1]
			if strings.HasPrefix(p.class, "Depthwise") {
				units *= ks[len(ks)-2] // channels x depth_multiplier
			}
			if bias := biasFor(c, units); bias != nil && biasAxisOK(c, v) {
				p.cfg["use_bias"] = true
				p.w = append(p.w, bias)
				l.vals[n.Outputs[0]] = v
				return nil
			}
		}
	}
	if (n.Op == "Mul" || n.Op == "Add") && aok != bok {
		v, c, src := a, l.consts[n.Input(1)], n.Input(0)
		if !aok {
			v, c, src = b, l.consts[n.Input(0)], n.Input(1)
		}
		if done, err := l.affine(n, v, c, src); done || err != nil {
			return err
		}
	}
	return fmt.Errorf("%s with a constant operand that is not the bias of the layer before: %w", n.Op, layer.ErrUnsupported)
}

// affine lifts a per-channel scale (Mul) or shift (Add) by a constant, as
// Caffe2-style exports write an inference BatchNormalization, to a Keras
// BatchNormalization with zero mean, unit variance and epsilon 0 (so it
// computes gamma*x + beta exactly); a shift right after such a scale
// becomes its beta.
func (l *lifter) affine(n *graph.Node, v kt, c *tensor.Tensor, src string) (bool, error) {
	if c == nil || c.Len() < 2 || !biasAxisOK(c, v) {
		return false, nil
	}
	ch := c.Len()
	vec := biasFor(c, ch)
	if vec == nil {
		return false, nil
	}
	if n.Op == "Add" {
		if p := l.byName[v.layer]; p != nil && l.affineBN[p.name] && l.consumers[src] == 1 && !l.outputs[src] {
			beta := p.w[1].F32()
			for i, d := range vec.F32() {
				beta[i] += d
			}
			l.vals[n.Outputs[0]] = v
			return true, nil
		}
	}
	gamma, beta := tensor.New(tensor.Float32, ch), tensor.New(tensor.Float32, ch)
	for i := range gamma.F32() {
		gamma.F32()[i] = 1
	}
	if n.Op == "Mul" {
		gamma = vec
	} else {
		beta = vec
	}
	ones := tensor.New(tensor.Float32, ch)
	for i := range ones.F32() {
		ones.F32()[i] = 1
	}
	src2, err := l.layout(v, v.perm, n)
	if err != nil {
		return true, err
	}
	e := l.add("BatchNormalization", l.provName(n), map[string]any{"axis": -1, "epsilon": 0.0, "momentum": 0.99, "center": true, "scale": true},
		[]string{src2}, []*tensor.Tensor{gamma, beta, tensor.New(tensor.Float32, ch), ones}, n)
	l.affineBN[e.name] = true
	l.vals[n.Outputs[0]] = kt{layer: e.name, perm: v.perm, rank: v.rank}
	return true, nil
}

// biasAxisOK checks that a bias constant broadcasts along the channel axis
// of the Keras tensor (its last axis).
func biasAxisOK(c *tensor.Tensor, v kt) bool {
	s := c.Shape()
	axis := -1
	for i, d := range s {
		if d != 1 {
			axis = i + v.rank - len(s)
		}
	}
	if axis < 0 {
		return true
	}
	perm := v.perm
	if perm == nil {
		perm = identity(v.rank)
	}
	return perm[axis] == v.rank-1
}

func (l *lifter) concat(n *graph.Node) error {
	var first kt
	var ins []string
	for j := range n.Inputs {
		v, ok := l.vals[n.Input(j)]
		if !ok {
			return fmt.Errorf("input %d is a constant: %w", j, layer.ErrUnsupported)
		}
		if j == 0 {
			first = v
			ins = append(ins, v.layer)
			continue
		}
		target := first.perm
		if target == nil {
			target = identity(first.rank)
		}
		s, err := l.layout(v, target, n)
		if err != nil {
			return err
		}
		ins = append(ins, s)
	}
	ax := int(n.Attrs.Int("axis", 0))
	if ax < 0 {
		ax += first.rank
	}
	perm := first.perm
	if perm == nil {
		perm = identity(first.rank)
	}
	kax := perm[ax]
	if kax == first.rank-1 {
		kax = -1
	}
	e := l.add("Concatenate", l.provName(n), map[string]any{"axis": kax}, ins, nil, n)
	l.vals[n.Outputs[0]] = kt{layer: e.name, perm: first.perm, rank: first.rank}
	return nil
}

func (l *lifter) reshape(n *graph.Node) error {
	v, ok := l.vals[n.Input(0)]
	if !ok {
		return fmt.Errorf("the input is a constant: %w", layer.ErrUnsupported)
	}
	sc := l.consts[n.Input(1)]
	if sc == nil {
		return fmt.Errorf("the target shape is not a constant: %w", layer.ErrUnsupported)
	}
	shape := sc.Int64s()
	if len(shape) == 0 || (shape[0] != 0 && shape[0] != -1 && !l.batchDim(n.Input(0), shape[0])) {
		return fmt.Errorf("target shape %v does not keep the batch axis: %w", shape, layer.ErrUnsupported)
	}
	src, err := l.layout(v, nil, n)
	if err != nil {
		return err
	}
	var target []int
	for j, d := range shape[1:] {
		if d == 0 {
			t, ok := l.g.Types[n.Input(0)]
			if !ok || j+1 >= len(t.Shape) || t.Shape[j+1] < 0 {
				return fmt.Errorf("target shape %v copies a dimension kiln does not know: %w", shape, layer.ErrUnsupported)
			}
			d = int64(t.Shape[j+1])
		}
		target = append(target, int(d))
	}
	e := l.add("Reshape", l.provName(n), map[string]any{"target_shape": target}, []string{src}, nil, n)
	l.vals[n.Outputs[0]] = kt{layer: e.name, rank: len(shape)}
	return nil
}

func (l *lifter) batchDim(v string, d int64) bool {
	if t, ok := l.g.Types[v]; ok && len(t.Shape) > 0 && int64(t.Shape[0]) == d {
		return true
	}
	// Graphs whose inputs all declare the same fixed batch size (ONNX
	// model zoo files: 1) carry it as the leading dimension everywhere.
	if d <= 0 || len(l.g.Inputs) == 0 {
		return false
	}
	for _, in := range l.g.Inputs {
		if len(in.Type.Shape) == 0 || int64(in.Type.Shape[0]) != d {
			return false
		}
	}
	return true
}

func (l *lifter) pool(n *graph.Node) error {
	v, ok := l.vals[n.Input(0)]
	if !ok {
		return fmt.Errorf("the input is a constant: %w", layer.ErrUnsupported)
	}
	if v.rank != 4 {
		return fmt.Errorf("%s of rank %d (only 2-D pooling is lifted): %w", n.Op, v.rank, layer.ErrUnsupported)
	}
	pads := n.Attrs.Ints("pads")
	padded := false
	for _, p := range pads {
		if p != 0 {
			padded = true
		}
	}
	// Explicit pads become a ZeroPadding2D before a valid pooling when
	// zeros change nothing: max pooling of non-negative values, average
	// pooling that counts the padding.
	// With stride 1, pads of (k-1)/2 before and the rest after are what
	// Keras's "same" pads (which neither max nor average pooling counts).
	sameAsKeras := len(pads) == 4
	ks, st := n.Attrs.Ints("kernel_shape"), n.Attrs.Ints("strides")
	for a := range 2 {
		if !sameAsKeras || a >= len(ks) || (a < len(st) && st[a] != 1) || pads[a] != (ks[a]-1)/2 || pads[a+2] != ks[a]-1-(ks[a]-1)/2 {
			sameAsKeras = false
		}
	}
	if n.Op == "AveragePool" && n.Attrs.Int("count_include_pad", 0) != 0 {
		sameAsKeras = false
	}
	zeroPad := padded && n.Meta.KerasClass == "" && len(pads) == 4 && !sameAsKeras &&
		((n.Op == "MaxPool" && l.nonNegative(v)) || (n.Op == "AveragePool" && n.Attrs.Int("count_include_pad", 0) == 1))
	if padded && n.Meta.KerasClass == "" && !zeroPad && !sameAsKeras {
		return fmt.Errorf("%s with padding (Keras pools pad only as \"same\"; zero padding is exact only for max pooling after a ReLU or average pooling that counts the padding): %w", n.Op, layer.ErrUnsupported)
	}
	if n.Attrs.Int("ceil_mode", 0) != 0 {
		return fmt.Errorf("%s with ceil_mode: %w", n.Op, layer.ErrUnsupported)
	}
	for _, d := range n.Attrs.Ints("dilations") {
		if d != 1 {
			return fmt.Errorf("%s with dilations: %w", n.Op, layer.ErrUnsupported)
		}
	}
	padding := "valid"
	if padded && !zeroPad {
		padding = "same"
	}
	k := n.Attrs.Ints("kernel_shape")
	s := n.Attrs.Ints("strides")
	if len(s) == 0 {
		s = []int64{1, 1}
	}
	src, err := l.layout(v, []int{0, 3, 1, 2}, n)
	if err != nil {
		return err
	}
	if zeroPad {
		spec := [][]int{{int(pads[0]), int(pads[2])}, {int(pads[1]), int(pads[3])}}
		src = l.add("ZeroPadding2D", "", map[string]any{"padding": spec, "data_format": "channels_last"}, []string{src}, nil, n).name
	}
	class := map[string]string{"MaxPool": "MaxPooling2D", "AveragePool": "AveragePooling2D"}[n.Op]
	e := l.add(class, l.provName(n), map[string]any{"pool_size": k, "strides": s, "padding": padding, "data_format": "channels_last"}, []string{src}, nil, n)
	l.vals[n.Outputs[0]] = kt{layer: e.name, perm: []int{0, 3, 1, 2}, rank: 4}
	return nil
}

func (l *lifter) batchNorm(n *graph.Node) error {
	v, ok := l.vals[n.Input(0)]
	if !ok {
		return fmt.Errorf("the input is a constant: %w", layer.ErrUnsupported)
	}
	var ws []*tensor.Tensor
	for j := 1; j <= 4; j++ {
		c := l.consts[n.Input(j)]
		if c == nil {
			return fmt.Errorf("input %d is not a constant: %w", j, layer.ErrUnsupported)
		}
		ws = append(ws, f32(c, tensor.Shape{c.Len()}))
	}
	perm := v.perm
	if perm == nil {
		perm = identity(v.rank)
	}
	axis := 1
	if v.rank > 1 {
		axis = perm[1]
	}
	if axis == v.rank-1 {
		axis = -1
	}
	cfg := map[string]any{"axis": axis, "momentum": n.Attrs.Float("momentum", 0.9), "epsilon": n.Attrs.Float("epsilon", 1e-5), "center": true, "scale": true}
	e := l.add("BatchNormalization", l.provName(n), cfg, []string{v.layer}, ws, n)
	l.vals[n.Outputs[0]] = kt{layer: e.name, perm: v.perm, rank: v.rank}
	return nil
}

// kerasBatchNorm lifts the run of nodes a Keras BatchNormalization was
// lowered to (x * inv + shift with inv, shift computed from the layer's
// weights) back to the layer, with the weights read from the params named
// after it. It returns how many further nodes it consumed.
func (l *lifter) kerasBatchNorm(i int) (int, error) {
	first := l.g.Nodes[i]
	name := first.Meta.KerasLayer
	j := i
	for j+1 < len(l.g.Nodes) && l.g.Nodes[j+1].Meta.KerasLayer == name {
		j++
	}
	run := l.g.Nodes[i : j+1]
	inRun := map[string]bool{}
	for _, n := range run {
		for _, o := range n.Outputs {
			inRun[o] = true
		}
	}
	var x kt
	found := false
	eps := 1e-3
	for _, n := range run {
		for _, in := range n.Inputs {
			if v, ok := l.vals[in]; ok && !inRun[in] {
				x, found = v, true
			}
		}
		if n.Op == "Add" {
			for _, in := range n.Inputs {
				if c := l.consts[in]; c != nil && c.Len() == 1 && len(c.Shape()) == 0 {
					eps = c.Float64s()[0]
				}
			}
		}
	}
	if !found {
		return 0, fmt.Errorf("Keras layer %q (BatchNormalization): no tensor input: %w", name, layer.ErrUnsupported)
	}
	var ws []*tensor.Tensor
	center, scale := false, false
	for _, w := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
		c := l.consts[name+"/"+w]
		if c == nil {
			if w == "gamma" || w == "beta" {
				continue
			}
			return 0, fmt.Errorf("Keras layer %q (BatchNormalization): no param %q: %w", name, name+"/"+w, layer.ErrUnsupported)
		}
		if w == "gamma" {
			scale = true
		}
		if w == "beta" {
			center = true
		}
		ws = append(ws, f32(c, tensor.Shape{c.Len()}))
	}
	perm := x.perm
	if perm == nil {
		perm = identity(x.rank)
	}
	// Keras's default axis is the last; a moved channel axis shows in the
	// param's broadcast shape, which the weights lose, so the last axis of
	// the value is taken as Keras's.
	axis := perm[x.rank-1]
	if axis == x.rank-1 {
		axis = -1
	}
	cfg := map[string]any{"axis": axis, "momentum": 0.99, "epsilon": eps, "center": center, "scale": scale}
	e := l.add("BatchNormalization", l.provName(first), cfg, []string{x.layer}, ws, first)
	last := run[len(run)-1]
	l.vals[last.Outputs[0]] = kt{layer: e.name, perm: x.perm, rank: x.rank}
	return j - i, nil
}

// globalReduce lifts a Keras global pooling lowered to ReduceMean/Max over
// the spatial axes.
func (l *lifter) globalReduce(n *graph.Node) error {
	v, ok := l.vals[n.Input(0)]
	if !ok || v.rank != 4 {
		return fmt.Errorf("global pooling of a constant or of rank other than 4: %w", layer.ErrUnsupported)
	}
	src, err := l.layout(v, nil, n)
	if err != nil {
		return err
	}
	keep := n.Attrs.Int("keepdims", 1) != 0
	e := l.add(n.Meta.KerasClass, l.provName(n), map[string]any{"data_format": "channels_last", "keepdims": keep}, []string{src}, nil, n)
	r := 2
	if keep {
		r = 4
	}
	l.vals[n.Outputs[0]] = kt{layer: e.name, rank: r}
	return nil
}

// build writes the Keras 2 functional config, builds the model and
// assigns the weights.
func (l *lifter) build(inputs, outputs []string) (*train.Model, error) {
	var layers []any
	for _, e := range l.entries {
		cfg := map[string]any{"name": e.name, "trainable": true, "dtype": "float32"}
		for k, v := range e.cfg {
			cfg[k] = v
		}
		var nodes []any
		if len(e.in) > 0 {
			var node []any
			for _, in := range e.in {
				node = append(node, []any{in, 0, 0, map[string]any{}})
			}
			nodes = append(nodes, node)
		}
		if nodes == nil {
			nodes = []any{}
		}
		layers = append(layers, map[string]any{"class_name": e.class, "name": e.name, "config": cfg, "inbound_nodes": nodes})
	}
	refs := func(ns []string) []any {
		var out []any
		for _, n := range ns {
			out = append(out, []any{n, 0, 0})
		}
		return out
	}
	name := sanitize(l.g.Name)
	if l.g.Name == "" {
		name = "lifted"
	}
	top := map[string]any{"class_name": "Functional", "config": map[string]any{
		"name": name, "layers": layers, "input_layers": refs(inputs), "output_layers": refs(outputs),
	}}
	b, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("lift: %w", err)
	}
	m, err := train.FromKerasConfig(b, layer.Version{Major: 2, Minor: 13, Backend: "tensorflow"})
	if err != nil {
		return nil, fmt.Errorf("lift: the lifted model does not build: %w", err)
	}
	for _, e := range l.entries {
		if len(e.w) == 0 {
			continue
		}
		ly := m.Layer(e.name)
		ws := ly.Weights()
		if len(ws) != len(e.w) {
			return nil, fmt.Errorf("lift: layer %q (%s) from node %s built %d weights, the graph gives %d", e.name, e.class, e.node.Describe(), len(ws), len(e.w))
		}
		for k, w := range ws {
			if !slices.Equal(w.Shape, []int(e.w[k].Shape())) {
				return nil, fmt.Errorf("lift: layer %q (%s) from node %s: weight %s has shape %v, the graph gives %v", e.name, e.class, e.node.Describe(), w.Name, w.Shape, e.w[k].Shape())
			}
			w.Value = e.w[k]
		}
	}
	return m, nil
}
