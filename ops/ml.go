package ops

import (
	"math"
	"strconv"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

const miMLDomain = "ai.onnx.ml"

// miKeys returns canonical map keys for the elements of t (strings as is,
// integers in decimal, floats in shortest form, every NaN alike).
func miKeys(t *tensor.Tensor) []string {
	out := make([]string, t.Len())
	switch {
	case t.DType() == tensor.String:
		copy(out, t.Strings())
	case t.DType().IsInt():
		for i, v := range t.Int64s() {
			out[i] = strconv.FormatInt(v, 10)
		}
	default:
		for i, v := range t.Float64s() {
			if math.IsNaN(v) {
				out[i] = "NaN"
			} else {
				out[i] = strconv.FormatFloat(v, 'g', -1, 64)
			}
		}
	}
	return out
}

// miTake returns src[idx[i]] for each i, or def where idx[i] < 0.
func miTake[T any](src []T, def T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		if j < 0 {
			out[i] = def
		} else {
			out[i] = src[j]
		}
	}
	return out
}

// miGather builds a tensor of shape with elements of src picked by idx
// (-1 picks def's single element); src and def share a dtype.
func miGather(src, def *tensor.Tensor, idx []int, shape tensor.Shape) (*tensor.Tensor, error) {
	var data any
	switch s := src.Data().(type) {
	case []string:
		data = miTake(s, def.Data().([]string)[0], idx)
	case []int64:
		data = miTake(s, def.Data().([]int64)[0], idx)
	case []int32:
		data = miTake(s, def.Data().([]int32)[0], idx)
	case []int16:
		data = miTake(s, def.Data().([]int16)[0], idx)
	case []float32:
		data = miTake(s, def.Data().([]float32)[0], idx)
	case []float64:
		data = miTake(s, def.Data().([]float64)[0], idx)
	default:
		return nil, ErrUnsupported
	}
	return tensor.FromSlice(shape.Clone(), data)
}

// miLabelTables resolves LabelEncoder's keys, values and default for an
// input of type in.
func miLabelTables(n *graph.Node, in tensor.DType) (keys, values, def *tensor.Tensor, err error) {
	a := n.Attrs
	if classes := a.Strings("classes_strings"); classes != nil {
		// LabelEncoder-1: strings map to their class index and back.
		idx := make([]int64, len(classes))
		for i := range idx {
			idx[i] = int64(i)
		}
		cs := tensor.From(tensor.Shape{len(classes)}, append([]string(nil), classes...))
		is := tensor.FromInt64s(tensor.Shape{len(idx)}, idx)
		if in == tensor.String {
			return cs, is, tensor.Scalar(a.Int("default_int64", -1)), nil
		}
		return is, cs, tensor.Scalar(a.String("default_string", "_Unused")), nil
	}
	pick := func(prefix string) *tensor.Tensor {
		if t := a.Tensor(prefix + "_tensor"); t != nil {
			return t
		}
		if v := a.Strings(prefix + "_strings"); v != nil {
			return tensor.From(tensor.Shape{len(v)}, append([]string(nil), v...))
		}
		if v := a.Ints(prefix + "_int64s"); v != nil {
			return tensor.FromInt64s(tensor.Shape{len(v)}, v)
		}
		if v := a.Floats(prefix + "_floats"); v != nil {
			return tensor.From(tensor.Shape{len(v)}, append([]float32(nil), v...))
		}
		return nil
	}
	keys, values = pick("keys"), pick("values")
	if keys == nil || values == nil || keys.Len() != values.Len() {
		return nil, nil, nil, Errorf(n, "needs keys and values of equal length")
	}
	def = a.Tensor("default_tensor")
	if def == nil {
		switch values.DType() {
		case tensor.String:
			def = tensor.Scalar(a.String("default_string", "_Unused"))
		case tensor.Float32:
			def = tensor.Scalar(a.Float("default_float", float32(math.Copysign(0, -1))))
		default:
			def = tensor.FromFloat64s(values.DType(), nil, []float64{float64(a.Int("default_int64", -1))})
		}
	}
	if def.Len() != 1 || def.DType() != values.DType() {
		return nil, nil, nil, Errorf(n, "default value must be one %v element, got %v", values.DType(), def)
	}
	return keys, values, def, nil
}

