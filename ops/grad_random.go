package ops

import "github.com/kiln-ml/kiln/ops/graph"

// The random ops that take an input read only its shape (and Bernoulli
// its probabilities, through a draw): their outputs carry no gradient to
// their inputs.
func init() {
	for _, op := range []string{"RandomNormalLike", "RandomUniformLike", "Bernoulli"} {
		RegisterGrad("", op, func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
			return make([]string, len(n.Inputs)), nil
		})
	}
}
