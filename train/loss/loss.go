// Package loss defines Keras's losses and regularizers as graph builders.
// A Loss appends the nodes computing one loss value per sample; the caller
// reduces them as Keras's default reduction "sum_over_batch_size" does:
// the sum of the (sample-weighted) per-sample values divided by the number
// of samples. Names, defaults and formulas follow keras/src/losses/losses.py
// (Keras 3); crossentropies of probabilities clip them to
// [Epsilon, 1 - Epsilon] as Keras's non-TensorFlow backends do (Keras on
// TensorFlow reads the logits of a softmax/sigmoid output instead; the two
// agree unless a probability comes within 1e-7 of 0 or 1).
package loss

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train/layer"
)

// Epsilon is Keras's backend epsilon (keras.config.epsilon()).
const Epsilon = 1e-7

// ErrUnknown marks a loss name Keras does not define.
var ErrUnknown = errors.New("unknown loss")

// Loss is a Keras loss.
type Loss interface {
	// Name is the Keras function name ("mean_squared_error").
	Name() string
	// PerSample appends nodes computing the loss of each sample (shape
	// [batch]) from the targets and the predictions.
	PerSample(b *layer.Builder, yTrue, yPred layer.Tensor) (string, error)
}

type fn struct {
	name string
	f    func(b *layer.Builder, yTrue, yPred layer.Tensor) (string, error)
	// cfg, when set, is the Keras loss object this loss serialises as
	// (a loss with non-default arguments); nil serialises as the name.
	cfg *objectConfig
}

func (l *fn) Name() string { return l.name }
func (l *fn) PerSample(b *layer.Builder, yTrue, yPred layer.Tensor) (string, error) {
	return l.f(b, yTrue, yPred)
}

// helpers

func c(b *layer.Builder, v float32) string { return b.Scalar(v) }

func op(b *layer.Builder, name string, in ...string) string { return b.Op(name, nil, in...) }

func meanLast(b *layer.Builder, x string) string {
	return b.Op("ReduceMean", graph.Attrs{"keepdims": int64(0)}, x, b.Ints(-1))
}

func sumLast(b *layer.Builder, x string, keep bool) string {
	k := int64(0)
	if keep {
		k = 1
	}
	return b.Op("ReduceSum", graph.Attrs{"keepdims": k}, x, b.Ints(-1))
}

func maxLast(b *layer.Builder, x string) string {
	return b.Op("ReduceMax", graph.Attrs{"keepdims": int64(0)}, x, b.Ints(-1))
}

// float casts the targets to float32 (integer labels of a regression loss).
func float(b *layer.Builder, t layer.Tensor) string {
	if t.DType == tensor.Float32 || t.DType == tensor.Undefined {
		return t.Name
	}
	return b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, t.Name)
}

func clip(b *layer.Builder, x string, lo, hi float32) string {
	return op(b, "Clip", x, c(b, lo), c(b, hi))
}

// perSampleMean reduces a value of rank > 1 over its last axis (Keras's
// axis=-1 mean); a rank-1 value is already per sample.
func perSampleMean(b *layer.Builder, x string, rank int) string {
	if rank <= 1 {
		return x
	}
	return meanLast(b, x)
}

// MeanSquaredError is mean((y_pred - y_true)^2, axis=-1).
func MeanSquaredError() Loss {
	return &fn{"mean_squared_error", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		d := op(b, "Sub", yp.Name, float(b, yt))
		return perSampleMean(b, op(b, "Mul", d, d), len(yp.Shape)), nil
	}, nil}
}

// MeanAbsoluteError is mean(|y_pred - y_true|, axis=-1).
func MeanAbsoluteError() Loss {
	return &fn{"mean_absolute_error", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		return perSampleMean(b, op(b, "Abs", op(b, "Sub", yp.Name, float(b, yt))), len(yp.Shape)), nil
	}, nil}
}

// MeanAbsolutePercentageError is
// 100 * mean(|(y_true - y_pred) / max(|y_true|, epsilon)|, axis=-1).
func MeanAbsolutePercentageError() Loss {
	return &fn{"mean_absolute_percentage_error", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		t := float(b, yt)
		den := op(b, "Max", op(b, "Abs", t), c(b, Epsilon))
		d := op(b, "Abs", op(b, "Div", op(b, "Sub", t, yp.Name), den))
		return op(b, "Mul", perSampleMean(b, d, len(yp.Shape)), c(b, 100)), nil
	}, nil}
}

