package layer

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
)

// convCase is one hand-computed layer test: a Keras config, weights in
// Keras's order, an input and the expected output.
type convCase struct {
	name    string
	class   string
	config  string
	version Version
	inShape Shape // Keras input shape, batch included (batch may be -1)
	x       []float32
	xShape  []int // the concrete input shape
	weights [][]float32
	mask    []bool // optional [batch, time] mask
	want    []float32
	shape   []int // expected output shape (concrete)
	// kerasShape, when set, is the expected Build output shape.
	kerasShape Shape
}

// convRun decodes, builds, lowers and runs one layer on x.
func convRun(t *testing.T, c convCase) *tensor.Tensor {
	t.Helper()
	ctx := &DecodeContext{Version: c.version}
	l, err := New(c.class, json.RawMessage(c.config), ctx)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	outShapes, err := l.Build([]Shape{c.inShape})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if c.kerasShape != nil && outShapes[0].String() != c.kerasShape.String() {
		t.Errorf("Build output shape %v, want %v", outShapes[0], c.kerasShape)
	}
	ws := l.Weights()
	if len(ws) != len(c.weights) {
		t.Fatalf("%d weights, test gives %d", len(ws), len(c.weights))
	}
	for i, w := range ws {
		if len(c.weights[i]) != w.Value.Len() {
			t.Fatalf("weight %s has shape %v (%d values), test gives %d", w.Name, w.Shape, w.Value.Len(), len(c.weights[i]))
		}
		copy(w.Value.F32(), c.weights[i])
	}
	g := &graph.Graph{Name: "test"}
	g.Inputs = append(g.Inputs, &graph.Value{Name: "x", Type: graph.TensorType(tensor.Float32, c.xShape...)})
	in := Tensor{Name: "x", Shape: c.inShape, DType: tensor.Float32}
	feeds := map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape(c.xShape), c.x)}
	if c.mask != nil {
		ms := []int{c.xShape[0], c.xShape[1]}
		g.Inputs = append(g.Inputs, &graph.Value{Name: "mask", Type: graph.TensorType(tensor.Bool, ms...)})
		in.Mask = "mask"
		feeds["mask"] = tensor.From(tensor.Shape(ms), c.mask)
	}
	b := NewBuilder(g)
	b.Layer = l
	b.Version = c.version
	outs, err := l.Lower(b, []Tensor{in})
	if err != nil {
		t.Fatalf("Lower: %v", err)
	}
	g.Outputs = append(g.Outputs, &graph.Value{Name: outs[0].Name, Type: graph.TensorType(tensor.Float32, c.shape...)})
	p, err := runtime.Compile(g)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	res, err := p.Run(feeds)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res[outs[0].Name]
}

