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

// objectConfig is a loss serialised as a Keras loss object.
type objectConfig struct {
	class string
	cfg   map[string]any
}

// withConfig attaches the Keras loss object to l when its arguments differ
// from the defaults the plain function name stands for.
func withConfig(l *fn, nonDefault bool, class string, cfg map[string]any) Loss {
	if nonDefault {
		cfg["name"] = l.name
		cfg["reduction"] = "sum_over_batch_size"
		l.cfg = &objectConfig{class, cfg}
	}
	return l
}

// Config returns the loss as Keras serialises it in a compile_config
// (Keras 3: module, class_name, config, registered_name) or a tf.keras 2
// training_config (class_name, config): the function name
// ("categorical_crossentropy") for a loss with default arguments, else the
// loss object with its arguments (from_logits, label_smoothing, delta).
// FromConfig reads either form back.
func Config(l Loss, keras3 bool) any {
	f, ok := l.(*fn)
	if !ok || f.cfg == nil {
		return l.Name()
	}
	if !keras3 {
		return map[string]any{"class_name": f.cfg.class, "config": f.cfg.cfg}
	}
	return map[string]any{"module": "keras.losses", "class_name": f.cfg.class, "config": f.cfg.cfg, "registered_name": nil}
}
