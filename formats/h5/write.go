package h5

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
)

// SaveOptions configure SaveH5 and SaveKeras.
type SaveOptions struct {
	// Dialect is the dialect of the model config written to a .h5 file
	// (train.Keras2 or train.Keras3; 0 means the dialect the model was
	// read from, Keras 3 for models built in Go). A .keras archive is
	// always Keras 3.
	Dialect train.Dialect
	// KerasVersion is written as keras_version. Empty means the version
	// the model was read from when the dialect is unchanged, else
	// DefaultKeras2Version or DefaultKeras3Version.
	KerasVersion string
	// Backend is written as backend in .h5 files ("tensorflow" when empty
	// and the model records none).
	Backend string
	// TrainingConfig is the compile settings as JSON, written as the
	// training_config attribute of a .h5 file and as compile_config in a
	// .keras config.json; nil writes an uncompiled model.
	TrainingConfig []byte
	// Date is the date_saved of a .keras archive's metadata.json (now
	// when zero).
	Date time.Time
	// ExcludeOptimizer leaves the optimizer state of a compiled model out
	// (Keras's include_optimizer=False). By default a compiled model is
	// saved with its compile settings (TrainingConfig, when not given,
	// comes from Model.CompileConfig) and its optimizer variables: the
	// optimizer_weights group of a .h5 file, optimizer/vars of a .keras
	// archive. Load restores them at the next Compile.
	ExcludeOptimizer bool
}

// Versions written when the model's own version does not apply.
const (
	DefaultKeras2Version = "2.13.1"
	DefaultKeras3Version = "3.6.0"
)

// ErrTheano is wrapped by save errors for models whose convolution kernels
// are stored as the Theano backend stores them, which only a Keras 2 file
// that records the theano backend can carry.
var ErrTheano = errors.New("model weights are in the Theano backend's kernel orientation")

// Save writes the model as a legacy .h5 (extension .h5 or .hdf5) or a
// Keras 3 .keras archive (.keras), chosen by the extension of path.
func Save(m *train.Model, path string, opts SaveOptions) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".h5", ".hdf5":
		return SaveH5(m, path, opts)
	case ".keras":
		return SaveKeras(m, path, opts)
	}
	return fmt.Errorf("h5: %s: unknown extension; want .h5, .hdf5 or .keras", path)
}

// resolve picks dialect and version strings.
func (o SaveOptions) resolve(m *train.Model, forceKeras3 bool) (train.Dialect, string, string, error) {
	d := o.Dialect
	if forceKeras3 {
		d = train.Keras3
	}
	if d == 0 {
		d = m.NativeDialect()
	}
	v := m.Version()
	kv := o.KerasVersion
	if kv == "" {
		switch {
		case v.Major > 0 && d == m.NativeDialect() && (d == train.Keras3) == (v.Major >= 3):
			kv = fmt.Sprintf("%d.%d.0", v.Major, v.Minor)
		case d == train.Keras3:
			kv = DefaultKeras3Version
		default:
			kv = DefaultKeras2Version
		}
	}
	be := o.Backend
	if be == "" {
		be = v.Backend
	}
	if be == "" {
		be = "tensorflow"
	}
	if v.Backend == "theano" && (be != "theano" || d == train.Keras3 || forceKeras3) {
		return 0, "", "", fmt.Errorf("the model was saved by Keras with the theano backend; it can only be written as a Keras 2 .h5 that records that backend: %w", ErrTheano)
	}
	return d, kv, be, nil
}

