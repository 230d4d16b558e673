package ops

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// miRun runs a registered op's kernel on tensors.
func miRun(t *testing.T, d *Def, attrs graph.Attrs, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	n := &graph.Node{Name: "n", Op: d.Name, Domain: d.Domain, Attrs: attrs}
	for range in {
		n.Inputs = append(n.Inputs, "x")
	}
	return d.Kernel(n, in)
}

func miCheck(t *testing.T, name string, got *tensor.Tensor, dt tensor.DType, shape tensor.Shape, want []float64) {
	t.Helper()
	if got.DType() != dt || !got.Shape().Equal(shape) {
		t.Fatalf("%s: got %v, want %v%v", name, got, dt, shape)
	}
	for i, w := range want {
		if g := got.At(i); math.Abs(g-w) > 1e-6+1e-5*math.Abs(w) {
			t.Fatalf("%s: element %d = %v, want %v (%v)", name, i, g, w, got)
		}
	}
}

func TestMiQuantizeLinear(t *testing.T) {
	f := func(s tensor.Shape, v ...float32) *tensor.Tensor { return tensor.From(s, v) }
	cases := []struct {
		name  string
		attrs graph.Attrs
		in    []*tensor.Tensor
		dt    tensor.DType
		want  []float64
	}{
		// ONNX spec example: x / 2 + 128, half to even, saturating.
		{"per-tensor", graph.Attrs{}, []*tensor.Tensor{f(tensor.Shape{6}, 0, 2, 3, 1000, -254, -1000), tensor.Scalar(float32(2)), tensor.Scalar(uint8(128))},
			tensor.Uint8, []float64{128, 129, 130, 255, 1, 0}},
		// 2.5 and 3.5 round to even; int8 saturates at -128.
		{"int8 ties", graph.Attrs{}, []*tensor.Tensor{f(tensor.Shape{3}, 2.5, 3.5, -300), tensor.Scalar(float32(1)), tensor.Scalar(int8(0))},
			tensor.Int8, []float64{2, 4, -128}},
		{"per-axis", graph.Attrs{"axis": int64(1)}, []*tensor.Tensor{f(tensor.Shape{1, 2, 2}, 2, 4, 6, 8), f(tensor.Shape{2}, 2, 4), tensor.From(tensor.Shape{2}, []uint8{0, 10})},
			tensor.Uint8, []float64{1, 2, 12, 12}},
		{"blocked", graph.Attrs{"axis": int64(1), "block_size": int64(2)}, []*tensor.Tensor{f(tensor.Shape{1, 3}, 2, 4, 9), f(tensor.Shape{1, 2}, 2, 3)},
			tensor.Uint8, []float64{1, 2, 3}},
		{"output_dtype", graph.Attrs{"output_dtype": int64(tensor.Int16)}, []*tensor.Tensor{f(tensor.Shape{2}, -40000, 7), tensor.Scalar(float32(1))},
			tensor.Int16, []float64{-32768, 7}},
	}
	for _, c := range cases {
		out, err := miRun(t, QuantizeLinear, c.attrs, c.in...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		miCheck(t, c.name, out[0], c.dt, c.in[0].Shape(), c.want)
	}
	_, err := miRun(t, QuantizeLinear, graph.Attrs{"output_dtype": int64(tensor.Float8E8M0)}, f(tensor.Shape{1}, 1), tensor.Scalar(float32(1)))
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("float8e8m0 output: got %v, want ErrUnsupported", err)
	}
	_, err = miRun(t, QuantizeLinear, graph.Attrs{}, f(tensor.Shape{2, 2}, 1, 2, 3, 4), f(tensor.Shape{3}, 1, 1, 1))
	if err == nil {
		t.Fatal("mismatched per-axis scale: want an error")
	}
}

func TestMiDequantizeLinear(t *testing.T) {
	out, err := miRun(t, DequantizeLinear, graph.Attrs{},
		tensor.From(tensor.Shape{4}, []uint8{0, 3, 128, 255}), tensor.Scalar(float32(2)), tensor.Scalar(uint8(128)))
	if err != nil {
		t.Fatal(err)
	}
	// ONNX spec example.
	miCheck(t, "per-tensor", out[0], tensor.Float32, tensor.Shape{4}, []float64{-256, -250, 0, 254})
	out, err = miRun(t, DequantizeLinear, graph.Attrs{"axis": int64(0)},
		tensor.From(tensor.Shape{2, 2}, []int8{1, 2, 3, 4}), tensor.From(tensor.Shape{2}, []tensor.Half{tensor.ToHalf(1), tensor.ToHalf(0.5)}))
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "per-axis half", out[0], tensor.Float16, tensor.Shape{2, 2}, []float64{1, 2, 1.5, 2})
}

