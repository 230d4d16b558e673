package ops

import (
	"github.com/kiln-ml/kiln/ops/graph"
)

// Gradient rule of Resize: X's gradient is kiln:ResizeGrad of dY (the
// transpose of the interpolation, for every mode). roi, scales and sizes
// get none: they choose the sampling grid, and the output is not
// differentiable in sizes; where roi or scales move a continuous grid, kiln
// treats them as constants, as training frameworks do.
func init() {
	RegisterGrad("", "Resize", func(e GradEmitter, n *graph.Node, dy []string) ([]string, error) {
		dx := make([]string, len(n.Inputs))
		if dy[0] == "" {
			return dx, nil
		}
		ins := []string{dy[0], gShape(e, n.Inputs[0])}
		for i := 1; i < 4; i++ {
			ins = append(ins, n.Input(i))
		}
		for len(ins) > 2 && ins[len(ins)-1] == "" {
			ins = ins[:len(ins)-1]
		}
		dx[0] = e.OpN("kiln", "ResizeGrad", n.Attrs.Clone(), 1, ins...)[0]
		return dx, nil
	})
}
