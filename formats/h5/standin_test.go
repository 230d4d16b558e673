package h5

// A minimal stand-in for train.FromKerasConfig, enough to test the weight
// layouts on Dense-only models: it reads a Sequential or Functional config,
// keeps the layers in config order, and builds Dense layers from their
// units and the previous layer's width.

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/train/layer"
)

type fakeDense struct {
	layer.Base
	Units int `json:"units"`
}

func (d *fakeDense) Build(in []layer.Shape) ([]layer.Shape, error) {
	if !d.Built {
		d.AddWeight("kernel", []int{in[0][len(in[0])-1], d.Units}, true)
		d.AddWeight("bias", []int{d.Units}, true)
		d.Built = true
	}
	return []layer.Shape{{-1, d.Units}}, nil
}
func (d *fakeDense) Lower(b *layer.Builder, in []layer.Tensor) ([]layer.Tensor, error) {
	return in, nil
}

type fakeModel struct{ layers []layer.Layer }

func (m *fakeModel) Layers() []layer.Layer { return m.layers }

func standinBuild(cfg []byte, v layer.Version) (kerasModel, error) {
	var top struct {
		ClassName string `json:"class_name"`
		Config    json.RawMessage
	}
	if err := json.Unmarshal(cfg, &top); err != nil {
		return nil, err
	}
	var c struct {
		Layers []struct {
			ClassName string          `json:"class_name"`
			Config    json.RawMessage `json:"config"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(top.Config, &c); err != nil {
		return nil, err
	}
	m := &fakeModel{}
	width := -1
	for _, lc := range c.Layers {
		var shp struct {
			Batch []*int `json:"batch_input_shape"`
			B3    []*int `json:"batch_shape"`
		}
		json.Unmarshal(lc.Config, &shp)
		if s := append(shp.Batch, shp.B3...); len(s) > 0 && s[len(s)-1] != nil {
			width = *s[len(s)-1]
		}
		switch lc.ClassName {
		case "Dense":
			d := &fakeDense{}
			if err := json.Unmarshal(lc.Config, d); err != nil {
				return nil, err
			}
			d.ClassName = "Dense"
			d.Build([]layer.Shape{{-1, width}})
			width = d.Units
			m.layers = append(m.layers, d)
		case "InputLayer", "Dropout":
			d := &fakeDense{}
			json.Unmarshal(lc.Config, d)
			d.ClassName = lc.ClassName
			m.layers = append(m.layers, d)
		default:
			return nil, fmt.Errorf("stand-in: class %s: %w", lc.ClassName, layer.ErrUnsupported)
		}
	}
	return m, nil
}