// MeanSquaredLogarithmicError is
// mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1).
func MeanSquaredLogarithmicError() Loss {
	return &fn{"mean_squared_logarithmic_error", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		l1 := op(b, "Log", op(b, "Add", op(b, "Max", yp.Name, c(b, Epsilon)), c(b, 1)))
		l2 := op(b, "Log", op(b, "Add", op(b, "Max", float(b, yt), c(b, Epsilon)), c(b, 1)))
		d := op(b, "Sub", l1, l2)
		return perSampleMean(b, op(b, "Mul", d, d), len(yp.Shape)), nil
	}, nil}
}

// Huber is Keras's huber loss with threshold delta (Keras default 1):
// with e = y_pred - y_true, 0.5 e^2 where |e| <= delta and
// delta*|e| - 0.5 delta^2 elsewhere, averaged over the last axis. It is
// computed as 0.5 q^2 + delta (|e| - q) with q = min(|e|, delta).
func Huber(delta float64) Loss {
	return withConfig(&fn{"huber", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		a := op(b, "Abs", op(b, "Sub", yp.Name, float(b, yt)))
		q := op(b, "Min", a, c(b, float32(delta)))
		lin := op(b, "Sub", a, q)
		v := op(b, "Add", op(b, "Mul", op(b, "Mul", q, q), c(b, 0.5)), op(b, "Mul", lin, c(b, float32(delta))))
		return perSampleMean(b, v, len(yp.Shape)), nil
	}, nil}, delta != 1, "Huber", map[string]any{"delta": delta})
}

// LogCosh is mean(log(cosh(y_pred - y_true)), axis=-1), computed as Keras
// does: x + softplus(-2x) - log(2).
func LogCosh() Loss {
	return &fn{"log_cosh", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		x := op(b, "Sub", yp.Name, float(b, yt))
		v := op(b, "Sub", op(b, "Add", x, op(b, "Softplus", op(b, "Mul", x, c(b, -2)))), c(b, 0.6931471805599453))
		return perSampleMean(b, v, len(yp.Shape)), nil
	}, nil}
}

// BinaryCrossentropy is Keras's binary_crossentropy, averaged over the last
// axis. From probabilities: p clipped to [eps, 1-eps],
// -(y log p + (1-y) log(1-p)); from logits x:
// max(x, 0) - x y + log(1 + exp(-|x|)). labelSmoothing s replaces y with
// y (1 - s) + s/2.
func BinaryCrossentropy(fromLogits bool, labelSmoothing float64) Loss {
	return withConfig(&fn{"binary_crossentropy", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		t := float(b, yt)
		if labelSmoothing > 0 {
			t = op(b, "Add", op(b, "Mul", t, c(b, float32(1-labelSmoothing))), c(b, float32(labelSmoothing/2)))
		}
		var v string
		if fromLogits {
			x := yp.Name
			v = op(b, "Add", op(b, "Sub", op(b, "Relu", x), op(b, "Mul", x, t)),
				op(b, "Log", op(b, "Add", op(b, "Exp", op(b, "Neg", op(b, "Abs", x))), c(b, 1))))
		} else {
			p := clip(b, yp.Name, Epsilon, 1-Epsilon)
			pos := op(b, "Mul", t, op(b, "Log", p))
			neg := op(b, "Mul", op(b, "Sub", c(b, 1), t), op(b, "Log", op(b, "Sub", c(b, 1), p)))
			v = op(b, "Neg", op(b, "Add", pos, neg))
		}
		return perSampleMean(b, v, len(yp.Shape)), nil
	}, nil}, fromLogits || labelSmoothing != 0, "BinaryCrossentropy", map[string]any{"from_logits": fromLogits, "label_smoothing": labelSmoothing})
}

// categorical computes -sum(y log p) over the last axis from one-hot or
// soft targets t: from probabilities, p is renormalised to sum 1 and
// clipped to [eps, 1-eps]; from logits, log p is log_softmax.
func categorical(b *layer.Builder, t string, yp layer.Tensor, fromLogits bool) string {
	var logp string
	if fromLogits {
		logp = b.Op("LogSoftmax", graph.Attrs{"axis": int64(-1)}, yp.Name)
	} else {
		p := op(b, "Div", yp.Name, sumLast(b, yp.Name, true))
		logp = op(b, "Log", clip(b, p, Epsilon, 1-Epsilon))
	}
	return op(b, "Neg", sumLast(b, op(b, "Mul", t, logp), false))
}

