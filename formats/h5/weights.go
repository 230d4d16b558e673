package h5

import (
	"fmt"
	"slices"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train/layer"
)

// container is a layer that holds layers (a nested Sequential or
// Functional model).
type container interface {
	Layers() []layer.Layer
}

// uniqueLayers drops repeats of shared layers, keeping first appearances.
func uniqueLayers(ls []layer.Layer) []layer.Layer {
	seen := map[layer.Layer]bool{}
	var out []layer.Layer
	for _, l := range ls {
		if l == nil || seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	return out
}

// flatWeight is a weight with the trainability Keras gives it inside its
// model (a frozen layer's weights are all non-trainable).
type flatWeight struct {
	w         *layer.Weight
	trainable bool
	owner     layer.Layer
}

func flatten(l layer.Layer, trainable bool, out []flatWeight) []flatWeight {
	trainable = trainable && layer.BaseOf(l).Trainable()
	if c, ok := l.(container); ok {
		for _, s := range uniqueLayers(c.Layers()) {
			out = flatten(s, trainable, out)
		}
		return out
	}
	for _, w := range l.Weights() {
		out = append(out, flatWeight{w, trainable && w.Trainable, l})
	}
	return out
}

// legacyOrder lists a layer's weights in the order legacy HDF5 files store
// them: trainable weights first, then non-trainable ones, each in layer
// order (Keras's layer.weights of Keras 1/2, kept as _legacy_weights by
// tf.keras and Keras 3's legacy saving).
func legacyOrder(l layer.Layer) []flatWeight {
	all := flatten(l, true, nil)
	var out []flatWeight
	for _, fw := range all {
		if fw.trainable {
			out = append(out, fw)
		}
	}
	for _, fw := range all {
		if !fw.trainable {
			out = append(out, fw)
		}
	}
	return out
}

// allWeights lists every weight of a model.
func allWeights(m kerasModel) []flatWeight {
	var out []flatWeight
	for _, l := range uniqueLayers(m.Layers()) {
		out = flatten(l, true, out)
	}
	return out
}

// hasWeights reports whether a layer has any weights.
func hasWeights(l layer.Layer) bool { return len(flatten(l, true, nil)) > 0 }

// assign copies a read array into a layer weight after checking its shape.
func assign(w *layer.Weight, a *array, where string) error {
	if !slices.Equal(w.Shape, a.Shape) {
		return fmt.Errorf("%s: the file holds shape %v but the layer built %q with shape %v (the architecture does not match the weights)", where, a.Shape, w.Name, w.Shape)
	}
	if w.Value != nil && w.Value.DType() == tensor.Float32 && w.Value.Len() == len(a.Data) {
		copy(w.Value.F32(), a.Data)
		return nil
	}
	dt := tensor.Float32
	if w.Value != nil {
		dt = w.Value.DType()
	}
	if dt == tensor.Float32 {
		w.Value = tensor.From(tensor.Shape(slices.Clone(a.Shape)), slices.Clone(a.Data))
		return nil
	}
	f64 := make([]float64, len(a.Data))
	for i, v := range a.Data {
		f64[i] = float64(v)
	}
	w.Value = tensor.FromFloat64s(dt, tensor.Shape(slices.Clone(a.Shape)), f64)
	return nil
}
