package train

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/train/layer"
)

// kt is a Keras 3 __keras_tensor__ reference.
func kt(name string, node int) string {
	return fmt.Sprintf(`{"class_name": "__keras_tensor__", "config": {"shape": null, "dtype": "float32", "keras_history": [%q, %d, 0]}}`, name, node)
}

func k3layer(class, name, cfg string, args ...string) string {
	nodes := "[]"
	if len(args) > 0 {
		a := args[0]
		if len(args) > 1 {
			a = "[" + strings.Join(args, ", ") + "]"
		}
		nodes = `[{"args": [` + a + `], "kwargs": {}}]`
	}
	return fmt.Sprintf(`{"module": "keras.layers", "class_name": %q, "config": {"name": %q, "trainable": true, %s}, "registered_name": null, "name": %q, "inbound_nodes": %s}`, class, name, cfg, name, nodes)
}

func conv(name string, filters int, padding, from string) string {
	return k3layer("Conv2D", name, fmt.Sprintf(`"filters": %d, "kernel_size": [3, 3], "strides": [1, 1], "padding": %q, "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true`, filters, padding), kt(from, 0))
}

// toyResNet is the "toy ResNet" of the Keras functional API guide
// (keras.io/guides/functional_api), written as Keras 3 saves it.
func toyResNet() string {
	layers := []string{
		`{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 32, 32, 3], "dtype": "float32", "sparse": false, "name": "img"}, "registered_name": null, "name": "img", "inbound_nodes": []}`,
		conv("conv2d_8", 32, "valid", "img"),
		conv("conv2d_9", 64, "valid", "conv2d_8"),
		k3layer("MaxPooling2D", "max_pooling2d_2", `"pool_size": [3, 3], "padding": "valid", "strides": [3, 3], "data_format": "channels_last"`, kt("conv2d_9", 0)),
		conv("conv2d_10", 64, "same", "max_pooling2d_2"),
		conv("conv2d_11", 64, "same", "conv2d_10"),
		k3layer("Add", "add", `"dtype": "float32"`, kt("conv2d_11", 0), kt("max_pooling2d_2", 0)),
		conv("conv2d_12", 64, "same", "add"),
		conv("conv2d_13", 64, "same", "conv2d_12"),
		k3layer("Add", "add_1", `"dtype": "float32"`, kt("conv2d_13", 0), kt("add", 0)),
		conv("conv2d_14", 64, "valid", "add_1"),
		k3layer("GlobalAveragePooling2D", "global_average_pooling2d", `"data_format": "channels_last", "keepdims": false`, kt("conv2d_14", 0)),
		k3layer("Dense", "dense_6", `"units": 256, "activation": "relu", "use_bias": true`, kt("global_average_pooling2d", 0)),
		k3layer("Dropout", "dropout", `"rate": 0.5, "seed": null, "noise_shape": null`, kt("dense_6", 0)),
		k3layer("Dense", "dense_7", `"units": 10, "activation": "linear", "use_bias": true`, kt("dropout", 0)),
	}
	return `{"module": "keras.src.models.functional", "class_name": "Functional", "config": {"name": "toy_resnet", "trainable": true, "layers": [` +
		strings.Join(layers, ",\n") + `], "input_layers": [["img", 0, 0]], "output_layers": [["dense_7", 0, 0]]}, "registered_name": "Functional"}`
}