// LabelEncoder maps every element of X through a key-to-value table,
// giving a default for keys not in the table (ONNX ai.onnx.ml
// LabelEncoder-4). Keys and values come from keys_tensor/values_tensor or
// the keys_{strings,int64s,floats} and values_{...} lists; the default from
// default_tensor or default_{string,int64,float} ("_Unused", -1, -0.0).
// The form of LabelEncoder-1 (classes_strings: strings to class indexes or
// back, by the input's type) is accepted too.
var LabelEncoder = &Def{
	Name:   "LabelEncoder",
	Domain: miMLDomain,
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 1 {
			return nil, ic.Errorf("needs input X")
		}
		_, values, _, err := miLabelTables(ic.Node, ic.In[0].DType)
		if err != nil {
			return nil, err
		}
		return miTypes(miSameShape(values.DType(), ic.In[0])), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, Errorf(n, "needs input X")
		}
		keys, values, def, err := miLabelTables(n, in[0].DType())
		if err != nil {
			return nil, err
		}
		if (keys.DType() == tensor.String) != (in[0].DType() == tensor.String) {
			return nil, Errorf(n, "input type %v does not match key type %v", in[0].DType(), keys.DType())
		}
		table := map[string]int{}
		for i, k := range miKeys(keys) {
			if _, dup := table[k]; !dup {
				table[k] = i
			}
		}
		xk := miKeys(in[0])
		idx := make([]int, len(xk))
		for i, k := range xk {
			j, ok := table[k]
			if !ok {
				j = -1
			}
			idx[i] = j
		}
		y, err := miGather(values, def, idx, in[0].Shape())
		if err != nil {
			return nil, Unsupported(n, "values of type %v", values.DType())
		}
		return []*tensor.Tensor{y}, nil
	},
}

// Binarizer maps each element to 1 if it is greater than threshold
// (default 0) and 0 otherwise, keeping the type (ONNX ai.onnx.ml
// Binarizer-1).
var Binarizer = &Def{
	Name:   "Binarizer",
	Domain: miMLDomain,
	Infer:  InferSame(0),
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil || !in[0].DType().IsNumeric() {
			return nil, Errorf(n, "needs a numeric input X")
		}
		th := float64(n.Attrs.Float("threshold", 0))
		v := in[0].Float64s()
		for i, x := range v {
			if x > th {
				v[i] = 1
			} else {
				v[i] = 0
			}
		}
		return []*tensor.Tensor{tensor.FromFloat64s(in[0].DType(), in[0].Shape(), v)}, nil
	},
}

// ArrayFeatureExtractor selects elements of the last axis of X by the
// int64 indices Y (ONNX ai.onnx.ml ArrayFeatureExtractor-1). The output is
// X's shape with the last dimension replaced by len(Y); a 1-D X gives
// [1, len(Y)].
var ArrayFeatureExtractor = &Def{
	Name:   "ArrayFeatureExtractor",
	Domain: miMLDomain,
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 2 || ic.In[0].Unranked {
			return miTypes(graph.UnrankedType(ic.In[0].DType)), nil
		}
		s := append([]int(nil), ic.In[0].Shape...)
		if len(s) <= 1 {
			s = []int{1, -1}
		}
		s[len(s)-1] = -1
		return miTypes(graph.TensorType(ic.In[0].DType, s...)), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil || !in[1].DType().IsInt() {
			return nil, Errorf(n, "needs input X and int64 indices Y")
		}
		x := in[0]
		s := x.Shape()
		if len(s) == 0 {
			return nil, Errorf(n, "X must have rank >= 1")
		}
		last := s[len(s)-1]
		sel := in[1].Int64s()
		outer := x.Len() / max(last, 1)
		if last == 0 {
			outer = 0
		}
		idx := make([]int, 0, outer*len(sel))
		for o := range outer {
			for _, j := range sel {
				if j < 0 || int(j) >= last {
					return nil, Errorf(n, "index %d out of range for last dimension %d", j, last)
				}
				idx = append(idx, o*last+int(j))
			}
		}
		shape := s.Clone()
		if len(shape) == 1 {
			shape = tensor.Shape{1, 0}
		}
		shape[len(shape)-1] = len(sel)
		def, _ := tensor.NewChecked(x.DType(), tensor.Shape{1})
		y, err := miGather(x, def, idx, shape)
		if err != nil {
			return nil, Unsupported(n, "X of type %v", x.DType())
		}
		return []*tensor.Tensor{y}, nil
	},
}

func init() {
	Register(LabelEncoder)
	Register(Binarizer)
	Register(ArrayFeatureExtractor)
}
