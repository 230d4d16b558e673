package layer

import "encoding/json"

// CallInfo describes one call of a layer inside a model: Keras's "node".
// A model passes a layer its tensor arguments as one flat list (the in of
// Build and Lower): the positional tensors first, flattened in order, then
// the tensors passed by keyword in the order the config writes them (a
// Keras 3 MultiHeadAttention called as mha(q, v, key=k) gets [q, v, k]; an
// RNN called with initial_state=[h, c] gets [x, h, c], which is also how
// Keras 2 records that call). An explicit "mask" keyword is not in that
// list: it becomes the first input's Tensor.Mask.
//
// Layers whose meaning depends on the keywords implement CallBuilder and
// CallLowerer; the others only see the flat list.
type CallInfo struct {
	// Node is the index of this call among the layer's calls (0 first).
	Node int
	// NArgs is how many entries of in came from positional arguments.
	NArgs int
	// TensorKwargs maps a keyword ("value", "key", "initial_state") to the
	// positions in in of the tensors passed under it.
	TensorKwargs map[string][]int
	// Kwargs holds the keyword arguments that are not tensors, as JSON
	// ("training": false, "use_causal_mask": true). Null values are left out.
	Kwargs map[string]json.RawMessage
	// Consts holds positional arguments that are not tensors (Keras 3 op
	// layers such as GetItem receive indices this way), as JSON, by their
	// position among the positional arguments.
	Consts map[int]json.RawMessage
}

// CallBuilder is implemented by layers whose output shapes depend on the
// call's keyword arguments. A model calls BuildCall instead of Build.
type CallBuilder interface {
	BuildCall(in []Shape, call *CallInfo) ([]Shape, error)
}

// CallLowerer is implemented by layers whose lowering depends on the call's
// keyword arguments. A model calls LowerCall instead of Lower.
type CallLowerer interface {
	LowerCall(b *Builder, in []Tensor, call *CallInfo) ([]Tensor, error)
}