// The expected text is Keras 3's own output for this model, as printed in
// the functional API guide.
const toyResNetSummary = `Model: "toy_resnet"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ img (InputLayer)    │ (None, 32, 32, 3) │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ conv2d_8 (Conv2D)   │ (None, 30, 30,    │        896 │ img[0][0]         │
│                     │ 32)               │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ conv2d_9 (Conv2D)   │ (None, 28, 28,    │     18,496 │ conv2d_8[0][0]    │
│                     │ 64)               │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ max_pooling2d_2     │ (None, 9, 9, 64)  │          0 │ conv2d_9[0][0]    │
│ (MaxPooling2D)      │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ conv2d_10 (Conv2D)  │ (None, 9, 9, 64)  │     36,928 │ max_pooling2d_2[… │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ conv2d_11 (Conv2D)  │ (None, 9, 9, 64)  │     36,928 │ conv2d_10[0][0]   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ add (Add)           │ (None, 9, 9, 64)  │          0 │ conv2d_11[0][0],  │
│                     │                   │            │ max_pooling2d_2[… │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ conv2d_12 (Conv2D)  │ (None, 9, 9, 64)  │     36,928 │ add[0][0]         │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ conv2d_13 (Conv2D)  │ (None, 9, 9, 64)  │     36,928 │ conv2d_12[0][0]   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ add_1 (Add)         │ (None, 9, 9, 64)  │          0 │ conv2d_13[0][0],  │
│                     │                   │            │ add[0][0]         │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ conv2d_14 (Conv2D)  │ (None, 7, 7, 64)  │     36,928 │ add_1[0][0]       │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ global_average_poo… │ (None, 64)        │          0 │ conv2d_14[0][0]   │
│ (GlobalAveragePool… │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense_6 (Dense)     │ (None, 256)       │     16,640 │ global_average_p… │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dropout (Dropout)   │ (None, 256)       │          0 │ dense_6[0][0]     │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense_7 (Dense)     │ (None, 10)        │      2,570 │ dropout[0][0]     │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 223,242 (872.04 KB)
 Trainable params: 223,242 (872.04 KB)
 Non-trainable params: 0 (0.00 B)
`

// The table is Keras 3's output for a Sequential model of a Rescaling and
// three Dense layers (784 -> 300 -> 100 -> 10), as printed by Keras.
const mlpSummary = `Model: "mlp"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ scale_to_0_1_range (Rescaling)  │ (None, 784)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ hidden_1 (Dense)                │ (None, 300)            │       235,500 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ hidden_2 (Dense)                │ (None, 100)            │        30,100 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ output (Dense)                  │ (None, 10)             │         1,010 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 266,610 (1.02 MB)
 Trainable params: 266,610 (1.02 MB)
 Non-trainable params: 0 (0.00 B)
`

const mlpConfig = `{"module": "keras", "class_name": "Sequential", "config": {"name": "mlp", "trainable": true, "layers": [
 {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 784], "dtype": "float32", "sparse": false, "name": "input_layer"}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Rescaling", "config": {"name": "scale_to_0_1_range", "trainable": true, "scale": 0.00392156862745098, "offset": 0.0}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Dense", "config": {"name": "hidden_1", "trainable": true, "units": 300, "activation": "relu", "use_bias": true}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Dense", "config": {"name": "hidden_2", "trainable": true, "units": 100, "activation": "relu", "use_bias": true}, "registered_name": null},
 {"module": "keras.layers", "class_name": "Dense", "config": {"name": "output", "trainable": true, "units": 10, "activation": "softmax", "use_bias": true}, "registered_name": null}]}}`

