package layer

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
)

// Activation is a Keras activation function as named in a layer config
// ("activation": "relu"). Keras 3 may also write a serialized function
// ({"class_name": "function", "config": "relu", ...}); both decode to the
// name. The meaning of some names changed between Keras 2 and 3
// (hard_sigmoid); Version (or else the Builder's) selects it.
type Activation struct {
	Name    string
	Version Version
}

// UnmarshalJSON accepts a string, null, or a serialized function object.
func (a *Activation) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		a.Name = s
		return nil
	}
	if string(b) == "null" {
		a.Name = "linear"
		return nil
	}
	var obj struct {
		ClassName  string          `json:"class_name"`
		Config     json.RawMessage `json:"config"`
		Registered string          `json:"registered_name"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("activation: want a name or a serialized function, got %s", truncate(string(b)))
	}
	if err := json.Unmarshal(obj.Config, &s); err == nil && s != "" {
		a.Name = s
		return nil
	}
	if obj.Registered != "" {
		a.Name = obj.Registered
		return nil
	}
	// An activation layer object ({"class_name": "ReLU", "config": {...}}).
	a.Name = strings.ToLower(obj.ClassName)
	return nil
}

// MarshalJSON writes the name.
func (a Activation) MarshalJSON() ([]byte, error) {
	n := a.Name
	if n == "" {
		n = "linear"
	}
	return json.Marshal(n)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// IsLinear reports whether the activation is the identity.
func (a Activation) IsLinear() bool {
	return a.Name == "" || a.Name == "linear" || a.Name == "None"
}

// Check returns an error for an activation name kiln does not know.
func (a Activation) Check() error {
	if _, ok := lookupActivation(a.Name); !ok && !a.IsLinear() {
		return fmt.Errorf("activation %q is not a Keras built-in activation (a function from the model's own Python code?), so kiln cannot run it; replace it with a built-in activation and re-save the model, or supply it in Go with layer.RegisterActivation(%q, ...): %w", a.Name, a.Name, ErrUnsupported)
	}
	return nil
}

// RegisterActivation makes an activation name known to kiln, for custom
// activation functions a model refers to by name ("binary_tanh"). f appends
// the nodes computing the activation of x and returns the result's name.
// It replaces an earlier registration, built-ins included.
func RegisterActivation(name string, f func(b *Builder, x string) string) {
	regMu.Lock()
	defer regMu.Unlock()
	activations[name] = func(b *Builder, x string, _ Version) string { return f(b, x) }
}

func lookupActivation(name string) (func(b *Builder, x string, v Version) string, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	f, ok := activations[canonical(name)]
	return f, ok
}

func canonical(name string) string {
	switch name {
	case "swish":
		return "silu"
	case "hard_swish":
		return "hard_silu"
	}
	return name
}

// activations maps a Keras activation name to its lowering. Each follows
// keras.activations (Keras 3) unless noted.
var activations = map[string]func(b *Builder, x string, v Version) string{
	// relu(x) = max(x, 0)
	"relu": func(b *Builder, x string, _ Version) string { return b.Op("Relu", nil, x) },
	// sigmoid(x) = 1 / (1 + exp(-x))
	"sigmoid": func(b *Builder, x string, _ Version) string { return b.Op("Sigmoid", nil, x) },
	"tanh":    func(b *Builder, x string, _ Version) string { return b.Op("Tanh", nil, x) },
	// softmax over the last axis
	"softmax": func(b *Builder, x string, _ Version) string {
		return b.Op("Softmax", graph.Attrs{"axis": int64(-1)}, x)
	},
	"log_softmax": func(b *Builder, x string, _ Version) string {
		return b.Op("LogSoftmax", graph.Attrs{"axis": int64(-1)}, x)
	},
	// softplus(x) = log(exp(x) + 1)
	"softplus": func(b *Builder, x string, _ Version) string { return b.Op("Softplus", nil, x) },
	// softsign(x) = x / (|x| + 1)
	"softsign": func(b *Builder, x string, _ Version) string { return b.Op("Softsign", nil, x) },
	// elu(x) = x if x > 0 else exp(x) - 1 (alpha 1)
	"elu": func(b *Builder, x string, _ Version) string {
		return b.Op("Elu", graph.Attrs{"alpha": float32(1)}, x)
	},
	// selu with Keras's constants (alpha 1.67326324, scale 1.05070098), as ONNX's defaults.
	"selu": func(b *Builder, x string, _ Version) string { return b.Op("Selu", nil, x) },
	"exponential": func(b *Builder, x string, _ Version) string {
		return b.Op("Exp", nil, x)
	},
	// hard_sigmoid: Keras 2 (and 1): clip(0.2x + 0.5, 0, 1);
	// Keras 3: relu6(x + 3) / 6 = clip(x/6 + 0.5, 0, 1).
	"hard_sigmoid": func(b *Builder, x string, v Version) string {
		alpha := float32(1.0 / 6)
		if v.Major > 0 && v.Major < 3 {
			alpha = 0.2
		}
		return b.Op("HardSigmoid", graph.Attrs{"alpha": alpha, "beta": float32(0.5)}, x)
	},
	// silu(x) = x * sigmoid(x) (Keras's "swish")
	"silu": func(b *Builder, x string, _ Version) string {
		return b.Op("Mul", nil, x, b.Op("Sigmoid", nil, x))
	},
	// hard_silu(x) = x * relu6(x + 3) / 6
	"hard_silu": func(b *Builder, x string, _ Version) string { return b.Op("HardSwish", nil, x) },
	// gelu: Keras's activation function defaults to the exact (erf) form.
	"gelu": func(b *Builder, x string, _ Version) string {
		return b.Op("Gelu", graph.Attrs{"approximate": "none"}, x)
	},
	// relu6(x) = min(max(x, 0), 6)
	"relu6": func(b *Builder, x string, _ Version) string {
		return b.Op("Clip", nil, x, b.Scalar(0), b.Scalar(6))
	},
	// leaky_relu with Keras 3's default negative_slope 0.2
	"leaky_relu": func(b *Builder, x string, _ Version) string {
		return b.Op("LeakyRelu", graph.Attrs{"alpha": float32(0.2)}, x)
	},
	// mish(x) = x * tanh(softplus(x))
	"mish": func(b *Builder, x string, _ Version) string { return b.Op("Mish", nil, x) },
}

// Lower applies the activation to x and returns the result (x itself for
// linear).
// Elementwise reports whether the activation acts on each element alone
// (every Keras activation but softmax and log_softmax, which normalise
// over the last axis), so it commutes with a transpose.
func (a Activation) Elementwise() bool {
	return a.Name != "softmax" && a.Name != "log_softmax"
}

func (a Activation) Lower(b *Builder, x string) (string, error) {
	if a.IsLinear() {
		return x, nil
	}
	f, ok := lookupActivation(a.Name)
	if !ok {
		return "", a.Check()
	}
	v := a.Version
	if v.Major == 0 {
		v = b.Version
	}
	return f(b, x, v), nil
}