// SaveH5 writes the model as Keras writes model.save("m.h5"): root
// attributes keras_version, backend, model_config (the JSON config in the
// chosen dialect) and, when opts.TrainingConfig is set, training_config; a
// group model_weights with attributes layer_names, backend and
// keras_version; one group per layer (every layer, weights or not) with
// attribute weight_names listing "<layer>/<weight>:0" paths relative to
// the group, and the datasets at those paths, trainable weights first as
// Keras's legacy saving orders them.
//
// String attributes follow the h5py of the Keras that the version stands
// for: variable-length strings throughout, and a top_level_model_weights
// group, for Keras >= 2.11 and Keras 3; for older Keras 2 versions the
// name lists are fixed-length null-padded byte strings, as h5py 2 wrote
// numpy bytes arrays. The file is written to a temporary name and renamed,
// so a failed save leaves no partial file.
func SaveH5(m *train.Model, path string, opts SaveOptions) error {
	d, kv, be, err := opts.resolve(m, false)
	if err != nil {
		return wrapPath(path, err)
	}
	cfg, err := m.KerasConfig(d)
	if err != nil {
		return wrapPath(path, err)
	}
	cs, err := opts.compiled(m, d, true)
	if err != nil {
		return wrapPath(path, err)
	}
	tmp := path + ".tmp"
	if err := writeH5(tmp, m, cfg, kv, be, cs, d); err != nil {
		os.Remove(tmp)
		return wrapPath(path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return wrapPath(path, err)
	}
	return nil
}

func modernH5(kv string) bool {
	v := ParseVersion(kv, "")
	return v.Major >= 3 || (v.Major == 2 && v.Minor >= 11)
}

func writeH5(path string, m *train.Model, cfg []byte, kv, be string, cs *compiledState, d train.Dialect) error {
	lockH5()
	defer h5mu.Unlock()
	f, err := createH5(path)
	if err != nil {
		return err
	}
	err = writeH5Body(f, m, cfg, kv, be, cs, d)
	if cerr := f.close(); err == nil {
		err = cerr
	}
	return err
}

func writeH5Body(f *wfile, m *train.Model, cfg []byte, kv, be string, cs *compiledState, d train.Dialect) error {
	training := cs.training
	modern := modernH5(kv)
	root := f.root()
	// tf.keras ("2.2.4-tf", 2.11+) and Keras 3 write these two as UTF-8
	// strings, standalone Keras 2 as ASCII ones.
	vlenUTF8 := strLayout{utf8: modern || strings.Contains(kv, "tf"), scalar: true}
	vlenASCII := strLayout{scalar: true}
	list := strLayout{fixed: !modern}
	if err := root.strAttr("backend", []string{be}, vlenUTF8); err != nil {
		return err
	}
	if err := root.strAttr("keras_version", []string{kv}, vlenUTF8); err != nil {
		return err
	}
	if err := root.strAttr("model_config", []string{string(cfg)}, vlenASCII); err != nil {
		return err
	}
	if len(training) > 0 {
		if err := root.strAttr("training_config", []string{string(training)}, vlenASCII); err != nil {
			return err
		}
	}
	mw, err := root.group("model_weights")
	if err != nil {
		return err
	}
	defer mw.close()
	if err := mw.strAttr("backend", []string{be}, vlenASCII); err != nil {
		return err
	}
	if err := mw.strAttr("keras_version", []string{kv}, vlenASCII); err != nil {
		return err
	}
	layers := uniqueLayers(m.Layers())
	var names []string
	for _, l := range layers {
		names = append(names, l.Name())
	}
	if err := writeNameList(mw, "layer_names", names, list); err != nil {
		return err
	}
	for _, l := range layers {
		if err := writeLegacyLayer(mw, l, list); err != nil {
			return fmt.Errorf("layer %q (%s): %w", l.Name(), l.Class(), err)
		}
	}
	if modern {
		tg, err := mw.group("top_level_model_weights")
		if err != nil {
			return err
		}
		defer tg.close()
		if err := tg.emptyAttr("weight_names"); err != nil {
			return err
		}
	}
	return writeLegacyOptimizer(root, cs, d, list)
}

// writeNameList writes a list attribute, chunked as Keras does when it
// would not fit the 64 KB object header, and as an empty float64 array
// when the list is empty (h5py's np.array([])).
func writeNameList(g *wgroup, name string, ss []string, lay strLayout) error {
	if len(ss) == 0 {
		return g.emptyAttr(name)
	}
	size := 0
	for _, s := range ss {
		size += len(s) + 16
	}
	const limit = 64000
	if size <= limit {
		return g.strAttr(name, ss, lay)
	}
	chunks := size/limit + 1
	per := (len(ss) + chunks - 1) / chunks
	for i := 0; i*per < len(ss); i++ {
		end := min(len(ss), (i+1)*per)
		if err := g.strAttr(fmt.Sprintf("%s%d", name, i), ss[i*per:end], lay); err != nil {
			return err
		}
	}
	return nil
}

// legacyWeightNames gives each weight of a layer its "<layer>/<scope>/<name>:0"
// path, unique within the layer's group: the scope comes from the weight's
// Keras 3 path ("forward_layer/cell/vars/0" -> "forward_layer/cell").
func legacyWeightNames(l layer.Layer, ws []flatWeight) []string {
	used := map[string]bool{}
	out := make([]string, len(ws))
	for i, fw := range ws {
		parts := []string{l.Name()}
		if fw.owner != nil && fw.owner != l {
			parts = append(parts, fw.owner.Name())
		}
		if p := fw.w.Path; p != "" {
			if j := strings.LastIndex(p, "vars/"); j > 0 {
				parts = append(parts, strings.Trim(p[:j], "/"))
			}
		}
		base := strings.Join(parts, "/") + "/" + fw.w.Name
		name := base + ":0"
		for k := 1; used[name]; k++ {
			name = fmt.Sprintf("%s_%d:0", base, k)
		}
		used[name] = true
		out[i] = name
	}
	return out
}

func writeLegacyLayer(mw *wgroup, l layer.Layer, list strLayout) error {
	g, err := mw.group(l.Name())
	if err != nil {
		return err
	}
	defer g.close()
	ws := legacyOrder(l)
	names := legacyWeightNames(l, ws)
	if err := writeNameList(g, "weight_names", names, list); err != nil {
		return err
	}
	for i, fw := range ws {
		if err := writeWeight(g, names[i], fw.w); err != nil {
			return err
		}
	}
	return nil
}

// writeWeight writes one weight in its dtype (float32, float64, int64 for
// integer weights; other floats as float32).
func writeWeight(g *wgroup, name string, w *layer.Weight) error {
	shape := w.Shape
	if w.Value == nil {
		return fmt.Errorf("weight %s has no value (the layer is not built)", w.Name)
	}
	if !tensor.Shape(shape).Equal(w.Value.Shape()) {
		shape = w.Value.Shape()
	}
	switch dt := w.Value.DType(); {
	case dt == tensor.Float32:
		return g.float32s(name, shape, w.Value.F32())
	case dt == tensor.Float64:
		return g.float64s(name, shape, w.Value.F64())
	case dt.IsFloat():
		f := w.Value.Float64s()
		out := make([]float32, len(f))
		for i, v := range f {
			out[i] = float32(v)
		}
		return g.float32s(name, shape, out)
	default:
		return g.int64s(name, shape, w.Value.Int64s())
	}
}

// SaveKeras writes the model as a Keras 3 .keras archive: metadata.json
// (keras_version, date_saved), config.json (the Keras 3 config, with
// compile_config when opts.TrainingConfig is set) and model.weights.h5,
// where each layer has a group layers/<snake_case class>[_<n>] (numbered
// per class in layer order, as Keras names them) holding vars/<i> for its
// own weights and the paths of Weight.Path for nested ones; nested models
// hold their own "layers" group. Every group Keras writes, empty or not, is
// written, with the "name" attribute Keras puts on vars groups.
func SaveKeras(m *train.Model, path string, opts SaveOptions) error {
	_, kv, _, err := opts.resolve(m, true)
	if err != nil {
		return wrapPath(path, err)
	}
	cfg, err := m.KerasConfig(train.Keras3)
	if err != nil {
		return wrapPath(path, err)
	}
	cs, err := opts.compiled(m, train.Keras3, false)
	if err != nil {
		return wrapPath(path, err)
	}
	if len(cs.training) > 0 {
		o := map[string]json.RawMessage{}
		if err := json.Unmarshal(cfg, &o); err == nil {
			// Append compile_config, keeping the key order of cfg.
			cfg = append(bytes.TrimSuffix(bytes.TrimSpace(cfg), []byte("}")), []byte(`, "compile_config": `)...)
			cfg = append(cfg, cs.training...)
			cfg = append(cfg, '}')
		}
	}
	date := opts.Date
	if date.IsZero() {
		date = time.Now()
	}
	meta, _ := json.Marshal(struct {
		KerasVersion string `json:"keras_version"`
		DateSaved    string `json:"date_saved"`
	}{kv, date.Format("2006-01-02@15:04:05")})

	wtmp, err := os.CreateTemp("", "kiln-*.weights.h5")
	if err != nil {
		return wrapPath(path, err)
	}
	wname := wtmp.Name()
	wtmp.Close()
	defer os.Remove(wname)
	if err := writeKeras3Weights(wname, m, cs); err != nil {
		return wrapPath(path, err)
	}
	wb, err := os.ReadFile(wname)
	if err != nil {
		return wrapPath(path, err)
	}
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return wrapPath(path, err)
	}
	zw := zip.NewWriter(out)
	for _, mem := range []struct {
		name string
		data []byte
	}{{"metadata.json", meta}, {"config.json", cfg}, {"model.weights.h5", wb}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: mem.name, Method: zip.Deflate, Modified: date})
		if err == nil {
			_, err = w.Write(mem.data)
		}
		if err != nil {
			out.Close()
			os.Remove(tmp)
			return wrapPath(path, err)
		}
	}
	err = zw.Close()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return wrapPath(path, err)
	}
	return nil
}

