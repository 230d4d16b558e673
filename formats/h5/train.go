package h5

import (
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
)

// Load reads a Keras model file: a legacy HDF5 full model, a weights-only
// HDF5 file with opts.Arch, or a Keras 3 .keras archive (the format is
// taken from the content). The model's layers are built and every weight
// is assigned and shape-checked. Errors name the file and, where it
// applies, the layer, its class and the weight; files that are not Keras
// models give an error wrapping ErrNotKeras that says what the file is;
// layers kiln cannot run give an error wrapping layer.ErrUnsupported.
func Load(path string, opts Options) (*train.Model, error) {
	m, _, err := LoadInfo(path, opts)
	return m, err
}

// LoadInfo is Load that also describes the file (format, Keras version,
// backend).
func LoadInfo(path string, opts Options) (*train.Model, *Info, error) {
	m, info, err := load(path, opts, buildTrain)
	if err != nil {
		return nil, nil, err
	}
	return m.(*train.Model), info, nil
}

// LoadArch builds a model from an architecture JSON alone (weights stay
// zero), for inspecting a model_to_json() file.
func LoadArch(path string) (*train.Model, *Info, error) {
	b, kv, be, err := archJSON(path)
	if err != nil {
		return nil, nil, wrapPath(path, err)
	}
	info := &Info{Path: path, Format: "keras-json", KerasVersion: kv, Backend: be, Version: ParseVersion(kv, be)}
	m, err := train.FromKerasConfig(b, info.Version)
	if err != nil {
		return nil, nil, wrapPath(path, err)
	}
	return m, info, nil
}

func buildTrain(cfg []byte, v layer.Version) (kerasModel, error) {
	m, err := train.FromKerasConfig(cfg, v)
	if err != nil {
		return nil, err
	}
	return m, nil
}
