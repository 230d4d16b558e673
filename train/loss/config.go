package loss

import (
	"encoding/json"
	"fmt"
)

// FromConfig decodes a loss as Keras serialises it in a training_config or
// compile_config: a name ("categorical_crossentropy"), or an object
// {"class_name": "BinaryCrossentropy", "config": {"from_logits": true,
// "label_smoothing": 0.1, ...}} (Keras 2) with "module" and
// "registered_name" (Keras 3). Unknown config fields are ignored; a
// reduction other than sum_over_batch_size (or "auto") is refused.
func FromConfig(raw json.RawMessage) (Loss, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return Get(name)
	}
	var obj struct {
		ClassName string `json:"class_name"`
		Config    struct {
			FromLogits     bool     `json:"from_logits"`
			LabelSmoothing float64  `json:"label_smoothing"`
			Delta          *float64 `json:"delta"`
			Reduction      string   `json:"reduction"`
			Fn             string   `json:"fn"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("loss: config %s: %w", raw, err)
	}
	cfg := obj.Config
	switch cfg.Reduction {
	case "", "auto", "sum_over_batch_size":
	default:
		return nil, fmt.Errorf("loss: %s with reduction %q: only sum_over_batch_size is supported", obj.ClassName, cfg.Reduction)
	}
	switch obj.ClassName {
	case "BinaryCrossentropy":
		return BinaryCrossentropy(cfg.FromLogits, cfg.LabelSmoothing), nil
	case "CategoricalCrossentropy":
		return CategoricalCrossentropy(cfg.FromLogits, cfg.LabelSmoothing), nil
	case "SparseCategoricalCrossentropy":
		return SparseCategoricalCrossentropy(cfg.FromLogits), nil
	case "Huber":
		d := 1.0
		if cfg.Delta != nil {
			d = *cfg.Delta
		}
		return Huber(d), nil
	case "LossFunctionWrapper":
		return Get(cfg.Fn)
	}
	return Get(obj.ClassName)
}
