package h5

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/train/layer"
	"gonum.org/v1/hdf5"
)

// Options configure loading.
type Options struct {
	// Arch is the path of a Keras architecture JSON (model.to_json()). It is
	// required for weights-only .h5 files (model.save_weights) and replaces
	// the stored config of a full-model file.
	Arch string
	// MaxWeightsBytes bounds the decompressed model.weights.h5 of a .keras
	// archive (DefaultMaxWeightsBytes when 0).
	MaxWeightsBytes int64
}

// File formats reported in Info.Format.
const (
	FormatH5        = "keras-h5"         // legacy HDF5 full model (model.save("m.h5"))
	FormatH5Weights = "keras-h5-weights" // HDF5 weights only, architecture from Options.Arch
	FormatKeras     = "keras-zip"        // Keras 3 .keras archive
)

// Info describes the file a model came from.
type Info struct {
	Path   string
	Format string
	// KerasVersion is the keras_version the file records ("2.2.4-tf";
	// "" when absent, which Keras reads as 1.x).
	KerasVersion string
	// Backend is the backend the file records ("tensorflow", "theano";
	// "" when absent).
	Backend string
	// Version is what the layers are decoded with.
	Version layer.Version
	// TrainingConfig reports a stored training_config (optimizer, loss).
	TrainingConfig bool
	// CompileConfig is the stored compile settings as JSON: the legacy
	// .h5 root attribute training_config, or the top-level compile_config
	// of a .keras config.json; nil when the model was saved uncompiled.
	// train.Model.CompileFromConfig reads either.
	CompileConfig []byte
}

// ErrNotKeras is wrapped by errors for files that are not Keras models.
var ErrNotKeras = errors.New("not a Keras model file")

// kerasModel is what the loader needs from a built model (train.Model).
type kerasModel interface {
	Layers() []layer.Layer
}

// buildFunc builds a model with zero weights from a Keras model config.
type buildFunc func(config []byte, v layer.Version) (kerasModel, error)

// ParseVersion reads a keras_version string ("2.2.4-tf", "3.8.0"). An empty
// string is Keras 1, as Keras's own loader assumes.
func ParseVersion(s, backend string) layer.Version {
	v := layer.Version{Major: 1, Backend: backend}
	s = strings.TrimSpace(s)
	if s == "" {
		return v
	}
	parts := strings.SplitN(s, ".", 3)
	num := func(p string) (int, bool) {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(p[:end])
		return n, err == nil
	}
	if n, ok := num(parts[0]); ok {
		v.Major = n
	}
	if len(parts) > 1 {
		if n, ok := num(parts[1]); ok {
			v.Minor = n
		}
	}
	return v
}

// load opens path, detects its format and returns the model with its
// weights assigned.
func load(path string, opts Options, build buildFunc) (m kerasModel, info *Info, err error) {
	defer func() {
		// A bug in a layer must not take the process down with a file.
		if r := recover(); r != nil {
			m, info, err = nil, nil, fmt.Errorf("h5: %s: internal error while loading: %v", path, r)
		}
	}()
	k, head, err := sniffFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("h5: %w", err)
	}
	switch k {
	case kindHDF5:
		m, info, err = loadHDF5(path, opts, build)
	case kindZip:
		m, info, err = loadZip(path, opts, build)
	default:
		return nil, nil, fmt.Errorf("h5: %s is %s: %w", path, describe(k, head), ErrNotKeras)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("h5: %s: %w", path, err)
	}
	info.Path = path
	return m, info, nil
}