func TestMiDynamicQuantizeLinear(t *testing.T) {
	// ONNX spec example: range [-1, 2] gives scale 3/255, zero point 85.
	out, err := miRun(t, DynamicQuantizeLinear, nil, tensor.From(tensor.Shape{3}, []float32{0, 2, -1}))
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "y", out[0], tensor.Uint8, tensor.Shape{3}, []float64{85, 255, 0})
	miCheck(t, "scale", out[1], tensor.Float32, nil, []float64{3.0 / 255})
	miCheck(t, "zp", out[2], tensor.Uint8, nil, []float64{85})
}

func TestMiIntegerOps(t *testing.T) {
	// (A - 1) x (B - 0) with A = [[2,3],[4,5]], B = I.
	out, err := miRun(t, MatMulInteger, nil, tensor.From(tensor.Shape{2, 2}, []uint8{2, 3, 4, 5}),
		tensor.From(tensor.Shape{2, 2}, []uint8{1, 0, 0, 1}), tensor.Scalar(uint8(1)))
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "MatMulInteger", out[0], tensor.Int32, tensor.Shape{2, 2}, []float64{1, 2, 3, 4})

	// 3x3 input 1..9 minus zero point 1, 2x2 kernel of ones, pads 1:
	// corner sums of the shifted image 0..8.
	x := tensor.From(tensor.Shape{1, 1, 3, 3}, []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9})
	w := tensor.From(tensor.Shape{1, 1, 2, 2}, []uint8{1, 1, 1, 1})
	out, err = miRun(t, ConvInteger, graph.Attrs{"pads": []int64{1, 1, 1, 1}}, x, w, tensor.Scalar(uint8(1)))
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "ConvInteger", out[0], tensor.Int32, tensor.Shape{1, 1, 4, 4},
		[]float64{0, 1, 3, 2, 3, 8, 12, 7, 9, 20, 24, 13, 6, 13, 15, 8})

	// acc = [[4]] * 0.5*1/1 = 2 plus zero point 10.
	out, err = miRun(t, QLinearMatMul, nil,
		tensor.From(tensor.Shape{1, 2}, []uint8{2, 2}), tensor.Scalar(float32(0.5)), tensor.Scalar(uint8(0)),
		tensor.From(tensor.Shape{2, 1}, []uint8{1, 1}), tensor.Scalar(float32(1)), tensor.Scalar(uint8(0)),
		tensor.Scalar(float32(1)), tensor.Scalar(uint8(10)))
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "QLinearMatMul", out[0], tensor.Uint8, tensor.Shape{1, 1}, []float64{12})
}

func TestMiStrings(t *testing.T) {
	s := func(v ...string) *tensor.Tensor { return tensor.From(tensor.Shape{len(v)}, v) }
	out, err := miRun(t, StringNormalizer, graph.Attrs{"case_change_action": "UPPER", "stopwords": []string{"monday"}},
		s("Monday", "tuesday"))
	if err != nil || !reflect.DeepEqual(out[0].Strings(), []string{"TUESDAY"}) {
		t.Fatalf("StringNormalizer: %v %v", out, err)
	}
	out, err = miRun(t, StringConcat, nil, s("a", "b"), tensor.Scalar("!"))
	if err != nil || !reflect.DeepEqual(out[0].Strings(), []string{"a!", "b!"}) {
		t.Fatalf("StringConcat: %v %v", out, err)
	}
	out, err = miRun(t, StringSplit, graph.Attrs{"delimiter": ","}, s("a,,b", "c"))
	if err != nil || !reflect.DeepEqual(out[0].Strings(), []string{"a", "", "b", "c", "", ""}) ||
		!reflect.DeepEqual(out[1].Data(), []int64{3, 1}) {
		t.Fatalf("StringSplit: %v %v", out, err)
	}
	out, err = miRun(t, StringSplit, graph.Attrs{"maxsplit": int64(1)}, s("  a b  c "))
	if err != nil || !reflect.DeepEqual(out[0].Strings(), []string{"a", "b  c"}) {
		t.Fatalf("StringSplit whitespace: %v %v", out, err)
	}
	out, err = miRun(t, RegexFullMatch, graph.Attrs{"pattern": "a+"}, s("aaa", "aab", ""))
	if err != nil || !reflect.DeepEqual(out[0].Bools(), []bool{true, false, false}) {
		t.Fatalf("RegexFullMatch: %v %v", out, err)
	}
}