// CategoricalCrossentropy is Keras's categorical_crossentropy of one-hot
// (or soft) targets; labelSmoothing s replaces y with y (1-s) + s/classes.
func CategoricalCrossentropy(fromLogits bool, labelSmoothing float64) Loss {
	return withConfig(&fn{"categorical_crossentropy", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		t := float(b, yt)
		if labelSmoothing > 0 {
			n := yp.Shape[len(yp.Shape)-1]
			t = op(b, "Add", op(b, "Mul", t, c(b, float32(1-labelSmoothing))), c(b, float32(labelSmoothing/float64(n))))
		}
		return categorical(b, t, yp, fromLogits), nil
	}, nil}, fromLogits || labelSmoothing != 0, "CategoricalCrossentropy", map[string]any{"from_logits": fromLogits, "label_smoothing": labelSmoothing})
}

// SparseCategoricalCrossentropy is Keras's sparse_categorical_crossentropy:
// integer class indices (shape [batch] or [batch, 1], any numeric dtype)
// against probabilities or logits over the last axis.
func SparseCategoricalCrossentropy(fromLogits bool) Loss {
	return withConfig(&fn{"sparse_categorical_crossentropy", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		n := yp.Shape[len(yp.Shape)-1]
		if n < 0 {
			return "", fmt.Errorf("loss: sparse_categorical_crossentropy needs a known number of classes, predictions are %v", yp.Shape)
		}
		idx := b.Op("Cast", graph.Attrs{"to": int64(tensor.Int64)}, yt.Name)
		if len(yt.Shape) == len(yp.Shape) {
			idx = b.Op("Squeeze", nil, idx, b.Ints(-1))
		}
		oh := b.Op("OneHot", graph.Attrs{"axis": int64(-1)}, idx, b.Const(tensor.FromInt64s(tensor.Shape{}, []int64{int64(n)})), b.Const(tensor.From(tensor.Shape{2}, []float32{0, 1})))
		return categorical(b, oh, yp, fromLogits), nil
	}, nil}, fromLogits, "SparseCategoricalCrossentropy", map[string]any{"from_logits": fromLogits})
}

// KLDivergence is sum(y log(y / p), axis=-1) with y and p clipped to
// [eps, 1].
func KLDivergence() Loss {
	return &fn{"kl_divergence", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		t := clip(b, float(b, yt), Epsilon, 1)
		p := clip(b, yp.Name, Epsilon, 1)
		return sumLast(b, op(b, "Mul", t, op(b, "Log", op(b, "Div", t, p))), false), nil
	}, nil}
}

// Poisson is mean(p - y log(p + eps), axis=-1).
func Poisson() Loss {
	return &fn{"poisson", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		v := op(b, "Sub", yp.Name, op(b, "Mul", float(b, yt), op(b, "Log", op(b, "Add", yp.Name, c(b, Epsilon)))))
		return perSampleMean(b, v, len(yp.Shape)), nil
	}, nil}
}

func hingeTargets(b *layer.Builder, yt layer.Tensor) string {
	t := float(b, yt)
	bin := b.Op("Cast", graph.Attrs{"to": int64(tensor.Float32)}, op(b, "Or", op(b, "Equal", t, c(b, 0)), op(b, "Equal", t, c(b, 1))))
	all := b.Op("ReduceMin", graph.Attrs{"keepdims": int64(0)}, bin)
	// all is 1 when every target is binary: t' = t + all*(t - 1).
	return op(b, "Add", t, op(b, "Mul", all, op(b, "Sub", t, c(b, 1))))
}

// Hinge is mean(max(1 - y p, 0), axis=-1) (0/1 targets become -1/1).
func Hinge() Loss {
	return &fn{"hinge", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		h := op(b, "Relu", op(b, "Sub", c(b, 1), op(b, "Mul", hingeTargets(b, yt), yp.Name)))
		return perSampleMean(b, h, len(yp.Shape)), nil
	}, nil}
}

// SquaredHinge is mean(max(1 - y p, 0)^2, axis=-1).
func SquaredHinge() Loss {
	return &fn{"squared_hinge", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		h := op(b, "Relu", op(b, "Sub", c(b, 1), op(b, "Mul", hingeTargets(b, yt), yp.Name)))
		return perSampleMean(b, op(b, "Mul", h, h), len(yp.Shape)), nil
	}, nil}
}

