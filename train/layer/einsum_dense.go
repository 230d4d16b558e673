package layer

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
)

// EinsumDense is keras.layers.EinsumDense: y = activation(einsum(equation,
// x, kernel) + bias). The equation has one of Keras's three forms:
// "ab,bc->ac", "...b,bc->...c" (leading axes elided) or "ab...,bc->ac..."
// (trailing axes elided). output_shape (without the batch axis) gives the
// sizes of output labels not in the input; bias_axes names the output labels
// the bias spans. Weights: kernel (sizes of the kernel labels, from the input
// or the output shape) and, with bias_axes, bias (the output's shape from
// the first bias label on, 1 off the bias labels, plus a 1 per trailing
// elided axis). Keras 3 quantized policies are refused; LoRA weights are
// saved merged, so lora_rank is ignored.
type EinsumDense struct {
	Base
	Equation    string          `json:"equation"`
	OutputShape json.RawMessage `json:"output_shape"`
	Activation  Activation      `json:"activation"`
	BiasAxes    *string         `json:"bias_axes"`
}

func init() {
	Register("EinsumDense", func() Layer { return &EinsumDense{} })
}

var (
	coreEinsumPlain = regexp.MustCompile(`^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$`)
	coreEinsumLeft  = regexp.MustCompile(`^\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)$`)
	coreEinsumRight = regexp.MustCompile(`^([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]{2,})\.\.\.$`)
)

// einsumPlan is the analysed equation for one input shape.
type einsumPlan struct {
	eq          string // explicit (no ellipsis)
	kernelShape []int
	biasShape   []int // nil without bias
	outShape    Shape
}

// DecodeConfig checks the equation and activation.
func (l *EinsumDense) DecodeConfig(raw json.RawMessage, ctx *DecodeContext) error {
	type plain EinsumDense
	if err := coreDecode(raw, (*plain)(l)); err != nil {
		return err
	}
	eq := strings.ReplaceAll(l.Equation, " ", "")
	if !coreEinsumPlain.MatchString(eq) && !coreEinsumLeft.MatchString(eq) && !coreEinsumRight.MatchString(eq) {
		return fmt.Errorf("equation %q is not of a form EinsumDense accepts: %w", l.Equation, ErrUnsupported)
	}
	if err := l.Activation.Check(); err != nil {
		return err
	}
	return coreCheckDType(raw)
}