func writeKeras3Weights(path string, m *train.Model, cs *compiledState) error {
	lockH5()
	defer h5mu.Unlock()
	f, err := createH5(path)
	if err != nil {
		return err
	}
	root := f.root()
	err = writeKeras3Container(root, m.Layers())
	if err == nil {
		err = writeKeras3Optimizer(root, cs)
	}
	if err == nil {
		err = varsGroup(root, "vars")
	}
	if cerr := f.close(); err == nil {
		err = cerr
	}
	return err
}

// varsGroup creates a (possibly empty) vars group with Keras's name
// attribute.
func varsGroup(g *wgroup, path string) error {
	v, err := g.group(path)
	if err != nil {
		return err
	}
	defer v.close()
	return v.strAttr("name", []string{"vars"}, strLayout{utf8: true, scalar: true})
}

func writeKeras3Container(g *wgroup, layers []layer.Layer) error {
	lg, err := g.group("layers")
	if err != nil {
		return err
	}
	defer lg.close()
	count := map[string]int{}
	for _, l := range uniqueLayers(layers) {
		base := snakeCase(l.Class())
		if l.Class() == "Functional" || l.Class() == "Model" {
			base = "functional"
		}
		name := base
		if n := count[base]; n > 0 {
			name = fmt.Sprintf("%s_%d", base, n)
		}
		count[base]++
		if err := writeKeras3Layer(lg, name, l); err != nil {
			return fmt.Errorf("layer %q (%s): %w", l.Name(), l.Class(), err)
		}
	}
	return nil
}

func writeKeras3Layer(g *wgroup, name string, l layer.Layer) error {
	lg, err := g.group(name)
	if err != nil {
		return err
	}
	defer lg.close()
	if c, ok := l.(container); ok {
		if err := writeKeras3Container(lg, c.Layers()); err != nil {
			return err
		}
		return varsGroup(lg, "vars")
	}
	if err := varsGroup(lg, "vars"); err != nil {
		return err
	}
	own := 0
	for _, w := range l.Weights() {
		p := w.Path
		if p == "" {
			p = fmt.Sprintf("vars/%d", own)
			own++
		} else if j := strings.LastIndex(p, "/vars/"); j > 0 {
			if err := varsGroup(lg, p[:j+5]); err != nil {
				return err
			}
		}
		if err := writeWeight(lg, p, w); err != nil {
			return err
		}
	}
	return nil
}
