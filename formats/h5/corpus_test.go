package h5

// The Keras corpus suite (../shared/corpus/keras, or $KILN_KERAS_CORPUS):
//
//   - TestCorpusReference runs every model whose reference data holds
//     Keras's own predictions on the reference inputs and compares within
//     1e-4 absolute, or 1e-4 relative where |expected| > 1 (frugally-deep's
//     load-time check);
//   - TestCorpusLoad loads every one of the corpus's model files and either
//     runs it on a random input of its declared shape (no NaN allowed) or
//     records the error; files the README lists as custom code must be
//     rejected.
//
// Both print a summary table; they are skipped when the corpus is absent.
// KILN_KERAS_ONLY=<substring> limits both to the manifest rows whose path
// contains the substring (to debug one file).

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/formats/npy"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/train"
	"gonum.org/v1/hdf5"
)

type manifestRow struct {
	File, Format, KerasVersion, Class, Layers, Ref, Notes string
}

func readManifest(t *testing.T, dir string) []manifestRow {
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []manifestRow
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		c := strings.Split(line, "\t")
		if i == 0 || len(c) < 11 {
			continue
		}
		if only := os.Getenv("KILN_KERAS_ONLY"); only != "" && !strings.Contains(c[0], only) {
			continue
		}
		rows = append(rows, manifestRow{File: corpusPath(dir, c[0]), Format: c[3], KerasVersion: c[4], Class: c[6], Layers: c[7], Ref: c[9], Notes: c[10]})
	}
	return rows
}

// corpusPath maps a manifest path (shared/corpus/keras/...) into dir.
func corpusPath(dir, p string) string {
	return filepath.Join(dir, strings.TrimPrefix(strings.TrimSpace(p), "shared/corpus/keras/"))
}

var weightsInRe = regexp.MustCompile(`weights in (\S+?);`)
var archInRe = regexp.MustCompile(`architecture in (\S+?);`)

// open loads a manifest row the way a user would: JSON architectures with
// their weights file, weights files with their JSON.
func (r manifestRow) open(dir string) (*train.Model, string, error) {
	notes := r.Notes + ";"
	switch r.Format {
	case "json-arch":
		if m := weightsInRe.FindStringSubmatch(notes); m != nil {
			w := corpusPath(dir, m[1])
			mod, err := Load(w, Options{Arch: r.File})
			return mod, "json+weights", err
		}
		mod, _, err := LoadArch(r.File)
		return mod, "json only (zero weights)", err
	case "h5-weights":
		if m := archInRe.FindStringSubmatch(notes); m != nil {
			mod, err := Load(r.File, Options{Arch: corpusPath(dir, m[1])})
			return mod, "weights+json", err
		}
	}
	mod, err := Load(r.File, Options{})
	return mod, r.Format, err
}

// mustReject lists the files the corpus README says hold custom code.
var mustReject = []string{
	"examples/lambda/", "deepfm/deepfm.h5", "space_to_depth_graph_tensorflow_2.h5",
	"yolo9000_tf_keras_2.json", "tfkeras/tfop_0.h5", "qkeras-v3_3layer.keras",
	"qkeras_mnist_cnn", "hgq_jet_classifier.h5", "garnet_1layer", "siamese_model.keras",
	"binary_tanh/tanh.h5", "pre_pr22362_nested_container.keras",
}

func isMustReject(path string) bool {
	for _, s := range mustReject {
		if strings.Contains(path, s) {
			return true
		}
	}
	return false
}

// run compiles the model's graph and runs it, turning panics and hangs
// into errors. The deadline is generous: the machine's two cores are
// shared, and the largest corpus models (agz/dual_res) take over a minute
// of wall time when other builds run beside them.
func run(g *graph.Graph, in map[string]*tensor.Tensor) (out map[string]*tensor.Tensor, err error) {
	done := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		var p *runtime.Program
		if p, err = runtime.Compile(g); err != nil {
			err = fmt.Errorf("compile: %w", err)
			return
		}
		out, err = p.RunContext(ctx, in)
	}()
	select {
	case <-done:
	case <-time.After(330 * time.Second):
		return nil, fmt.Errorf("run did not finish in 330 s")
	}
	return out, err
}

