package h5

import (
	"path/filepath"
	"strings"
	"testing"
)

// The expected tables below were derived by hand from Keras 3's
// model.summary() rules (keras/src/utils/summary_utils.py, rendered by rich
// at the non-terminal line length 76), not from kiln's output:
//
//   - Sequential models list their layers without the InputLayer and use
//     the columns at 0.45/0.80/1.0 of the line; a functional model that is
//     not a plain chain adds "Connected to" (0.3/0.56/0.74/1.0), lists its
//     layers by decreasing depth from the outputs, and shows each call's
//     input tensors as name[node][tensor];
//   - cells wrap at word boundaries, a word longer than the cell is cut
//     with "…";
//   - Param # is the layer's count_params(); an op such as GetItem has none;
//   - the footer adds the optimizer's variables for a compiled model loaded
//     with its optimizer (Adam: iterations int64 and learning_rate float32
//     scalars, then m and v per trainable weight), sizes in 1024 steps.
//
// lstm_model.keras: LSTM(64) on (2, 1): kernel 1x256 + recurrent 64x256 +
// bias 256 = 16,896; LSTM(64) on 64 features: 64x256 + 64x256 + 256 =
// 33,024; Dense(128): 64x128 + 128 = 8,320; Dense(4): 128x4 + 4 = 516.
// Trainable 58,756 (235,024 B = 229.52 KB); Adam: 2 + 2x58,756 = 117,514
// scalars, 8 + 4 + 470,048 B = 459.04 KB; total 176,270 (688.56 KB).
const lstmModelSummary = `Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ lstm (LSTM)                     │ (None, 2, 64)          │        16,896 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ lstm_1 (LSTM)                   │ (None, 64)             │        33,024 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_2 (Dense)                 │ (None, 128)            │         8,320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout_1 (Dropout)             │ (None, 128)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_3 (Dense)                 │ (None, 4)              │           516 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 176,270 (688.56 KB)
 Trainable params: 58,756 (229.52 KB)
 Non-trainable params: 0 (0.00 B)
 Optimizer params: 117,514 (459.04 KB)
`

// transformer_model.keras (asmaalrifai): input (1, 23); MultiHeadAttention
// with 4 heads of key_dim = value_dim = 64 called as mha(x, x): query, key
// and value each 23x4x64 + 4x64 = 6,144, output 4x64x23 + 23 = 5,911, so
// 24,343; LayerNormalization 2x23 = 46; Dense(128) 23x128 + 128 = 3,072;
// Dense(23) 128x23 + 23 = 2,967; Dense(1) 23 + 1 = 24; GetItem x[:, -1, :]
// turns (None, 1, 1) into (None, 1). Trainable 30,498 (121,992 B = 119.13
// KB); Adam 2 + 2x30,498 = 60,998 (243,996 B = 238.28 KB); total 91,496
// (357.41 KB).
const transformerSummary = `Model: "functional"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ input_layer         │ (None, 1, 23)     │          0 │ -                 │
│ (InputLayer)        │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ multi_head_attenti… │ (None, 1, 23)     │     24,343 │ input_layer[0][0… │
│ (MultiHeadAttentio… │                   │            │ input_layer[0][0] │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dropout_1 (Dropout) │ (None, 1, 23)     │          0 │ multi_head_atten… │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ add (Add)           │ (None, 1, 23)     │          0 │ dropout_1[0][0],  │
│                     │                   │            │ input_layer[0][0] │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ layer_normalization │ (None, 1, 23)     │         46 │ add[0][0]         │
│ (LayerNormalizatio… │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense (Dense)       │ (None, 1, 128)    │      3,072 │ layer_normalizat… │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dropout_2 (Dropout) │ (None, 1, 128)    │          0 │ dense[0][0]       │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense_1 (Dense)     │ (None, 1, 23)     │      2,967 │ dropout_2[0][0]   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ add_1 (Add)         │ (None, 1, 23)     │          0 │ dense_1[0][0],    │
│                     │                   │            │ layer_normalizat… │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ layer_normalizatio… │ (None, 1, 23)     │         46 │ add_1[0][0]       │
│ (LayerNormalizatio… │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense_2 (Dense)     │ (None, 1, 1)      │         24 │ layer_normalizat… │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ get_item (GetItem)  │ (None, 1)         │          0 │ dense_2[0][0]     │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 91,496 (357.41 KB)
 Trainable params: 30,498 (119.13 KB)
 Non-trainable params: 0 (0.00 B)
 Optimizer params: 60,998 (238.28 KB)
`

func TestSummaryOfCorpusModels(t *testing.T) {
	dir := corpusDir(t)
	for _, c := range []struct{ file, want string }{
		{"MohandHAMADOUCHE-Student_project_ResNet_vs_LSTM/lstm_model.keras", lstmModelSummary},
		{"asmaalrifai-TensorFlow/transformer_model.keras", transformerSummary},
	} {
		m, err := Load(filepath.Join(dir, c.file), Options{})
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		var sb strings.Builder
		if err := m.Summary(&sb); err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if got := sb.String(); got != c.want {
			t.Errorf("%s: summary differs from Keras's\ngot:\n%s\nwant:\n%s", c.file, got, c.want)
		}
	}
}