// plan follows keras's _analyze_split_string for input shape x.
func (l *EinsumDense) plan(x Shape) (*einsumPlan, error) {
	eq := strings.ReplaceAll(l.Equation, " ", "")
	var m []string
	left := false
	switch {
	case coreEinsumPlain.MatchString(eq):
		m = coreEinsumPlain.FindStringSubmatch(eq)
	case coreEinsumLeft.MatchString(eq):
		m, left = coreEinsumLeft.FindStringSubmatch(eq), true
	case coreEinsumRight.MatchString(eq):
		m = coreEinsumRight.FindStringSubmatch(eq)
	default:
		return nil, fmt.Errorf("equation %q: %w", l.Equation, ErrUnsupported)
	}
	inSpec, wSpec, outSpec := m[1], m[2], m[3]
	var outShape []int
	var oneOut int
	if err := json.Unmarshal(l.OutputShape, &oneOut); err == nil {
		outShape = []int{oneOut}
	} else {
		var many []*int
		if err := json.Unmarshal(l.OutputShape, &many); err != nil {
			return nil, fmt.Errorf("output_shape %s: want an int or a list", truncate(string(l.OutputShape)))
		}
		for _, d := range many {
			if d == nil {
				outShape = append(outShape, -1)
			} else {
				outShape = append(outShape, *d)
			}
		}
	}
	elided := len(x) - len(inSpec)
	if elided < 0 || (elided > 0 && m[0] == eq && coreEinsumPlain.MatchString(eq)) {
		return nil, fmt.Errorf("equation %q does not fit input %v", l.Equation, x)
	}
	// Name the elided axes with unused letters and write the equation out.
	used := inSpec + wSpec + outSpec
	var el []byte
	for c := byte('a'); len(el) < elided && c <= 'z'; c++ {
		if !strings.ContainsRune(used, rune(c)) {
			el = append(el, c)
		}
	}
	for c := byte('A'); len(el) < elided && c <= 'Z'; c++ {
		if !strings.ContainsRune(used, rune(c)) {
			el = append(el, c)
		}
	}
	full := append(Shape{x[0]}, outShape...)
	var fullIn, fullOut string
	if left {
		// x's leading axes (batch included) are elided.
		fullIn = string(el) + inSpec
		fullOut = string(el) + outSpec
		full = append(x[:elided].Clone(), outShape...)
	} else {
		fullIn = inSpec + string(el)
		fullOut = outSpec + string(el)
		full = append(full, x[len(x)-elided:]...)
	}
	if len(full) != len(fullOut) {
		return nil, fmt.Errorf("output_shape %v does not fit equation %q for input %v", outShape, l.Equation, x)
	}
	dim := map[byte]int{}
	for i := 0; i < len(fullIn); i++ {
		dim[fullIn[i]] = x[i]
	}
	for i := 0; i < len(fullOut); i++ {
		c := fullOut[i]
		if d, ok := dim[c]; ok {
			if full[i] >= 0 && d >= 0 && full[i] != d {
				return nil, fmt.Errorf("output_shape %v disagrees with input %v on label %c", outShape, x, c)
			}
			full[i] = d
		} else {
			dim[c] = full[i]
		}
	}
	p := &einsumPlan{eq: fullIn + "," + wSpec + "->" + fullOut, outShape: full}
	for i := 0; i < len(wSpec); i++ {
		d, ok := dim[wSpec[i]]
		if !ok || d < 0 {
			return nil, fmt.Errorf("kernel label %c of %q has no known size", wSpec[i], l.Equation)
		}
		p.kernelShape = append(p.kernelShape, d)
	}
	if l.BiasAxes != nil && *l.BiasAxes != "" {
		first := len(outSpec)
		for _, c := range *l.BiasAxes {
			i := strings.IndexRune(outSpec, c)
			if i < 0 {
				return nil, fmt.Errorf("bias_axes %q names a label not in the output %q", *l.BiasAxes, outSpec)
			}
			if i < first {
				first = i
			}
		}
		off := len(fullOut) - len(outSpec)
		if !left {
			off = 0
		}
		for i := first; i < len(outSpec); i++ {
			if strings.IndexByte(*l.BiasAxes, outSpec[i]) >= 0 {
				d := full[off+i]
				if d < 0 {
					return nil, fmt.Errorf("bias label %c has no known size", outSpec[i])
				}
				p.biasShape = append(p.biasShape, d)
			} else {
				p.biasShape = append(p.biasShape, 1)
			}
		}
		if !left {
			for i := 0; i < elided; i++ {
				p.biasShape = append(p.biasShape, 1)
			}
		}
	}
	return p, nil
}

// Build creates kernel and bias.
func (l *EinsumDense) Build(in []Shape) ([]Shape, error) {
	x, err := coreOne(l, in)
	if err != nil {
		return nil, err
	}
	p, err := l.plan(x)
	if err != nil {
		return nil, coreErr(l, err)
	}
	if !l.Built {
		l.AddWeight("kernel", p.kernelShape, true)
		if p.biasShape != nil {
			l.AddWeight("bias", p.biasShape, true)
		}
		l.Built = true
	}
	return []Shape{p.outShape}, nil
}

// Lower emits Einsum, Add and the activation.
func (l *EinsumDense) Lower(b *Builder, in []Tensor) ([]Tensor, error) {
	x, err := coreOneT(l, in)
	if err != nil {
		return nil, err
	}
	p, err := l.plan(x.Shape)
	if err != nil {
		return nil, coreErr(l, err)
	}
	y := b.Op("Einsum", graph.Attrs{"equation": p.eq}, x.Name, b.Param(l.W[0]))
	if p.biasShape != nil {
		y = b.Op("Add", nil, y, b.Param(l.W[1]))
	}
	y, err = l.Activation.Lower(b, y)
	if err != nil {
		return nil, coreErr(l, err)
	}
	return []Tensor{{Name: y, Shape: p.outShape, DType: x.DType, Mask: x.Mask}}, nil
}