func graphOf(m *train.Model) (g *graph.Graph, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while lowering: %v", r)
		}
	}()
	return m.Graph()
}

// randomInputs makes inputs of the graph's declared shapes: unknown
// dimensions take the sizes in fixed (the model's ConcreteInputShapes, by
// input name) where given, else 1 (batch) or 16 (others: large enough for
// the convolution and pooling stacks of fully convolutional models such as
// 12net); values are uniform in [0, 1), or small integers for integer
// inputs.
func randomInputs(g *graph.Graph, fixed map[string][]int, rng *rand.Rand) map[string]*tensor.Tensor {
	in := map[string]*tensor.Tensor{}
	for _, v := range g.Inputs {
		shape := make(tensor.Shape, len(v.Type.Shape))
		for i, d := range v.Type.Shape {
			switch {
			case d > 0:
				shape[i] = d
			case i < len(fixed[v.Name]) && fixed[v.Name][i] > 0:
				shape[i] = fixed[v.Name][i]
			case i == 0:
				shape[i] = 1
			default:
				shape[i] = 16
			}
		}
		dt := v.Type.DType
		if dt == tensor.Undefined {
			dt = tensor.Float32
		}
		vals := make([]float64, shape.Size())
		for i := range vals {
			if dt.IsFloat() {
				vals[i] = rng.Float64()
			} else {
				vals[i] = float64(rng.IntN(2))
			}
		}
		in[v.Name] = tensor.FromFloat64s(dt, shape, vals)
	}
	return in
}

func hasNaN(t *tensor.Tensor) bool {
	if !t.DType().IsFloat() {
		return false
	}
	for _, v := range t.Float64s() {
		if math.IsNaN(v) {
			return true
		}
	}
	return false
}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

func TestCorpusLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the Keras corpus suite runs in `make keras` (not with -short)")
	}
	dir := corpusDir(t)
	rows := readManifest(t, dir)
	rng := rand.New(rand.NewPCG(1, 2))
	var loaded, rejected, bad []string
	for _, r := range rows {
		rel := strings.TrimPrefix(r.File, dir+"/")
		m, how, err := r.open(dir)
		if err == nil {
			var g *graph.Graph
			if g, err = graphOf(m); err == nil {
				var out map[string]*tensor.Tensor
				fixed := map[string][]int{}
				if cs, err := m.ConcreteInputShapes(1, 16); err == nil {
					for i, name := range m.InputNames() {
						fixed[name] = cs[i]
					}
				}
				if out, err = run(g, randomInputs(g, fixed, rng)); err == nil {
					for name, o := range out {
						if hasNaN(o) {
							err = fmt.Errorf("output %s holds NaN on a random input", name)
						}
					}
				} else {
					err = fmt.Errorf("run: %w", err)
				}
			} else {
				err = fmt.Errorf("graph: %w", err)
			}
			if err == nil {
				loaded = append(loaded, fmt.Sprintf("%-95s %s", rel, how))
				if isMustReject(rel) {
					bad = append(bad, rel+": loaded and ran, but it holds custom code the corpus README says must be rejected")
				}
				continue
			}
		}
		rejected = append(rejected, fmt.Sprintf("%-95s %s", rel, oneLine(err)))
	}
	t.Logf("LOADED and ran (%d):", len(loaded))
	for _, s := range loaded {
		t.Logf("  %s", s)
	}
	t.Logf("REJECTED (%d):", len(rejected))
	for _, s := range rejected {
		t.Logf("  %s", s)
	}
	t.Logf("corpus load: %d files, %d loaded and ran, %d rejected", len(rows), len(loaded), len(rejected))
	for _, b := range bad {
		t.Error(b)
	}
}

// refCase is one model with Keras's predictions.
type refCase struct {
	name    string
	inputs  []*namedTensor
	outputs []*namedTensor
}

type namedTensor struct {
	name string
	t    *tensor.Tensor
}

