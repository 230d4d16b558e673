//go:build cgo

package main

import (
	"github.com/kiln-ml/kiln/formats/h5"
	"github.com/kiln-ml/kiln/train"
)

func init() {
	loadKeras = func(path string) (*train.Model, []byte, error) {
		m, info, err := h5.LoadInfo(path, h5.Options{})
		if err != nil {
			return nil, nil, err
		}
		return m, info.CompileConfig, nil
	}
	saveKeras = func(m *train.Model, path string) error { return h5.Save(m, path, h5.SaveOptions{}) }
}