// CategoricalHinge is max(max((1 - y) p) - sum(y p) + 1, 0) over the last
// axis.
func CategoricalHinge() Loss {
	return &fn{"categorical_hinge", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		t := float(b, yt)
		pos := sumLast(b, op(b, "Mul", t, yp.Name), false)
		neg := maxLast(b, op(b, "Mul", op(b, "Sub", c(b, 1), t), yp.Name))
		return op(b, "Relu", op(b, "Add", op(b, "Sub", neg, pos), c(b, 1))), nil
	}, nil}
}

// CosineSimilarity is -sum(l2n(y) l2n(p), axis=-1) with
// l2n(x) = x / sqrt(max(sum(x^2), 1e-12)).
func CosineSimilarity() Loss {
	return &fn{"cosine_similarity", func(b *layer.Builder, yt, yp layer.Tensor) (string, error) {
		l2n := func(x string) string {
			ss := op(b, "Max", sumLast(b, op(b, "Mul", x, x), true), c(b, 1e-12))
			return op(b, "Div", x, op(b, "Sqrt", ss))
		}
		return op(b, "Neg", sumLast(b, op(b, "Mul", l2n(float(b, yt)), l2n(yp.Name)), false)), nil
	}, nil}
}

var byName = map[string]func() Loss{
	"mean_squared_error":              MeanSquaredError,
	"mse":                             MeanSquaredError,
	"MeanSquaredError":                MeanSquaredError,
	"mean_absolute_error":             MeanAbsoluteError,
	"mae":                             MeanAbsoluteError,
	"MeanAbsoluteError":               MeanAbsoluteError,
	"mean_absolute_percentage_error":  MeanAbsolutePercentageError,
	"mape":                            MeanAbsolutePercentageError,
	"MeanAbsolutePercentageError":     MeanAbsolutePercentageError,
	"mean_squared_logarithmic_error":  MeanSquaredLogarithmicError,
	"msle":                            MeanSquaredLogarithmicError,
	"MeanSquaredLogarithmicError":     MeanSquaredLogarithmicError,
	"huber":                           func() Loss { return Huber(1) },
	"huber_loss":                      func() Loss { return Huber(1) },
	"Huber":                           func() Loss { return Huber(1) },
	"log_cosh":                        LogCosh,
	"logcosh":                         LogCosh,
	"LogCosh":                         LogCosh,
	"binary_crossentropy":             func() Loss { return BinaryCrossentropy(false, 0) },
	"BinaryCrossentropy":              func() Loss { return BinaryCrossentropy(false, 0) },
	"categorical_crossentropy":        func() Loss { return CategoricalCrossentropy(false, 0) },
	"CategoricalCrossentropy":         func() Loss { return CategoricalCrossentropy(false, 0) },
	"sparse_categorical_crossentropy": func() Loss { return SparseCategoricalCrossentropy(false) },
	"SparseCategoricalCrossentropy":   func() Loss { return SparseCategoricalCrossentropy(false) },
	"kl_divergence":                   KLDivergence,
	"kld":                             KLDivergence,
	"kullback_leibler_divergence":     KLDivergence,
	"KLDivergence":                    KLDivergence,
	"poisson":                         Poisson,
	"Poisson":                         Poisson,
	"hinge":                           Hinge,
	"Hinge":                           Hinge,
	"squared_hinge":                   SquaredHinge,
	"SquaredHinge":                    SquaredHinge,
	"categorical_hinge":               CategoricalHinge,
	"CategoricalHinge":                CategoricalHinge,
	"cosine_similarity":               CosineSimilarity,
	"CosineSimilarity":                CosineSimilarity,
}

// Get returns the loss Keras knows by a name (function names such as
// "mean_squared_error", aliases such as "mse", or class names such as
// "MeanSquaredError", with default arguments).
func Get(name string) (Loss, error) {
	if f, ok := byName[name]; ok {
		return f(), nil
	}
	var known []string
	for k := range byName {
		if strings.Contains(k, "_") {
			known = append(known, k)
		}
	}
	sort.Strings(known)
	return nil, fmt.Errorf("loss: %q: %w (known: %s)", name, ErrUnknown, strings.Join(known, ", "))
}
