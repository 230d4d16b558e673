package ops

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func miStringInput(n *graph.Node, in []*tensor.Tensor, i int, name string) (*tensor.Tensor, error) {
	if len(in) <= i || in[i] == nil {
		return nil, Errorf(n, "needs input %s", name)
	}
	if in[i].DType() != tensor.String {
		return nil, Errorf(n, "input %s must be a string tensor, got %v", name, in[i].DType())
	}
	return in[i], nil
}

// StringNormalizer removes stop words from a [C] or [1, C] string tensor
// and optionally changes case (ONNX StringNormalizer-10). Attributes:
// case_change_action ("NONE", "LOWER", "UPPER"), stopwords, is_case_sensitive
// (default 0: stop words match regardless of case), locale. Case mapping
// uses Unicode's default rules, which is what en_US and the default locale
// mean; other locales are accepted and treated the same. If every word is
// removed the output is [""] of shape [1] or [1, 1].
var StringNormalizer = &Def{
	Name: "StringNormalizer",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 1 {
			return nil, ic.Errorf("needs input X")
		}
		if ic.In[0].Unranked {
			return miTypes(graph.UnrankedType(tensor.String)), nil
		}
		return miTypes(miUnknown(tensor.String, len(ic.In[0].Shape))), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := miStringInput(n, in, 0, "X")
		if err != nil {
			return nil, err
		}
		s := x.Shape()
		twoD := len(s) == 2
		if !(len(s) == 1 || twoD && s[0] == 1) {
			return nil, Errorf(n, "X must have shape [C] or [1, C], got %v", s)
		}
		action := n.Attrs.String("case_change_action", "NONE")
		var change func(string) string
		switch action {
		case "NONE", "":
		case "LOWER":
			change = strings.ToLower
		case "UPPER":
			change = strings.ToUpper
		default:
			return nil, Errorf(n, "case_change_action %q is not NONE, LOWER or UPPER", action)
		}
		sensitive := n.Attrs.Int("is_case_sensitive", 0) != 0
		stop := map[string]bool{}
		for _, w := range n.Attrs.Strings("stopwords") {
			if !sensitive {
				w = strings.ToLower(w)
			}
			stop[w] = true
		}
		var out []string
		for _, w := range x.Strings() {
			k := w
			if !sensitive {
				k = strings.ToLower(w)
			}
			if stop[k] {
				continue
			}
			if change != nil {
				w = change(w)
			}
			out = append(out, w)
		}
		if len(out) == 0 {
			out = []string{""}
		}
		shape := tensor.Shape{len(out)}
		if twoD {
			shape = tensor.Shape{1, len(out)}
		}
		return []*tensor.Tensor{tensor.From(shape, out)}, nil
	},
}

// StringConcat concatenates two string tensors elementwise with numpy
// broadcasting (ONNX StringConcat-20).
var StringConcat = &Def{
	Name:  "StringConcat",
	Infer: InferBroadcast,
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		a, err := miStringInput(n, in, 0, "X")
		if err != nil {
			return nil, err
		}
		b, err := miStringInput(n, in, 1, "Y")
		if err != nil {
			return nil, err
		}
		shape, err := tensor.Broadcast(a.Shape(), b.Shape())
		if err != nil {
			return nil, Errorf(n, "%v", err)
		}
		ai, bi := tensor.BroadcastIndex(a.Shape(), shape), tensor.BroadcastIndex(b.Shape(), shape)
		as, bs := a.Strings(), b.Strings()
		out := make([]string, len(ai))
		for i := range out {
			out[i] = as[ai[i]] + bs[bi[i]]
		}
		return []*tensor.Tensor{tensor.From(shape, out)}, nil
	},
}

// StringSplit splits every string of X (ONNX StringSplit-20). With a
// non-empty delimiter the split is exact (consecutive delimiters give empty
// substrings); with no or an empty delimiter, runs of whitespace separate
// substrings and leading and trailing whitespace is dropped, as Python's
// str.split. maxsplit bounds the number of splits (the rest stays in the
// last substring). Outputs: Y of shape X.shape + [max substrings], padded
// with empty strings, and Z, the int64 number of substrings of each element.
var StringSplit = &Def{
	Name: "StringSplit",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 1 || ic.In[0].Unranked {
			return miTypes(graph.UnrankedType(tensor.String), graph.UnrankedType(tensor.Int64)), nil
		}
		y := graph.TensorType(tensor.String, append(append([]int(nil), ic.In[0].Shape...), -1)...)
		return miTypes(y, graph.TensorType(tensor.Int64, ic.In[0].Shape...)), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := miStringInput(n, in, 0, "X")
		if err != nil {
			return nil, err
		}
		delim := n.Attrs.String("delimiter", "")
		maxSplit := -1
		if n.Attrs.Has("maxsplit") {
			maxSplit = int(n.Attrs.Int("maxsplit", -1))
			if maxSplit < 0 {
				return nil, Errorf(n, "maxsplit must be non-negative, got %d", maxSplit)
			}
		}
		xs := x.Strings()
		parts := make([][]string, len(xs))
		width := 0
		for i, s := range xs {
			if delim == "" {
				parts[i] = miSplitSpace(s, maxSplit)
			} else {
				parts[i] = strings.SplitN(s, delim, maxSplit+1)
				if maxSplit < 0 {
					parts[i] = strings.Split(s, delim)
				}
			}
			width = max(width, len(parts[i]))
		}
		yShape := append(x.Shape().Clone(), width)
		y := make([]string, len(xs)*width)
		z := make([]int64, len(xs))
		for i, p := range parts {
			copy(y[i*width:], p)
			z[i] = int64(len(p))
		}
		return []*tensor.Tensor{tensor.From(yShape, y), tensor.From(x.Shape().Clone(), z)}, nil
	},
}

// miSplitSpace splits s at runs of whitespace like Python's
// str.split(None, maxsplit): at most maxSplit splits (unbounded when
// negative), leading whitespace dropped, the remainder kept whole after its
// leading whitespace is dropped.
func miSplitSpace(s string, maxSplit int) []string {
	var out []string
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	for s != "" {
		if maxSplit >= 0 && len(out) == maxSplit {
			out = append(out, strings.TrimRightFunc(s, unicode.IsSpace))
			break
		}
		end := strings.IndexFunc(s, unicode.IsSpace)
		if end < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:end])
		s = strings.TrimLeftFunc(s[end:], unicode.IsSpace)
	}
	return out
}

// RegexFullMatch reports for every string of X whether the RE2 pattern
// matches it entirely (ONNX RegexFullMatch-20). Go's regexp implements
// RE2 syntax, as the ONNX spec requires.
var RegexFullMatch = &Def{
	Name: "RegexFullMatch",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 1 {
			return nil, ic.Errorf("needs input X")
		}
		return miTypes(miSameShape(tensor.Bool, ic.In[0])), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := miStringInput(n, in, 0, "X")
		if err != nil {
			return nil, err
		}
		pat := n.Attrs.String("pattern", "")
		re, err := regexp.Compile(`\A(?:` + pat + `)\z`)
		if err != nil {
			return nil, Errorf(n, "pattern %q is not a valid RE2 expression: %v", pat, err)
		}
		out := make([]bool, x.Len())
		for i, s := range x.Strings() {
			out[i] = re.MatchString(s)
		}
		return []*tensor.Tensor{tensor.From(x.Shape().Clone(), out)}, nil
	},
}

func init() {
	Register(StringNormalizer)
	Register(StringConcat)
	Register(StringSplit)
	Register(RegexFullMatch)
}
