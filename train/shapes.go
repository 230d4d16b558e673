package train

import (
	"fmt"
	"sort"

	"github.com/kiln-ml/kiln/train/layer"
)

// ConcreteInputShapes returns input shapes with every unknown dimension
// made concrete, for running the model on example data: the batch
// dimension becomes batch, and each other unknown dimension becomes free
// unless the model ties it to a known size. A model may declare an input
// (None, None, 6) that it concatenates with a (None, 10, 10) tensor, so
// only 10 works for that dimension although Keras writes None; Keras's own
// shape rules (each layer's Build) find such ties. The dimensions are fixed
// one at a time, in input order, leaving the later ones unknown, each to
// the first of free and then the sizes the model's layers show (ascending)
// under which shape inference still succeeds.
func (m *Model) ConcreteInputShapes(batch, free int) ([]layer.Shape, error) {
	if !m.Built {
		if _, err := m.Build(nil); err != nil {
			return nil, err
		}
	}
	shapes := m.InputShapes()
	for i, s := range shapes {
		if s == nil {
			return nil, fmt.Errorf("train: model %q: input %q has no shape", m.Name(), m.inputs[i].Layer)
		}
		if len(s) > 0 && s[0] < 0 {
			s[0] = batch
		}
	}
	var cands []int
	seen := map[int]bool{free: true}
	for _, c := range m.callList {
		for _, ss := range [][]layer.Shape{c.InShapes, c.OutShapes} {
			for _, s := range ss {
				for _, d := range s {
					if d > 0 && !seen[d] {
						seen[d] = true
						cands = append(cands, d)
					}
				}
			}
		}
	}
	sort.Ints(cands)
	cands = append([]int{free}, cands...)
	for _, s := range shapes {
		for j := range s {
			if s[j] >= 0 {
				continue
			}
			ok := false
			for _, v := range cands {
				s[j] = v
				if _, err := m.propagate(shapes, false); err == nil {
					ok = true
					break
				}
			}
			if !ok {
				s[j] = free
			}
		}
	}
	// Restore what the layers saw at Build (some keep per-shape state).
	if _, err := m.propagate(m.InputShapes(), true); err != nil {
		return nil, err
	}
	return shapes, nil
}
