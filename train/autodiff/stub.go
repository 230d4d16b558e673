// Package autodiff computes reverse-mode gradients over an op graph.
package autodiff

import (
	"errors"

	"github.com/kiln-ml/kiln/ops/graph"
)

// ErrNotImplemented is returned by the placeholder Grad.
var ErrNotImplemented = errors.New("autodiff: gradients are not implemented in this build")

// Grad appends to g the nodes computing d loss / d wrt[i] for the scalar
// value loss and returns the gradient value names, in wrt's order.
func Grad(g *graph.Graph, loss string, wrt []string) ([]string, error) {
	return nil, ErrNotImplemented
}
