package loss

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/train/layer"
)

// Regularizer is keras.regularizers.L1, L2 or L1L2: a weight w adds
// L1*sum(|w|) + L2*sum(w^2) to the loss of every training step (and to
// Evaluate's loss). Keras's defaults: L1(0.01), L2(0.01), L1L2(0, 0).
type Regularizer struct {
	L1, L2 float64
}

// L1 is keras.regularizers.L1(l1).
func L1(l1 float64) Regularizer { return Regularizer{L1: l1} }

// L2 is keras.regularizers.L2(l2).
func L2(l2 float64) Regularizer { return Regularizer{L2: l2} }

// Config returns the regularizer as Keras 2 serialises it.
func (r Regularizer) Config() json.RawMessage {
	var b []byte
	switch {
	case r.L1 == 0:
		b, _ = json.Marshal(map[string]any{"class_name": "L2", "config": map[string]float64{"l2": r.L2}})
	case r.L2 == 0:
		b, _ = json.Marshal(map[string]any{"class_name": "L1", "config": map[string]float64{"l1": r.L1}})
	default:
		b, _ = json.Marshal(map[string]any{"class_name": "L1L2", "config": map[string]float64{"l1": r.L1, "l2": r.L2}})
	}
	return b
}

// RegularizerFromConfig decodes {"class_name": "L2", "config": {"l2": ...}}
// (Keras 2 and 3, also the names "l1", "l2", "l1_l2" and "L1L2").
func RegularizerFromConfig(raw json.RawMessage) (Regularizer, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		raw = json.RawMessage(fmt.Sprintf(`{"class_name": %q, "config": {}}`, name))
	}
	var obj struct {
		ClassName string `json:"class_name"`
		Config    struct {
			L1 *float64 `json:"l1"`
			L2 *float64 `json:"l2"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Regularizer{}, fmt.Errorf("loss: regularizer %s: %w", raw, err)
	}
	get := func(p *float64, def float64) float64 {
		if p == nil {
			return def
		}
		return *p
	}
	switch obj.ClassName {
	case "L1", "l1":
		return Regularizer{L1: get(obj.Config.L1, 0.01)}, nil
	case "L2", "l2":
		return Regularizer{L2: get(obj.Config.L2, 0.01)}, nil
	case "L1L2", "l1_l2":
		return Regularizer{L1: get(obj.Config.L1, 0), L2: get(obj.Config.L2, 0)}, nil
	}
	return Regularizer{}, fmt.Errorf("loss: regularizer class %q: %w (kiln knows L1, L2, L1L2)", obj.ClassName, ErrUnknown)
}

// Penalty appends nodes computing the penalty of the weight value w (a
// scalar) and returns its name, or "" when the regularizer is zero.
func (r Regularizer) Penalty(b *layer.Builder, w string) string {
	all := graph.Attrs{"keepdims": int64(0)}
	var out string
	if r.L1 != 0 {
		out = op(b, "Mul", b.Op("ReduceSum", all, op(b, "Abs", w)), c(b, float32(r.L1)))
	}
	if r.L2 != 0 {
		p := op(b, "Mul", b.Op("ReduceSum", all, op(b, "Mul", w, w)), c(b, float32(r.L2)))
		if out == "" {
			out = p
		} else {
			out = op(b, "Add", out, p)
		}
	}
	return out
}
