package layer

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
)

// noiseRun lowers a regularization layer for training and runs it once on x.
func noiseRun(t *testing.T, class, config string, x *tensor.Tensor) []float32 {
	t.Helper()
	l := coreNew(t, class, config)
	shape := Shape(append([]int{-1}, x.Shape()[1:]...))
	if _, err := l.Build([]Shape{shape}); err != nil {
		t.Fatal(err)
	}
	g := &graph.Graph{Inputs: []*graph.Value{{Name: "x", Type: graph.TensorType(tensor.Float32, append([]int{-1}, x.Shape()[1:]...)...)}}}
	b := NewBuilder(g)
	b.Layer = l
	b.Training = true
	outs, err := l.Lower(b, []Tensor{{Name: "x", Shape: shape, DType: tensor.Float32}})
	if err != nil {
		t.Fatalf("%s: %v", class, err)
	}
	g.Outputs = []*graph.Value{{Name: outs[0].Name, Type: graph.UnrankedType(tensor.Float32)}}
	p, err := runtime.Compile(g)
	if err != nil {
		t.Fatalf("%s: %v", class, err)
	}
	res, err := p.Run(map[string]*tensor.Tensor{"x": x})
	if err != nil {
		t.Fatalf("%s: %v", class, err)
	}
	y := res[outs[0].Name]
	if !y.Shape().Equal(x.Shape()) {
		t.Fatalf("%s: output %v, want %v", class, y.Shape(), x.Shape())
	}
	return y.F32()
}

func filled(shape []int, f func(i int) float32) *tensor.Tensor {
	t := tensor.New(tensor.Float32, shape...)
	for i := range t.F32() {
		t.F32()[i] = f(i)
	}
	return t
}

func meanVar(v []float32) (float64, float64) {
	var s, s2 float64
	for _, x := range v {
		s += float64(x)
	}
	m := s / float64(len(v))
	for _, x := range v {
		s2 += (float64(x) - m) * (float64(x) - m)
	}
	return m, s2 / float64(len(v))
}

// In training the noise layers draw as Keras does: the checks are on
// statistics of 100K-element draws, with tolerances of about 5 standard
// errors.
func TestNoiseLayersInTraining(t *testing.T) {
	ones := filled([]int{4, 50, 50, 10}, func(int) float32 { return 1 })
	zeros := filled([]int{4, 50, 50, 10}, func(int) float32 { return 0 })

	// Dropout: kept elements scaled by 1/(1-rate), a fraction rate zero.
	y := noiseRun(t, "Dropout", `{"name": "d", "rate": 0.3}`, ones)
	drop := 0
	for _, v := range y {
		switch {
		case v == 0:
			drop++
		case math.Abs(float64(v)-1/0.7) > 1e-6:
			t.Fatalf("Dropout kept %v, want %v", v, 1/0.7)
		}
	}
	if f := float64(drop) / float64(len(y)); math.Abs(f-0.3) > 0.01 {
		t.Errorf("Dropout dropped %.4f, want 0.3", f)
	}

	// Dropout with noise_shape (None, 1, 1, None): one draw per batch and
	// channel, shared over height and width.
	y = noiseRun(t, "Dropout", `{"name": "d", "rate": 0.5, "noise_shape": [null, 1, 1, null]}`, ones)
	checkChannelDraws(t, "Dropout noise_shape", y, 4, 2500, 10, false, 2)

	// SpatialDropout2D: whole channels, channels_last and channels_first.
	y = noiseRun(t, "SpatialDropout2D", `{"name": "s", "rate": 0.5}`, ones)
	checkChannelDraws(t, "SpatialDropout2D", y, 4, 2500, 10, false, 2)
	y = noiseRun(t, "SpatialDropout2D", `{"name": "s", "rate": 0.5, "data_format": "channels_first"}`, filled([]int{4, 10, 50, 50}, func(int) float32 { return 1 }))
	checkChannelDraws(t, "SpatialDropout2D channels_first", y, 4, 2500, 10, true, 2)

	// GaussianNoise: x + N(0, stddev^2).
	m, v := meanVar(noiseRun(t, "GaussianNoise", `{"name": "g", "stddev": 0.5}`, zeros))
	if math.Abs(m) > 0.01 || math.Abs(v-0.25) > 0.01 {
		t.Errorf("GaussianNoise: mean %.4f variance %.4f, want 0 and 0.25", m, v)
	}
	// GaussianDropout: x * N(1, rate/(1-rate)).
	m, v = meanVar(noiseRun(t, "GaussianDropout", `{"name": "g", "rate": 0.2}`, ones))
	if math.Abs(m-1) > 0.01 || math.Abs(v-0.25) > 0.01 {
		t.Errorf("GaussianDropout: mean %.4f variance %.4f, want 1 and 0.25", m, v)
	}
	// AlphaDropout keeps zero mean and unit variance of standard normal
	// inputs; dropped elements all take a*alpha' + b.
	r := rand.New(rand.NewPCG(1, 2))
	normal := filled([]int{4, 50, 50, 10}, func(int) float32 { return float32(r.NormFloat64()) })
	y = noiseRun(t, "AlphaDropout", `{"name": "a", "rate": 0.2}`, normal)
	m, v = meanVar(y)
	if math.Abs(m) > 0.02 || math.Abs(v-1) > 0.03 {
		t.Errorf("AlphaDropout: mean %.4f variance %.4f, want 0 and 1", m, v)
	}
	const alphaP = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
	a := math.Pow(0.8*(1+0.2*alphaP*alphaP), -0.5)
	dropped := float32(a*alphaP - a*alphaP*0.2)
	n := 0
	for _, v := range y {
		if math.Abs(float64(v-dropped)) < 1e-5 {
			n++
		}
	}
	if f := float64(n) / float64(len(y)); math.Abs(f-0.2) > 0.01 {
		t.Errorf("AlphaDropout dropped %.4f, want 0.2", f)
	}
}

// checkChannelDraws checks that every (batch, channel) pair was kept or
// dropped as a whole, with about half of them dropped.
func checkChannelDraws(t *testing.T, what string, y []float32, n, hw, c int, channelsFirst bool, scale float32) {
	t.Helper()
	dropped := 0
	for b := range n {
		for ch := range c {
			at := func(p int) float32 {
				if channelsFirst {
					return y[(b*c+ch)*hw+p]
				}
				return y[(b*hw+p)*c+ch]
			}
			first := at(0)
			if first != 0 && first != scale {
				t.Fatalf("%s: value %v, want 0 or %v", what, first, scale)
			}
			for p := 1; p < hw; p++ {
				if at(p) != first {
					t.Fatalf("%s: batch %d channel %d not dropped as a whole", what, b, ch)
				}
			}
			if first == 0 {
				dropped++
			}
		}
	}
	if dropped == 0 || dropped == n*c {
		t.Errorf("%s: %d of %d channels dropped", what, dropped, n*c)
	}
}
