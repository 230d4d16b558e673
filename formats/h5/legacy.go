package h5

import (
	"fmt"
	"strings"

	"github.com/kiln-ml/kiln/train/layer"
	"gonum.org/v1/hdf5"
)

// fileLayer is one layer group of a legacy weights layout.
type fileLayer struct {
	name        string
	weightNames []string
}

// loadLegacyWeights assigns the weights of a legacy layout (model_weights
// of a full model, or the root of a save_weights file): the group's
// layer_names attribute lists layers; each layer group's weight_names lists
// dataset paths relative to it. As in Keras's loader, layers without
// weights are skipped on both sides and the remaining layers are paired in
// order; each layer's arrays are assigned in order. When every file layer
// name is also a model layer name, layers are paired by name instead, which
// gives the same pairing for files Keras wrote and is immune to a different
// listing order.
func loadLegacyWeights(g *hdf5.CommonFG, obj locID, m kerasModel, v layer.Version) error {
	names, err := readChunked(obj, "layer_names")
	if err != nil {
		return fmt.Errorf("layer_names: %w", err)
	}
	var file []fileLayer
	for _, name := range names {
		lg, err := g.OpenGroup(name)
		if err != nil {
			return fmt.Errorf("layer_names lists %q but there is no such group", name)
		}
		wn, err := readChunked(lg, "weight_names")
		lg.Close()
		if err != nil && err != errNoAttr {
			return fmt.Errorf("layer %q: weight_names: %w", name, err)
		}
		if len(wn) > 0 {
			file = append(file, fileLayer{name, wn})
		}
	}
	var model []layer.Layer
	byName := map[string]layer.Layer{}
	for _, l := range uniqueLayers(m.Layers()) {
		if hasWeights(l) {
			model = append(model, l)
			byName[l.Name()] = l
		}
	}
	pair := make([]layer.Layer, len(file))
	named := true
	for i, fl := range file {
		if pair[i] = byName[fl.name]; pair[i] == nil {
			named = false
		}
	}
	if !named || len(file) != len(model) {
		if len(file) != len(model) {
			return fmt.Errorf("the file holds weights for %d layers (%s) but the model has %d layers with weights (%s)", len(file), fileNames(file), len(model), layerNames(model))
		}
		copy(pair, model)
	}
	for i, fl := range file {
		if err := loadLegacyLayer(g, fl, pair[i], v); err != nil {
			return err
		}
	}
	return nil
}

func loadLegacyLayer(g *hdf5.CommonFG, fl fileLayer, l layer.Layer, v layer.Version) error {
	lg, err := g.OpenGroup(fl.name)
	if err != nil {
		return fmt.Errorf("layer %q: group cannot be opened", fl.name)
	}
	defer lg.Close()
	arrays := make([]*array, len(fl.weightNames))
	for i, wn := range fl.weightNames {
		a, err := readArray(&lg.CommonFG, wn)
		if err != nil {
			return fmt.Errorf("layer %q: weight %q: %w", fl.name, wn, err)
		}
		arrays[i] = a
	}
	target := legacyOrder(l)
	if v.Major <= 1 {
		if arrays, err = convertKeras1(l.Class(), arrays, target); err != nil {
			return fmt.Errorf("layer %q (%s): Keras 1 weights: %w", fl.name, l.Class(), err)
		}
	}
	if len(arrays) != len(target) {
		var want []string
		for _, t := range target {
			want = append(want, fmt.Sprintf("%s%v", t.w.Name, t.w.Shape))
		}
		return fmt.Errorf("layer %q (%s) in the file has %d weights (%s) but the model's layer %q expects %d (%s)", fl.name, l.Class(), len(arrays), strings.Join(fl.weightNames, ", "), l.Name(), len(target), strings.Join(want, ", "))
	}
	for i, t := range target {
		wn := ""
		if i < len(fl.weightNames) && len(fl.weightNames) == len(arrays) {
			wn = fl.weightNames[i]
		}
		where := fmt.Sprintf("layer %q (%s) weight %d %q", l.Name(), l.Class(), i, wn)
		if err := assign(t.w, arrays[i], where); err != nil {
			return err
		}
	}
	return nil
}

func fileNames(fs []fileLayer) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.name)
	}
	return short(strings.Join(s, ", "))
}

func layerNames(ls []layer.Layer) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.Name())
	}
	return short(strings.Join(s, ", "))
}

func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