// readIOH5 reads a DL4J *_inputs_and_outputs.h5: inputs/<name> and
// predictions/<name> (outputs/ holds training labels in some files, so it
// is never used).
func readIOH5(path string) (ins, outs []*namedTensor, err error) {
	lockH5()
	defer h5mu.Unlock()
	f, err := hdf5.OpenFile(path, hdf5.F_ACC_RDONLY)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	read := func(group string) ([]*namedTensor, error) {
		if !f.LinkExists(group) {
			return nil, nil
		}
		g, err := f.OpenGroup(group)
		if err != nil {
			return nil, err
		}
		defer g.Close()
		_, ds, err := children(&g.CommonFG)
		if err != nil {
			return nil, err
		}
		var out []*namedTensor
		for _, d := range ds {
			a, err := readArray(&g.CommonFG, d)
			if err != nil {
				return nil, err
			}
			out = append(out, &namedTensor{d, tensor.From(tensor.Shape(a.Shape), a.Data)})
		}
		return out, nil
	}
	if ins, err = read("inputs"); err != nil {
		return nil, nil, err
	}
	outs, err = read("predictions")
	return ins, outs, err
}

func readDat(path string) ([][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows [][]float32
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		row := make([]float32, len(fs))
		for i, s := range fs {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			row[i] = float32(v)
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// reference builds the reference inputs and expected outputs of a row.
// shapes gives the model's declared input shapes (for flattened data).
func reference(dir string, r manifestRow, g *graph.Graph) (*refCase, error) {
	refs := strings.Split(r.Ref, ";")
	first := corpusPath(dir, refs[0])
	c := &refCase{name: r.File}
	switch {
	case strings.HasSuffix(first, "_inputs_and_outputs.h5"):
		ins, outs, err := readIOH5(first)
		if err != nil {
			return nil, err
		}
		if len(outs) == 0 {
			return nil, nil // no predictions/ group: labels only
		}
		c.inputs, c.outputs = ins, outs
	case strings.HasSuffix(first, ".dat"):
		in, err := readDat(corpusPath(dir, refs[0]))
		if err != nil {
			return nil, err
		}
		out, err := readDat(corpusPath(dir, refs[1]))
		if err != nil {
			return nil, err
		}
		if len(g.Inputs) != 1 || len(in) == 0 {
			return nil, fmt.Errorf("tb data for a model with %d inputs", len(g.Inputs))
		}
		shape := tensor.Shape{len(in)}
		per := 1
		for _, d := range g.Inputs[0].Type.Shape[1:] {
			shape = append(shape, d)
			per *= d
		}
		var flat, oflat []float32
		for i := range in {
			if len(in[i]) != per {
				return nil, fmt.Errorf("tb input row %d has %d values, the model takes %v", i, len(in[i]), g.Inputs[0].Type.Shape)
			}
			flat = append(flat, in[i]...)
			oflat = append(oflat, out[i]...)
		}
		c.inputs = []*namedTensor{{g.Inputs[0].Name, tensor.From(shape, flat)}}
		c.outputs = []*namedTensor{{"", tensor.From(tensor.Shape{len(oflat)}, oflat)}}
	case strings.HasSuffix(first, "input.npy"):
		x, err := npy.Load(first)
		if err != nil {
			return nil, err
		}
		y, err := npy.Load(corpusPath(dir, refs[1]))
		if err != nil {
			return nil, err
		}
		x32 := tensor.FromFloat64s(tensor.Float32, x.Shape(), x.Float64s())
		c.inputs = []*namedTensor{{g.Inputs[0].Name, x32}}
		c.outputs = []*namedTensor{{"", y}}
	case strings.Contains(first, "{0..282}.csv"):
		base := strings.TrimSuffix(first, "{0..282}.csv")
		var flat []float32
		n := 0
		for i := 0; ; i++ {
			b, err := os.ReadFile(fmt.Sprintf("%s%d.csv", base, i))
			if err != nil {
				break
			}
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				fs := strings.Split(strings.TrimSpace(line), ";")
				if len(fs) < 12 {
					return nil, fmt.Errorf("csv %d: %d columns", i, len(fs))
				}
				for _, s := range fs[:12] {
					v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
					if err != nil {
						return nil, err
					}
					flat = append(flat, float32(v))
				}
			}
			n++
		}
		y, err := npy.Load(corpusPath(dir, refs[1]))
		if err != nil {
			return nil, err
		}
		steps := len(flat) / (n * 12)
		c.inputs = []*namedTensor{{g.Inputs[0].Name, tensor.From(tensor.Shape{n, steps, 12}, flat)}}
		c.outputs = []*namedTensor{{"", y}}
	default:
		return nil, fmt.Errorf("unknown reference format %s", first)
	}
	return c, nil
}

// compare checks got against want: |d| <= 1e-4, or |d| <= 1e-4·|want|
// where |want| > 1. Shapes must hold the same number of values.
func compare(got, want *tensor.Tensor) (float64, error) {
	g, w := got.Float64s(), want.Float64s()
	if len(g) != len(w) {
		return 0, fmt.Errorf("kiln gives %v values, Keras %v", got.Shape(), want.Shape())
	}
	worst := 0.0
	for i := range w {
		d := math.Abs(g[i] - w[i])
		if math.IsNaN(g[i]) {
			return math.NaN(), fmt.Errorf("value %d is NaN (Keras: %g)", i, w[i])
		}
		tol := 1e-4
		if math.Abs(w[i]) > 1 {
			tol = 1e-4 * math.Abs(w[i])
		}
		worst = math.Max(worst, d)
		if d > tol {
			return worst, fmt.Errorf("value %d: kiln %g, Keras %g (diff %.3g)", i, g[i], w[i], d)
		}
	}
	return worst, nil
}

func TestCorpusReference(t *testing.T) {
	if testing.Short() {
		t.Skip("the Keras corpus suite runs in `make keras` (not with -short)")
	}
	dir := corpusDir(t)
	var passed, failed []string
	for _, r := range readManifest(t, dir) {
		if r.Ref == "-" || r.Ref == "" {
			continue
		}
		rel := strings.TrimPrefix(r.File, dir+"/")
		fail := func(err error) { failed = append(failed, fmt.Sprintf("%-90s %s", rel, oneLine(err))) }
		m, _, err := r.open(dir)
		if err != nil {
			fail(err)
			continue
		}
		g, err := graphOf(m)
		if err != nil {
			fail(err)
			continue
		}
		c, err := reference(dir, r, g)
		if err != nil {
			fail(fmt.Errorf("reference data: %w", err))
			continue
		}
		if c == nil {
			t.Logf("%s: reference holds training labels only, not predictions; not compared", rel)
			continue
		}
		in := map[string]*tensor.Tensor{}
		for i, x := range c.inputs {
			name := x.name
			if len(g.Inputs) == len(c.inputs) && !hasInput(g, name) {
				name = g.Inputs[i].Name
			}
			in[name] = x.t
		}
		out, err := run(g, in)
		if err != nil {
			fail(err)
			continue
		}
		worst := 0.0
		for i, want := range c.outputs {
			got := out[want.name]
			if got == nil && len(g.Outputs) == len(c.outputs) {
				got = out[g.Outputs[i].Name]
			}
			if got == nil {
				err = fmt.Errorf("no output %q", want.name)
				break
			}
			var d float64
			if d, err = compare(got, want.t); err != nil {
				err = fmt.Errorf("output %s: %w", g.Outputs[i].Name, err)
				break
			}
			worst = math.Max(worst, d)
		}
		if err != nil {
			fail(err)
			continue
		}
		passed = append(passed, fmt.Sprintf("%-90s max abs diff %.2g", rel, worst))
	}
	sort.Strings(failed)
	t.Logf("PASSED (%d):", len(passed))
	for _, s := range passed {
		t.Logf("  %s", s)
	}
	t.Logf("FAILED (%d):", len(failed))
	for _, s := range failed {
		t.Logf("  %s", s)
	}
	t.Logf("Keras reference predictions: %d passed, %d failed", len(passed), len(failed))
	if os.Getenv("KILN_KERAS_STRICT") != "" && len(failed) > 0 {
		t.Errorf("%d models do not match Keras", len(failed))
	}
}

func hasInput(g *graph.Graph, name string) bool {
	for _, v := range g.Inputs {
		if v.Name == name {
			return true
		}
	}
	return false
}
