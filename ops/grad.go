package ops

import (
	"sync"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// GradEmitter appends nodes to a backward graph on behalf of a gradient
// rule. Names are graph value names.
type GradEmitter interface {
	// Op appends a single-output node of the default (ONNX) domain.
	Op(op string, attrs graph.Attrs, inputs ...string) string
	// OpN appends a node with nOut outputs in the given domain ("" for ONNX,
	// "kiln" for kiln's own ops).
	OpN(domain, op string, attrs graph.Attrs, nOut int, inputs ...string) []string
	// Const adds a constant and returns its name.
	Const(t *tensor.Tensor) string
	// Type returns the static type of a forward value, when known.
	Type(name string) (graph.Type, bool)
}

// GradFunc is a gradient rule: given a forward node and the gradients
// flowing into its outputs (dy[i] is "" when output i does not reach the
// loss), it appends nodes computing the gradients of its inputs and returns
// their names ("" for inputs that get no gradient, such as indices).
// Rules are written for primitive ops; composite ops decompose first.
type GradFunc func(e GradEmitter, n *graph.Node, dy []string) (dx []string, err error)

var (
	gradMu sync.RWMutex
	grads  = map[string]GradFunc{}
)

// RegisterGrad sets the gradient rule of an op. Rules live beside the
// autodiff machinery, apart from the op definitions, so registration
// order does not matter.
func RegisterGrad(domain, op string, f GradFunc) {
	gradMu.Lock()
	defer gradMu.Unlock()
	grads[key(domain, op)] = f
}

// GradOf returns an op's gradient rule, or nil when it has none.
func GradOf(domain, op string) GradFunc {
	gradMu.RLock()
	defer gradMu.RUnlock()
	return grads[key(domain, op)]
}
