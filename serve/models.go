package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln"
)

// modelExts are the file names a model directory is searched for.
var modelExts = []string{".onnx", ".keras", ".h5"}

// ModelPaths resolves the models to serve: each spec is NAME=PATH, and
// dir, when not empty, adds every model found in it: a file NAME.onnx,
// NAME.keras or NAME.h5, or a subdirectory NAME holding exactly one such
// file (model.onnx, say). A name given twice is an error.
func ModelPaths(specs []string, dir string) (map[string]string, error) {
	paths := map[string]string{}
	add := func(name, path string) error {
		if prev, dup := paths[name]; dup {
			return fmt.Errorf("serve: model name %q given twice (%s and %s)", name, prev, path)
		}
		paths[name] = path
		return nil
	}
	for _, spec := range specs {
		name, path, ok := strings.Cut(spec, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("serve: --model %q: want NAME=PATH", spec)
		}
		if strings.ContainsAny(name, "/:") {
			return nil, fmt.Errorf("serve: --model %q: a model name may not contain '/' or ':'", spec)
		}
		if err := add(name, path); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("serve: --model-dir: %w", err)
		}
		for _, de := range entries {
			full := filepath.Join(dir, de.Name())
			if !de.IsDir() {
				if ext := filepath.Ext(de.Name()); hasModelExt(de.Name()) {
					if err := add(strings.TrimSuffix(de.Name(), ext), full); err != nil {
						return nil, err
					}
				}
				continue
			}
			sub, err := os.ReadDir(full)
			if err != nil {
				return nil, fmt.Errorf("serve: --model-dir: %w", err)
			}
			var found []string
			for _, f := range sub {
				if !f.IsDir() && hasModelExt(f.Name()) {
					found = append(found, filepath.Join(full, f.Name()))
				}
			}
			switch len(found) {
			case 0:
				continue
			case 1:
				if err := add(de.Name(), found[0]); err != nil {
					return nil, err
				}
			default:
				sort.Strings(found)
				return nil, fmt.Errorf("serve: --model-dir: %s holds %d model files (%s); keep one, or name each with --model NAME=PATH", full, len(found), strings.Join(found, ", "))
			}
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("serve: no models: give --model NAME=PATH or --model-dir DIR")
	}
	return paths, nil
}

func hasModelExt(name string) bool {
	for _, e := range modelExts {
		if strings.EqualFold(filepath.Ext(name), e) {
			return true
		}
	}
	return false
}

// LoadModels loads every model named in paths. On error the models
// already loaded are closed.
func LoadModels(paths map[string]string, opts kiln.Options) (map[string]*kiln.Model, error) {
	models := map[string]*kiln.Model{}
	names := make([]string, 0, len(paths))
	for name := range paths {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m, err := kiln.Load(paths[name], opts)
		if err != nil {
			for _, m := range models {
				m.Close()
			}
			return nil, fmt.Errorf("serve: model %q: %w", name, err)
		}
		models[name] = m
	}
	return models, nil
}
