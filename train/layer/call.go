package layer

import (
	"encoding/json"
	"fmt"
)

// CallInfo describes one call of a layer inside a model: Keras's "node".
// A model passes a layer its tensor arguments as one flat list (the in of
// Build and Lower): the positional tensors first, flattened in order, then
// the tensors passed by keyword in the order the config writes them (a
// Keras 3 MultiHeadAttention called as mha(q, v, key=k) gets [q, v, k]; an
// RNN called with initial_state=[h, c] gets [x, h, c], which is also how
// Keras 2 records that call). An explicit "mask" keyword is not in that
// list: a single tensor becomes the first input's Tensor.Mask, and a list
// of masks (Attention's mask=[query_mask, value_mask]) sets the Tensor.Mask
// of the positional inputs in order.
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

// Arg returns the position in in (of length n) of the tensor a call passed
// as positional argument pos or, failing that, under keyword kw ("" for
// none); -1 when the call passed neither. With a nil call (a layer used
// from Go) every input is positional.
func (c *CallInfo) Arg(n, pos int, kw string) int {
	nargs := n
	if c != nil {
		nargs = c.NArgs
	}
	if pos >= 0 && pos < nargs && pos < n {
		return pos
	}
	if c != nil && kw != "" {
		if idx := c.TensorKwargs[kw]; len(idx) == 1 && idx[0] < n {
			return idx[0]
		}
	}
	return -1
}

// Bool reads a boolean keyword argument (def when the call did not pass
// it or passed null). A value that is not a JSON bool is an error naming
// the keyword.
func (c *CallInfo) Bool(kw string, def bool) (bool, error) {
	if c == nil {
		return def, nil
	}
	raw, ok := c.Kwargs[kw]
	if !ok || !isSet(raw) {
		return def, nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return def, fmt.Errorf("call argument %s=%s is not a constant bool: %w", kw, truncate(string(raw)), ErrUnsupported)
	}
	return v, nil
}