// convCheck runs the cases. Tolerance 1e-5: the expected values are exact
// small-integer or short decimal arithmetic.
func convCheck(t *testing.T, cases []convCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := convRun(t, c)
			if !y.Shape().Equal(tensor.Shape(c.shape)) {
				t.Fatalf("output shape %v, want %v", y.Shape(), c.shape)
			}
			got := y.F32()
			for i := range c.want {
				if math.Abs(float64(got[i]-c.want[i])) > 1e-5 {
					t.Fatalf("output %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestConv(t *testing.T) {
	convCheck(t, []convCase{
		{
			name: "conv1d valid bias", class: "Conv1D",
			config:  `{"name":"c","filters":1,"kernel_size":[2],"padding":"valid","activation":"linear"}`,
			inShape: Shape{-1, 4, 1}, xShape: []int{1, 4, 1}, x: []float32{1, 2, 3, 4},
			weights: [][]float32{{1, 2}, {0.5}},
			// y[i] = x[i] + 2x[i+1] + 0.5
			want: []float32{5.5, 8.5, 11.5}, shape: []int{1, 3, 1}, kerasShape: Shape{-1, 3, 1},
		},
		{
			name: "conv1d causal dilated", class: "Conv1D",
			config:  `{"name":"c","filters":1,"kernel_size":2,"padding":"causal","dilation_rate":2,"use_bias":false}`,
			inShape: Shape{-1, 4, 1}, xShape: []int{1, 4, 1}, x: []float32{1, 2, 3, 4},
			weights: [][]float32{{1, 10}},
			// y[t] = x[t-2] + 10x[t], zero before the start
			want: []float32{10, 20, 31, 42}, shape: []int{1, 4, 1}, kerasShape: Shape{-1, 4, 1},
		},
		{
			name: "conv1d strided relu", class: "Conv1D",
			config:  `{"name":"c","filters":1,"kernel_size":1,"strides":2,"activation":"relu","use_bias":false}`,
			inShape: Shape{-1, 5, 1}, xShape: []int{1, 5, 1}, x: []float32{1, -2, -3, 4, 5},
			weights: [][]float32{{-1}},
			want:    []float32{0, 3, 0}, shape: []int{1, 3, 1},
		},
		{
			name: "conv2d same pads at the end", class: "Conv2D",
			config:  `{"name":"c","filters":1,"kernel_size":[2,2],"padding":"same","use_bias":false}`,
			inShape: Shape{-1, 3, 3, 1}, xShape: []int{1, 3, 3, 1}, x: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9},
			weights: [][]float32{{1, 1, 1, 1}},
			// 2x2 window sums with the zero row/column after the input (TF SAME)
			want: []float32{12, 16, 9, 24, 28, 15, 15, 17, 9}, shape: []int{1, 3, 3, 1},
		},
		{
			name: "conv2d same unknown spatial dims", class: "Conv2D",
			config:  `{"name":"c","filters":1,"kernel_size":[2,2],"padding":"same","use_bias":false}`,
			inShape: Shape{-1, -1, -1, 1}, xShape: []int{1, 3, 3, 1}, x: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9},
			weights: [][]float32{{1, 1, 1, 1}},
			want:    []float32{12, 16, 9, 24, 28, 15, 15, 17, 9}, shape: []int{1, 3, 3, 1}, kerasShape: Shape{-1, -1, -1, 1},
		},
		{
			name: "conv2d kernel layout (kh,kw,in,out)", class: "Conv2D",
			config:  `{"name":"c","filters":2,"kernel_size":1,"use_bias":true}`,
			inShape: Shape{-1, 1, 2, 2}, xShape: []int{1, 1, 2, 2}, x: []float32{1, 10, 2, 20},
			// kernel[0,0,c,f]: c0 -> (1, 2), c1 -> (3, 4)
			weights: [][]float32{{1, 2, 3, 4}, {0, 100}},
			want:    []float32{31, 142, 62, 184}, shape: []int{1, 1, 2, 2},
		},
		{
			name: "conv2d channels_first", class: "Conv2D",
			config:  `{"name":"c","filters":1,"kernel_size":[1,2],"data_format":"channels_first","use_bias":false}`,
			inShape: Shape{-1, 2, 1, 3}, xShape: []int{1, 2, 1, 3}, x: []float32{1, 2, 3, 10, 20, 30},
			// kernel[0,j,c,0]: (j0,c0)=1 (j0,c1)=2 (j1,c0)=3 (j1,c1)=4
			weights: [][]float32{{1, 2, 3, 4}},
			// y[w] = x0[w] + 2 x1[w] + 3 x0[w+1] + 4 x1[w+1]
			want: []float32{1 + 20 + 6 + 80, 2 + 40 + 9 + 120}, shape: []int{1, 1, 1, 2},
		},
		{
			name: "conv2d groups", class: "Conv2D",
			config:  `{"name":"c","filters":2,"kernel_size":1,"groups":2,"use_bias":false}`,
			inShape: Shape{-1, 1, 1, 2}, xShape: []int{1, 1, 1, 2}, x: []float32{1, 10},
			weights: [][]float32{{5, 7}},
			want:    []float32{5, 70}, shape: []int{1, 1, 1, 2},
		},
		{
			name: "conv2d dilated strided", class: "Conv2D",
			config:  `{"name":"c","filters":1,"kernel_size":[1,2],"dilation_rate":[1,2],"use_bias":false}`,
			inShape: Shape{-1, 1, 4, 1}, xShape: []int{1, 1, 4, 1}, x: []float32{1, 2, 3, 4},
			weights: [][]float32{{1, 10}},
			want:    []float32{31, 42}, shape: []int{1, 1, 2, 1},
		},
		{
			name: "theano backend flips the kernel", class: "Conv1D",
			version: Version{Major: 2, Minor: 1, Backend: "theano"},
			config:  `{"name":"c","filters":1,"kernel_size":[2],"use_bias":false}`,
			inShape: Shape{-1, 4, 1}, xShape: []int{1, 4, 1}, x: []float32{1, 2, 3, 4},
			weights: [][]float32{{1, 2}},
			// true convolution: y[i] = 2x[i] + x[i+1]
			want: []float32{4, 7, 10}, shape: []int{1, 3, 1},
		},
		{
			name: "keras 1 Convolution1D", class: "Convolution1D",
			version: Version{Major: 1, Minor: 2},
			config:  `{"name":"c","nb_filter":2,"filter_length":2,"border_mode":"valid","subsample_length":1,"activation":"linear","bias":true}`,
			inShape: Shape{-1, 3, 1}, xShape: []int{1, 3, 1}, x: []float32{1, 2, 3},
			// W (2, 1, 1, 2): W[k,0,0,f]; k0 -> (1, 2), k1 -> (10, 20)
			weights: [][]float32{{1, 2, 10, 20}, {0, 1}},
			want:    []float32{21, 43, 32, 65}, shape: []int{1, 2, 2},
		},
		{
			name: "keras 1 Convolution2D th", class: "Convolution2D",
			version: Version{Major: 1, Minor: 2},
			config:  `{"name":"c","nb_filter":2,"nb_row":1,"nb_col":2,"border_mode":"same","subsample":[1,1],"dim_ordering":"th","bias":false}`,
			inShape: Shape{-1, 1, 1, 2}, xShape: []int{1, 1, 1, 2}, x: []float32{1, 2},
			// W (2, 1, 1, 2): filter f, col j
			weights: [][]float32{{1, 10, 100, 1000}},
			// same: pad one column at the end
			want: []float32{21, 2, 2100, 200}, shape: []int{1, 2, 1, 2},
		},
		{
			name: "keras 1 Convolution2D tf", class: "Convolution2D",
			version: Version{Major: 1, Minor: 2},
			config:  `{"name":"c","nb_filter":1,"nb_row":2,"nb_col":1,"border_mode":"valid","subsample":[1,1],"dim_ordering":"tf","bias":true}`,
			inShape: Shape{-1, 2, 1, 1}, xShape: []int{1, 2, 1, 1}, x: []float32{1, 2},
			weights: [][]float32{{3, 4}, {1}},
			want:    []float32{12}, shape: []int{1, 1, 1, 1},
		},
		{
			name: "conv3d channels_first", class: "Conv3D",
			config:  `{"name":"c","filters":1,"kernel_size":[2,1,1],"data_format":"channels_first","use_bias":true}`,
			inShape: Shape{-1, 1, 3, 1, 1}, xShape: []int{1, 1, 3, 1, 1}, x: []float32{1, 2, 3},
			weights: [][]float32{{1, 10}, {0.5}},
			want:    []float32{21.5, 32.5}, shape: []int{1, 1, 2, 1, 1},
		},
		{
			name: "conv3d channels_last same strided", class: "Conv3D",
			config:  `{"name":"c","filters":1,"kernel_size":2,"strides":2,"padding":"same","use_bias":false}`,
			inShape: Shape{-1, 3, 1, 1, 1}, xShape: []int{1, 3, 1, 1, 1}, x: []float32{1, 2, 3},
			// only kernel[k,0,0] matters on a 1x1 plane (pad after): k0=1, k1=10
			weights: [][]float32{{1, 0, 0, 0, 10, 0, 0, 0}},
			want:    []float32{21, 3}, shape: []int{1, 2, 1, 1, 1},
		},
	})
}

func TestConvTranspose(t *testing.T) {
	convCheck(t, []convCase{
		{
			// full = [1, 10, 102, 20, 200]; Keras "same" keeps n*s = 4 from the start
			name: "1d same k3 s2", class: "Conv1DTranspose",
			config:  `{"name":"c","filters":1,"kernel_size":3,"strides":2,"padding":"same","use_bias":false}`,
			inShape: Shape{-1, 2, 1}, xShape: []int{1, 2, 1}, x: []float32{1, 2},
			weights: [][]float32{{1, 10, 100}},
			want:    []float32{1, 10, 102, 20}, shape: []int{1, 4, 1}, kerasShape: Shape{-1, 4, 1},
		},
		{
			name: "1d valid k3 s2 bias", class: "Conv1DTranspose",
			config:  `{"name":"c","filters":1,"kernel_size":3,"strides":2,"padding":"valid"}`,
			inShape: Shape{-1, 2, 1}, xShape: []int{1, 2, 1}, x: []float32{1, 2},
			weights: [][]float32{{1, 10, 100}, {1}},
			want:    []float32{2, 11, 103, 21, 201}, shape: []int{1, 5, 1},
		},
		{
			// valid with k < s: n*s outputs, the gaps zero
			name: "1d valid k1 s2", class: "Conv1DTranspose",
			config:  `{"name":"c","filters":1,"kernel_size":1,"strides":2,"padding":"valid","use_bias":false}`,
			inShape: Shape{-1, 2, 1}, xShape: []int{1, 2, 1}, x: []float32{1, 2},
			weights: [][]float32{{3}},
			want:    []float32{3, 0, 6, 0}, shape: []int{1, 4, 1},
		},
		{
			// same, k3 s1: total padding 2, one each side
			name: "1d same k3 s1", class: "Conv1DTranspose",
			config:  `{"name":"c","filters":1,"kernel_size":3,"strides":1,"padding":"same","use_bias":false}`,
			inShape: Shape{-1, 2, 1}, xShape: []int{1, 2, 1}, x: []float32{1, 2},
			weights: [][]float32{{1, 10, 100}},
			// full = [1, 12, 120, 200]
			want: []float32{12, 120}, shape: []int{1, 2, 1},
		},
		{
			// output_padding 1 with same, k3 s2: len = (2-1)*2 + 3 - 2 + 1 = 4;
			// TF's begin pad = floor(max(5 - 4, 0)/2) = 0
			name: "1d same output_padding", class: "Conv1DTranspose",
			config:  `{"name":"c","filters":1,"kernel_size":3,"strides":2,"padding":"same","output_padding":1,"use_bias":false}`,
			inShape: Shape{-1, 2, 1}, xShape: []int{1, 2, 1}, x: []float32{1, 2},
			weights: [][]float32{{1, 10, 100}},
			want:    []float32{1, 10, 102, 20}, shape: []int{1, 4, 1},
		},
		{
			// kernel (kh, kw, filters, in): 1x1, in 2, filters 1 -> (1, 1, 1, 2)
			name: "2d channels in", class: "Conv2DTranspose",
			config:  `{"name":"c","filters":1,"kernel_size":[1,1],"strides":[1,2],"padding":"valid","use_bias":false}`,
			inShape: Shape{-1, 1, 1, 2}, xShape: []int{1, 1, 1, 2}, x: []float32{1, 10},
			weights: [][]float32{{2, 3}},
			want:    []float32{32, 0}, shape: []int{1, 1, 2, 1},
		},
		{
			name: "2d channels_first same", class: "Conv2DTranspose",
			config:  `{"name":"c","filters":2,"kernel_size":[1,1],"strides":[2,1],"padding":"same","data_format":"channels_first","use_bias":true}`,
			inShape: Shape{-1, 1, 1, 1}, xShape: []int{1, 1, 1, 1}, x: []float32{3},
			weights: [][]float32{{1, 2}, {10, 20}},
			// k1 < s2: second row is the gap (bias only)
			want: []float32{13, 10, 26, 20}, shape: []int{1, 2, 2, 1},
		},
		{
			name: "3d valid", class: "Conv3DTranspose",
			config:  `{"name":"c","filters":1,"kernel_size":[2,1,1],"use_bias":false}`,
			inShape: Shape{-1, 2, 1, 1, 1}, xShape: []int{1, 2, 1, 1, 1}, x: []float32{1, 2},
			weights: [][]float32{{1, 10}},
			want:    []float32{1, 12, 20}, shape: []int{1, 3, 1, 1, 1},
		},
	})
}

func TestDepthwiseSeparable(t *testing.T) {
	convCheck(t, []convCase{
		{
			name: "depthwise2d multiplier 2", class: "DepthwiseConv2D",
			config:  `{"name":"d","kernel_size":1,"depth_multiplier":2,"use_bias":true}`,
			inShape: Shape{-1, 1, 1, 2}, xShape: []int{1, 1, 1, 2}, x: []float32{1, 10},
			// kernel[0,0,c,m]: c0 -> (1, 2), c1 -> (3, 4); output channel c*2+m
			weights: [][]float32{{1, 2, 3, 4}, {0, 0, 0, 1}},
			want:    []float32{1, 2, 30, 41}, shape: []int{1, 1, 1, 4},
		},
		{
			name: "depthwise2d spatial same", class: "DepthwiseConv2D",
			config:  `{"name":"d","kernel_size":[1,2],"padding":"same","use_bias":false}`,
			inShape: Shape{-1, 1, 2, 2}, xShape: []int{1, 1, 2, 2}, x: []float32{1, 10, 2, 20},
			// kernel[0,j,c,0]: (j0: c0=1, c1=2), (j1: c0=3, c1=4)
			weights: [][]float32{{1, 2, 3, 4}},
			want:    []float32{1 + 6, 20 + 80, 2, 40}, shape: []int{1, 1, 2, 2},
		},
		{
			name: "depthwise1d", class: "DepthwiseConv1D",
			config:  `{"name":"d","kernel_size":2,"depth_multiplier":1,"use_bias":false}`,
			inShape: Shape{-1, 3, 2}, xShape: []int{1, 3, 2}, x: []float32{1, 10, 2, 20, 3, 30},
			weights: [][]float32{{1, 2, 3, 4}},
			// c0: x0[t] + 3 x0[t+1]; c1: 2 x1[t] + 4 x1[t+1]
			want: []float32{7, 100, 11, 160}, shape: []int{1, 2, 2},
		},
		{
			name: "separable2d", class: "SeparableConv2D",
			config:  `{"name":"s","filters":2,"kernel_size":1,"depth_multiplier":1,"use_bias":true}`,
			inShape: Shape{-1, 1, 1, 2}, xShape: []int{1, 1, 1, 2}, x: []float32{1, 10},
			// depthwise (1,1,2,1) = (2, 3) -> (2, 30); pointwise (1,1,2,2): rows c, cols f
			weights: [][]float32{{2, 3}, {1, 0, 1, 1}, {1, 2}},
			want:    []float32{33, 32}, shape: []int{1, 1, 1, 2},
		},
		{
			name: "separable1d strided", class: "SeparableConv1D",
			config:  `{"name":"s","filters":1,"kernel_size":2,"strides":2,"depth_multiplier":1,"use_bias":false}`,
			inShape: Shape{-1, 4, 1}, xShape: []int{1, 4, 1}, x: []float32{1, 2, 3, 4},
			weights: [][]float32{{1, 10}, {2}},
			want:    []float32{42, 86}, shape: []int{1, 2, 1},
		},
	})
}

func TestConvConfigErrors(t *testing.T) {
	for _, c := range []struct{ class, config string }{
		{"Conv2D", `{"name":"c","filters":1,"kernel_size":[1,2,3]}`},
		{"Conv2D", `{"name":"c","filters":1,"kernel_size":3,"padding":"reflect"}`},
		{"Conv2D", `{"name":"c","filters":1,"kernel_size":3,"padding":"causal"}`},
		{"Conv2D", `{"name":"c","filters":1,"kernel_size":3,"data_format":"NCHW"}`},
		{"Conv2D", `{"name":"c","filters":1,"kernel_size":3,"activation":"my_act"}`},
		{"Conv2DTranspose", `{"name":"c","filters":1,"kernel_size":3,"strides":2,"output_padding":2}`},
	} {
		if _, err := New(c.class, json.RawMessage(c.config), &DecodeContext{}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s %s: error %v, want ErrUnsupported", c.class, c.config, err)
		}
	}
}

// A layer made in Go (not decoded) validates its config at Build.
func TestConvFromGo(t *testing.T) {
	l := NewConv("c", 1, ConvConfig{Filters: 1, KernelSize: convInts{2}, Padding: "causal", UseBias: new(bool)})
	out, err := l.Build([]Shape{{-1, 4, 1}})
	if err != nil || out[0].String() != "(None, 4, 1)" {
		t.Fatalf("Build: %v %v", out, err)
	}
	if len(l.Weights()) != 1 || l.Weights()[0].Value.Len() != 2 {
		t.Fatalf("weights %v", l.Weights())
	}
	p := NewPooling("p", 2, true, []int{2, 2}, nil, "same")
	out, err = p.Build([]Shape{{-1, 3, 3, 4}})
	if err != nil || out[0].String() != "(None, 2, 2, 4)" {
		t.Fatalf("pool Build: %v %v", out, err)
	}
	bad := NewConv("c", 2, ConvConfig{Filters: 1, KernelSize: convInts{1, 2, 3}})
	if _, err := bad.Build([]Shape{{-1, 4, 4, 1}}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("bad kernel_size: %v", err)
	}
}
