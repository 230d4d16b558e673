package loss

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/train/layer"
)

// batchLoss runs a loss with sum_over_batch_size reduction.
func batchLoss(t *testing.T, l Loss, ytShape []int, yt []float32, ypShape []int, yp []float32) float64 {
	t.Helper()
	g := &graph.Graph{Name: "loss", Types: map[string]graph.Type{}}
	b := layer.NewBuilder(g)
	g.Inputs = []*graph.Value{
		{Name: "yt", Type: graph.TensorType(tensor.Float32, ytShape...)},
		{Name: "yp", Type: graph.TensorType(tensor.Float32, ypShape...)},
	}
	ps, err := l.PerSample(b, layer.Tensor{Name: "yt", Shape: ytShape, DType: tensor.Float32}, layer.Tensor{Name: "yp", Shape: ypShape, DType: tensor.Float32})
	if err != nil {
		t.Fatal(err)
	}
	out := b.Op("ReduceMean", graph.Attrs{"keepdims": int64(0)}, ps)
	g.Outputs = []*graph.Value{{Name: out, Type: graph.TensorType(tensor.Float32)}}
	p, err := runtime.Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Run(map[string]*tensor.Tensor{"yt": tensor.From(tensor.Shape(ytShape), yt), "yp": tensor.From(tensor.Shape(ypShape), yp)})
	if err != nil {
		t.Fatal(err)
	}
	return float64(res[out].F32()[0])
}

// TestKerasDocExamples checks every loss against the standalone-usage
// examples of the Keras documentation (keras.io/api/losses), which give
// three significant digits.
func TestKerasDocExamples(t *testing.T) {
	a := []float32{0, 1, 0, 0}
	p64 := []float32{0.6, 0.4, 0.4, 0.6}
	s22 := []int{2, 2}
	cases := []struct {
		name   string
		loss   Loss
		ts     []int
		yt     []float32
		ps     []int
		yp     []float32
		want   float64
		digits float64
	}{
		{"mse", MeanSquaredError(), s22, a, s22, []float32{1, 1, 1, 0}, 0.5, 1e-6},
		{"mae", MeanAbsoluteError(), s22, a, s22, []float32{1, 1, 1, 0}, 0.5, 1e-6},
		{"mape", MeanAbsolutePercentageError(), s22, []float32{2, 1, 2, 3}, s22, []float32{1, 1, 1, 0}, 50, 1e-4},
		{"msle", MeanSquaredLogarithmicError(), s22, a, s22, []float32{1, 1, 1, 0}, 0.240, 1e-3},
		{"huber", Huber(1), s22, a, s22, p64, 0.155, 1e-3},
		{"log_cosh", LogCosh(), s22, a, s22, []float32{1, 1, 0, 0}, 0.108, 1e-3},
		{"bce", BinaryCrossentropy(false, 0), s22, a, s22, p64, 0.815, 1e-3},
		{"bce_logits", BinaryCrossentropy(true, 0), []int{4}, []float32{0, 1, 0, 0}, []int{4}, []float32{-18.6, 0.51, 2.94, -12.8}, 0.865, 1e-3},
		{"cce", CategoricalCrossentropy(false, 0), []int{2, 3}, []float32{0, 1, 0, 0, 0, 1}, []int{2, 3}, []float32{0.05, 0.95, 0, 0.1, 0.8, 0.1}, 1.177, 1e-3},
		{"scce", SparseCategoricalCrossentropy(false), []int{2}, []float32{1, 2}, []int{2, 3}, []float32{0.05, 0.95, 0, 0.1, 0.8, 0.1}, 1.177, 1e-3},
		{"kld", KLDivergence(), s22, a, s22, p64, 0.458, 1e-3},
		{"poisson", Poisson(), s22, a, s22, []float32{1, 1, 0, 0}, 0.5, 1e-3},
		{"hinge", Hinge(), s22, a, s22, p64, 1.3, 1e-3},
		{"squared_hinge", SquaredHinge(), s22, a, s22, p64, 1.86, 1e-3},
		{"categorical_hinge", CategoricalHinge(), s22, a, s22, p64, 1.4, 1e-3},
		{"cosine_similarity", CosineSimilarity(), s22, []float32{0, 1, 1, 1}, s22, []float32{1, 0, 1, 1}, -0.5, 1e-5},
	}
	for _, c := range cases {
		got := batchLoss(t, c.loss, c.ts, c.yt, c.ps, c.yp)
		if math.Abs(got-c.want) > c.digits {
			t.Errorf("%s: got %.6f, Keras docs %.4g", c.name, got, c.want)
		}
	}
}

// TestSparseLabelsShape checks that labels of shape (batch, 1) are read
// like (batch,).
func TestSparseLabelsShape(t *testing.T) {
	got := batchLoss(t, SparseCategoricalCrossentropy(false), []int{2, 1}, []float32{1, 2}, []int{2, 3}, []float32{0.05, 0.95, 0, 0.1, 0.8, 0.1})
	if math.Abs(got-1.177) > 1e-3 {
		t.Errorf("got %v, want 1.177", got)
	}
}

func TestFromConfig(t *testing.T) {
	for _, s := range []string{`"mse"`, `"categorical_crossentropy"`, `{"class_name": "BinaryCrossentropy", "config": {"from_logits": true}}`,
		`{"module": "keras.losses", "class_name": "Huber", "config": {"delta": 2.0, "reduction": "sum_over_batch_size"}, "registered_name": null}`} {
		if _, err := FromConfig([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := FromConfig([]byte(`"no_such_loss"`)); err == nil {
		t.Error("unknown loss accepted")
	}
	r, err := RegularizerFromConfig([]byte(`{"class_name": "L2", "config": {"l2": 0.009999999776482582}}`))
	if err != nil || r.L2 != 0.009999999776482582 || r.L1 != 0 {
		t.Errorf("L2 config: %+v %v", r, err)
	}
}