func TestMiSignal(t *testing.T) {
	// DFT of [1, 0, 0, 0] is all ones; of [1, 1, 1, 1] a single DC bin 4.
	x := tensor.From(tensor.Shape{2, 4, 1}, []float32{1, 0, 0, 0, 1, 1, 1, 1})
	out, err := miRun(t, DFT, nil, x)
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "DFT", out[0], tensor.Float32, tensor.Shape{2, 4, 2}, []float64{1, 0, 1, 0, 1, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0})
	out, err = miRun(t, DFT, graph.Attrs{"onesided": int64(1)}, x)
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "rfft", out[0], tensor.Float32, tensor.Shape{2, 3, 2}, []float64{1, 0, 1, 0, 1, 0, 4, 0, 0, 0, 0, 0})
	// Inverse onesided of the DC-only half spectrum [4, 0, 0] is [1, 1, 1, 1].
	h := tensor.From(tensor.Shape{1, 3, 2}, []float32{4, 0, 0, 0, 0, 0})
	out, err = miRun(t, DFT, graph.Attrs{"onesided": int64(1), "inverse": int64(1)}, h)
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "irfft", out[0], tensor.Float32, tensor.Shape{1, 4, 1}, []float64{1, 1, 1, 1})

	// Periodic Hann window of size 4: 0.5 - 0.5 cos(pi k / 2).
	out, err = miRun(t, HannWindow, nil, tensor.Scalar(int64(4)))
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "Hann", out[0], tensor.Float32, tensor.Shape{4}, []float64{0, 0.5, 1, 0.5})
	out, err = miRun(t, BlackmanWindow, graph.Attrs{"periodic": int64(0)}, tensor.Scalar(int64(3)))
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "Blackman", out[0], tensor.Float32, tensor.Shape{3}, []float64{0, 1, 0})
}

func TestMiMisc(t *testing.T) {
	out, err := miRun(t, BitCast, graph.Attrs{"to": int64(tensor.Int32)}, tensor.From(tensor.Shape{1}, []float32{1}))
	if err != nil || out[0].I32()[0] != 0x3f800000 {
		t.Fatalf("BitCast: %v %v", out, err)
	}
	if _, err := miRun(t, BitCast, graph.Attrs{"to": int64(tensor.Int64)}, tensor.From(tensor.Shape{1}, []float32{1})); err == nil {
		t.Fatal("BitCast of different sizes: want an error")
	}
	out, err = miRun(t, LabelEncoder, graph.Attrs{"keys_strings": []string{"a", "b"}, "values_int64s": []int64{7, 8}},
		tensor.From(tensor.Shape{3}, []string{"b", "z", "a"}))
	if err != nil || !reflect.DeepEqual(out[0].Data(), []int64{8, -1, 7}) {
		t.Fatalf("LabelEncoder: %v %v", out, err)
	}
	// Unigrams 1 and 2 and the bigram (1, 2) in [1, 2, 1, 2]: 2, 2, 2.
	out, err = miRun(t, TfIdfVectorizer, graph.Attrs{"min_gram_length": int64(1), "max_gram_length": int64(2), "mode": "TF",
		"ngram_counts": []int64{0, 2}, "ngram_indexes": []int64{0, 1, 2}, "pool_int64s": []int64{1, 2, 1, 2}},
		tensor.From(tensor.Shape{4}, []int64{1, 2, 1, 2}))
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "TfIdf", out[0], tensor.Float32, tensor.Shape{3}, []float64{2, 2, 2})
	// Momentum, standard, first step (T=0, beta treated as 1):
	// V = 0.9*1 + 1*2 = 2.9; X = 1 - 0.1*2.9 = 0.71.
	out, err = miRun(t, Momentum, graph.Attrs{"alpha": float32(0.9), "beta": float32(0.5), "mode": "standard"},
		tensor.Scalar(float32(0.1)), tensor.Scalar(int64(0)),
		tensor.From(tensor.Shape{1}, []float32{1}), tensor.From(tensor.Shape{1}, []float32{2}), tensor.From(tensor.Shape{1}, []float32{1}))
	if err != nil {
		t.Fatal(err)
	}
	miCheck(t, "Momentum X", out[0], tensor.Float32, tensor.Shape{1}, []float64{0.71})
	miCheck(t, "Momentum V", out[1], tensor.Float32, tensor.Shape{1}, []float64{2.9})
}