func TestSummaryMatchesKeras(t *testing.T) {
	for _, c := range []struct{ name, cfg, want string }{
		{"functional", toyResNet(), toyResNetSummary},
		{"sequential", mlpConfig, mlpSummary},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := mustModel(t, c.cfg, layer.Version{Major: 3, Minor: 8})
			var sb strings.Builder
			if err := m.Summary(&sb); err != nil {
				t.Fatal(err)
			}
			if got := sb.String(); got != c.want {
				t.Errorf("summary differs from Keras's.\ngot:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

// A hand-derived summary: a chain-shaped functional model prints without
// "Connected to" and lists its InputLayer; frozen and non-trainable weights
// count as non-trainable; a nested model is one row with all its params.
func TestSummaryRules(t *testing.T) {
	cfg := `{"class_name": "Functional", "config": {"name": "chain", "layers": [
 {"class_name": "InputLayer", "config": {"batch_shape": [null, 8], "name": "input_layer"}, "name": "input_layer", "inbound_nodes": []},
 {"class_name": "KilnTestNorm", "config": {"name": "norm"}, "name": "norm", "inbound_nodes": [{"args": [` + kt("input_layer", 0) + `], "kwargs": {}}]},
 {"class_name": "KilnTestDense", "config": {"name": "frozen", "units": 4, "trainable": false}, "name": "frozen", "inbound_nodes": [{"args": [` + kt("norm", 0) + `], "kwargs": {}}]},
 {"class_name": "Sequential", "config": {"name": "head", "layers": [
   {"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "head_in"}},
   {"class_name": "KilnTestDense", "config": {"name": "d", "units": 2}}]},
  "name": "head", "inbound_nodes": [{"args": [` + kt("frozen", 0) + `], "kwargs": {}}]}],
 "input_layers": [["input_layer", 0, 0]], "output_layers": [["head", 0, 0]]}}`
	m := mustModel(t, cfg, layer.Version{Major: 3})
	var sb strings.Builder
	if err := m.Summary(&sb); err != nil {
		t.Fatal(err)
	}
	// norm: 8 gamma (trainable) + 8 moving_mean; frozen: 8*4+4 = 36;
	// head: 4*2+2 = 10. Trainable 8+10 = 18 (72 B), non-trainable 8+36 =
	// 44 (176 B), total 62 (248 B).
	want := `Model: "chain"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ input_layer (InputLayer)        │ (None, 8)              │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ norm (KilnTestNorm)             │ (None, 8)              │            16 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ frozen (KilnTestDense)          │ (None, 4)              │            36 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ head (Sequential)               │ (None, 2)              │            10 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 62 (248.00 B)
 Trainable params: 18 (72.00 B)
 Non-trainable params: 44 (176.00 B)
`
	if got := sb.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestColumnWidths(t *testing.T) {
	// rich fits Keras's columns into the table width: at 76 columns the
	// Sequential table's segments are 33/24/15, the functional one's
	// 21/19/12/19, and the Sequential one at 88 is 38/29/17 (all three as
	// in summaries Keras printed); the functional one at 108 follows the
	// same rule: 31/27/17/28.
	for _, c := range []struct {
		pos  []float64
		n    int
		want []int
	}{
		{[]float64{0.45, 0.80, 1.0}, 76, []int{33, 24, 15}},
		{[]float64{0.3, 0.56, 0.74, 1.0}, 76, []int{21, 19, 12, 19}},
		{[]float64{0.45, 0.80, 1.0}, 88, []int{38, 29, 17}},
		{[]float64{0.3, 0.56, 0.74, 1.0}, 108, []int{31, 27, 17, 28}},
	} {
		got, err := columnWidths(c.pos, c.n)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("columnWidths(%v, %d) = %v, %v; want %v", c.pos, c.n, got, err, c.want)
		}
	}
}

func TestReadableSize(t *testing.T) {
	for b, want := range map[float64]string{0: "0.00 B", 11048: "10.79 KB", 1066440: "1.02 MB", 1023: "1023.00 B", 1024: "1.00 KB"} {
		if got := readableSize(b); got != want {
			t.Errorf("readableSize(%v) = %q, want %q", b, got, want)
		}
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 223242: "223,242", 10783535: "10,783,535"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}

// A model stored with its optimizer state adds an "Optimizer params" line
// and counts it in the total, as Keras does for a compiled model.
func TestSummaryOptimizerParams(t *testing.T) {
	m := mustModel(t, mlpConfig, layer.Version{Major: 3})
	// Adam over 266,610 weights: 2 scalars (int64 + float32) + 2 slots each.
	m.SetOptimizerParams(&OptimizerParams{Count: 2 + 2*266610, Bytes: 8 + 4 + 8*266610})
	var sb strings.Builder
	if err := m.Summary(&sb); err != nil {
		t.Fatal(err)
	}
	want := " Total params: 799,832 (3.05 MB)\n Trainable params: 266,610 (1.02 MB)\n Non-trainable params: 0 (0.00 B)\n Optimizer params: 533,222 (2.03 MB)\n"
	if got := sb.String(); !strings.HasSuffix(got, want) {
		t.Errorf("footer:\n%s\nwant:\n%s", got[strings.LastIndex(got, "┘")+4:], want)
	}
}
