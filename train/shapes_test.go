package train

import (
	"slices"
	"testing"

	"github.com/kiln-ml/kiln/train/layer"
)

// A model that declares a free time axis on one input but concatenates it
// with a fixed-length one (as DL4J's model_concat_embedding_sequences does):
// only length 10 runs, and Keras's shape rules say so.
const tiedInputs = `{"class_name": "Model", "keras_version": "2.1.3", "config": {"name": "m", "layers": [
 {"class_name": "InputLayer", "name": "a", "config": {"name": "a", "batch_input_shape": [null, 10, 4], "dtype": "float32"}, "inbound_nodes": []},
 {"class_name": "InputLayer", "name": "b", "config": {"name": "b", "batch_input_shape": [null, null, 6], "dtype": "float"}, "inbound_nodes": []},
 {"class_name": "InputLayer", "name": "c", "config": {"name": "c", "batch_input_shape": [null, null], "dtype": "float32"}, "inbound_nodes": []},
 {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat", "axis": -1}, "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]]}],
 "input_layers": [["a", 0, 0], ["b", 0, 0], ["c", 0, 0]], "output_layers": [["cat", 0, 0], ["c", 0, 0]]}}`

func TestConcreteInputShapes(t *testing.T) {
	m := mustModel(t, tiedInputs, layer.Version{})
	got, err := m.ConcreteInputShapes(2, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := []layer.Shape{{2, 10, 4}, {2, 10, 6}, {2, 16}}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("input %d: got %v, want %v", i, got[i], want[i])
		}
	}
	// The declared shapes are untouched.
	if s := m.InputShapes()[1]; !slices.Equal(s, layer.Shape{-1, -1, 6}) {
		t.Errorf("InputShapes changed: %v", s)
	}
	if s := m.OutputShapes()[0]; !slices.Equal(s, layer.Shape{-1, 10, 10}) {
		t.Errorf("OutputShapes: %v", s)
	}
}