// archJSON reads an architecture JSON and the version fields
// model.to_json() writes beside the config.
func archJSON(path string) ([]byte, string, string, error) {
	k, head, err := sniffFile(path)
	if err != nil {
		return nil, "", "", fmt.Errorf("architecture: %w", err)
	}
	if k != kindJSON {
		return nil, "", "", fmt.Errorf("architecture %s is %s, not a Keras architecture JSON", path, describe(k, head))
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", "", err
	}
	if fi.Size() > maxConfigBytes {
		return nil, "", "", fmt.Errorf("architecture %s is larger than %d bytes", path, maxConfigBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", "", err
	}
	var hdr struct {
		KerasVersion string `json:"keras_version"`
		Backend      string `json:"backend"`
	}
	if err := json.Unmarshal(b, &hdr); err != nil {
		return nil, "", "", fmt.Errorf("architecture %s: %w", path, err)
	}
	return b, hdr.KerasVersion, hdr.Backend, nil
}

func loadHDF5(path string, opts Options, build buildFunc) (kerasModel, *Info, error) {
	lockH5()
	defer h5mu.Unlock()
	f, err := hdf5.OpenFile(path, hdf5.F_ACC_RDONLY)
	if err != nil {
		return nil, nil, fmt.Errorf("libhdf5 cannot open the file (truncated or corrupt HDF5?)")
	}
	defer f.Close()
	info := &Info{Format: FormatH5}
	info.KerasVersion, _ = readString(f, "keras_version")
	info.Backend, _ = readString(f, "backend")
	info.TrainingConfig = hasAttr(f, "training_config")
	if info.TrainingConfig {
		if s, err := readString(f, "training_config"); err == nil {
			info.CompileConfig = []byte(s)
		}
	}

	// Where the per-layer groups live: model_weights for full models, the
	// root for save_weights files.
	wg := &f.CommonFG
	var wobj locID = f
	if f.LinkExists("model_weights") {
		g, err := f.OpenGroup("model_weights")
		if err != nil {
			return nil, nil, fmt.Errorf("group model_weights cannot be opened")
		}
		defer g.Close()
		wg, wobj = &g.CommonFG, g
		if info.KerasVersion == "" {
			info.KerasVersion, _ = readString(g, "keras_version")
		}
		if info.Backend == "" {
			info.Backend, _ = readString(g, "backend")
		}
	}
	var config []byte
	switch {
	case opts.Arch != "":
		b, kv, be, err := archJSON(opts.Arch)
		if err != nil {
			return nil, nil, err
		}
		config = b
		if info.KerasVersion == "" {
			info.KerasVersion = kv
		}
		if info.Backend == "" {
			info.Backend = be
		}
		if !hasAttr(f, "model_config") {
			info.Format = FormatH5Weights
		}
	case hasAttr(f, "model_config"):
		s, err := readString(f, "model_config")
		if err != nil {
			return nil, nil, fmt.Errorf("model_config: %w", err)
		}
		config = []byte(s)
	case hasAttr(wobj, "layer_names") || hasAttr(wobj, "layer_names0"):
		return nil, nil, fmt.Errorf("this is a weights-only file (model.save_weights) with no architecture; give the model's architecture JSON with --arch / Options.Arch: %w", ErrNotKeras)
	default:
		gs, ds, _ := children(&f.CommonFG)
		what := strings.Join(append(gs, ds...), ", ")
		if len(what) > 200 {
			what = what[:200] + "..."
		}
		if f.LinkExists("layers") || f.LinkExists("vars") {
			return nil, nil, fmt.Errorf("this is a Keras 3 model.weights.h5 without its archive; load the .keras file it came from (or pass the config with --arch): %w", ErrNotKeras)
		}
		return nil, nil, fmt.Errorf("an HDF5 file that holds no Keras model (no model_config or layer_names attribute; top-level members: %s): %w", what, ErrNotKeras)
	}
	info.Version = ParseVersion(info.KerasVersion, info.Backend)
	if info.Format == FormatH5Weights || opts.Arch != "" || hasAttr(wobj, "layer_names") || hasAttr(wobj, "layer_names0") {
		m, err := build(config, info.Version)
		if err != nil {
			return nil, nil, err
		}
		if err := loadLegacyWeights(wg, wobj, m, info.Version); err != nil {
			return nil, nil, err
		}
		if err := loadLegacyOptimizer(f, m, info.Version.Major < 3); err != nil {
			return nil, nil, err
		}
		return m, info, nil
	}
	// A Keras 3 weights file handed over with its config.
	if f.LinkExists("layers") || f.LinkExists("_layer_checkpoint_dependencies") {
		m, err := build(config, info.Version)
		if err != nil {
			return nil, nil, err
		}
		return m, info, loadKeras3Weights(f, m)
	}
	return nil, nil, fmt.Errorf("model_config is present but there is no model_weights group with layer_names")
}

func loadZip(path string, opts Options, build buildFunc) (kerasModel, *Info, error) {
	zf, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer zf.Close()
	fi, err := zf.Stat()
	if err != nil {
		return nil, nil, err
	}
	kz, err := readKerasZip(zf, fi.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", err, ErrNotKeras)
	}
	info := &Info{Format: FormatKeras}
	if kz.Metadata != nil {
		var md struct {
			KerasVersion string `json:"keras_version"`
		}
		if err := json.Unmarshal(kz.Metadata, &md); err != nil {
			return nil, nil, fmt.Errorf("metadata.json: %w", err)
		}
		info.KerasVersion = md.KerasVersion
	}
	info.Version = ParseVersion(info.KerasVersion, "")
	if info.KerasVersion == "" {
		info.Version.Major = 3
	}
	config := kz.Config
	var top struct {
		CompileConfig json.RawMessage `json:"compile_config"`
	}
	if json.Unmarshal(config, &top) == nil && len(top.CompileConfig) > 0 && string(top.CompileConfig) != "null" {
		info.CompileConfig = top.CompileConfig
		info.TrainingConfig = true
	}
	if opts.Arch != "" {
		if config, _, _, err = archJSON(opts.Arch); err != nil {
			return nil, nil, err
		}
	}
	m, err := build(config, info.Version)
	if err != nil {
		return nil, nil, err
	}
	limit := opts.MaxWeightsBytes
	if limit <= 0 {
		limit = DefaultMaxWeightsBytes
	}
	tmp, err := os.CreateTemp("", "kiln-*.weights.h5")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(tmp.Name())
	err = kz.copyWeights(tmp, limit)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errNoWeights) {
		if len(allWeights(m)) == 0 {
			return m, info, nil
		}
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	lockH5()
	defer h5mu.Unlock()
	f, err := hdf5.OpenFile(tmp.Name(), hdf5.F_ACC_RDONLY)
	if err != nil {
		return nil, nil, fmt.Errorf("model.weights.h5 in the archive is not a readable HDF5 file")
	}
	defer f.Close()
	if err := loadKeras3Weights(f, m); err != nil {
		return nil, nil, err
	}
	if err := loadKeras3Optimizer(f, m); err != nil {
		return nil, nil, err
	}
	if err := loadKeras3OptimizerState(f, m); err != nil {
		return nil, nil, err
	}
	return m, info, nil
}

func wrapPath(path string, err error) error { return fmt.Errorf("h5: %s: %w", path, err) }
