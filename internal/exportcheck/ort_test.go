//go:build ort

package exportcheck

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/internal/modelfile"
	"github.com/kiln-ml/kiln/internal/verify"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"
)

// Tolerance of the comparison: ONNX Runtime's kernels and kiln's reference
// kernels sum in different orders, so float32 results differ in the last
// bits; 1e-4 absolute (relative where |value| > 1) is the Keras corpus rule.
const tol = 1e-4

var initOnce sync.Once
var initErr error

func initORT(t *testing.T) {
	lib := os.Getenv("KILN_ORT_LIB")
	if lib == "" {
		t.Skip("KILN_ORT_LIB is not set (make test-ort sets it)")
	}
	initOnce.Do(func() {
		ort.SetSharedLibraryPath(lib)
		initErr = ort.InitializeEnvironment()
	})
	if initErr != nil {
		t.Fatalf("onnxruntime: %v", initErr)
	}
}

// findUp returns dir/rel for the first ancestor dir of the working
// directory (or its parent's shared/) where it exists.
func findUpORT(env string, rel ...string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		for _, base := range []string{filepath.Join(d, "..", "shared"), filepath.Join(d, "shared")} {
			c := filepath.Join(append([]string{base}, rel...)...)
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c
			}
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

type outcome struct {
	name, status, why string
}

// check exports g, runs it in ONNX Runtime and kiln on the same inputs and
// compares the outputs.
func check(g *graph.Graph, inputs map[string]*tensor.Tensor) (string, string) {
	for _, v := range append(append([]*graph.Value{}, g.Inputs...), g.Outputs...) {
		if v.Type.Kind != graph.KindTensor {
			return "skip", "sequence or optional values"
		}
	}
	if len(g.Inputs) == 0 {
		return "skip", "no inputs (the binding needs at least one)"
	}
	for _, v := range g.Outputs {
		switch v.Type.DType {
		case tensor.Float16, tensor.BFloat16, tensor.String:
			return "skip", fmt.Sprintf("output %q of type %s is not read by the binding", v.Name, v.Type.DType)
		}
	}
	mp, err := onnx.Export(g, onnx.ExportOptions{})
	if err != nil {
		return "export error", err.Error()
	}
	data, err := proto.Marshal(mp)
	if err != nil {
		return "export error", err.Error()
	}
	want, err := verify.Run(g, inputs)
	if err != nil {
		return "kiln error", err.Error()
	}
	var inNames, outNames []string
	for _, v := range g.Inputs {
		inNames = append(inNames, v.Name)
	}
	for _, v := range g.Outputs {
		outNames = append(outNames, v.Name)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return "ort error", err.Error()
	}
	defer opts.Destroy()
	_ = opts.SetIntraOpNumThreads(1)
	_ = opts.SetInterOpNumThreads(1)
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(data, inNames, outNames, opts)
	if err != nil {
		return "ort rejects", err.Error()
	}
	defer sess.Destroy()
	ins := make([]ort.Value, len(inNames))
	for i, name := range inNames {
		v, err := toORT(inputs[name])
		if err != nil {
			return "skip", err.Error()
		}
		defer v.Destroy()
		ins[i] = v
	}
	outs := make([]ort.Value, len(outNames))
	if err := sess.Run(ins, outs); err != nil {
		return "ort run error", err.Error()
	}
	for i, o := range outs {
		if o == nil {
			return "ort run error", fmt.Sprintf("output %q missing", outNames[i])
		}
		defer o.Destroy()
		got, err := fromORT(o)
		if err != nil {
			return "skip", err.Error()
		}
		if why := compare(got, want[i]); why != "" {
			return "mismatch", fmt.Sprintf("output %q: %s", outNames[i], why)
		}
	}
	return "pass", ""
}

func compare(got, want *tensor.Tensor) string {
	if !got.Shape().Equal(want.Shape()) {
		return fmt.Sprintf("shape %v, kiln %v", got.Shape(), want.Shape())
	}
	if want.DType() == tensor.String {
		return ""
	}
	gv, wv := got.Float64s(), want.Float64s()
	for i := range wv {
		a, b := gv[i], wv[i]
		if a == b || (math.IsNaN(a) && math.IsNaN(b)) {
			continue
		}
		d := math.Abs(a - b)
		if math.Abs(b) > 1 {
			d /= math.Abs(b)
		}
		if !(d <= tol) {
			return fmt.Sprintf("element %d: ORT %g, kiln %g", i, a, b)
		}
	}
	return ""
}

func toORT(t *tensor.Tensor) (ort.Value, error) {
	sh := make(ort.Shape, t.Rank())
	for i, d := range t.Shape() {
		sh[i] = int64(d)
	}
	switch d := t.Data().(type) {
	case []float32:
		return ort.NewTensor(sh, append([]float32(nil), d...))
	case []float64:
		return ort.NewTensor(sh, append([]float64(nil), d...))
	case []int64:
		return ort.NewTensor(sh, append([]int64(nil), d...))
	case []int32:
		return ort.NewTensor(sh, append([]int32(nil), d...))
	case []int16:
		return ort.NewTensor(sh, append([]int16(nil), d...))
	case []int8:
		return ort.NewTensor(sh, append([]int8(nil), d...))
	case []uint8:
		return ort.NewTensor(sh, append([]uint8(nil), d...))
	case []uint16:
		return ort.NewTensor(sh, append([]uint16(nil), d...))
	case []uint32:
		return ort.NewTensor(sh, append([]uint32(nil), d...))
	case []uint64:
		return ort.NewTensor(sh, append([]uint64(nil), d...))
	case []bool:
		return ort.NewTensor(sh, append([]bool(nil), d...))
	}
	return nil, fmt.Errorf("element type %s not passed to ONNX Runtime by this test", t.DType())
}

func fromORT(v ort.Value) (*tensor.Tensor, error) {
	var sh tensor.Shape
	for _, d := range v.GetShape() {
		sh = append(sh, int(d))
	}
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		return tensor.From(sh, append([]float32(nil), x.GetData()...)), nil
	case *ort.Tensor[float64]:
		return tensor.From(sh, append([]float64(nil), x.GetData()...)), nil
	case *ort.Tensor[int64]:
		return tensor.From(sh, append([]int64(nil), x.GetData()...)), nil
	case *ort.Tensor[int32]:
		return tensor.From(sh, append([]int32(nil), x.GetData()...)), nil
	case *ort.Tensor[int16]:
		return tensor.From(sh, append([]int16(nil), x.GetData()...)), nil
	case *ort.Tensor[int8]:
		return tensor.From(sh, append([]int8(nil), x.GetData()...)), nil
	case *ort.Tensor[uint8]:
		return tensor.From(sh, append([]uint8(nil), x.GetData()...)), nil
	case *ort.Tensor[uint16]:
		return tensor.From(sh, append([]uint16(nil), x.GetData()...)), nil
	case *ort.Tensor[uint32]:
		return tensor.From(sh, append([]uint32(nil), x.GetData()...)), nil
	case *ort.Tensor[uint64]:
		return tensor.From(sh, append([]uint64(nil), x.GetData()...)), nil
	case *ort.Tensor[bool]:
		return tensor.From(sh, append([]bool(nil), x.GetData()...)), nil
	}
	return nil, fmt.Errorf("ONNX Runtime output of type %T not read by this test", v)
}

// testDataInputs reads test_data_set_0's inputs when the directory has
// them, else makes seeded random ones.
func testDataInputs(dir string, g *graph.Graph) (map[string]*tensor.Tensor, error) {
	in := map[string]*tensor.Tensor{}
	for i, v := range g.Inputs {
		p := filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", i))
		if _, err := os.Stat(p); err != nil {
			return verify.RandomInputs(g, verify.Options{Seed: 1})
		}
		typ := v.Type
		val, err := onnx.LoadValue(p, &typ)
		if err != nil {
			return nil, err
		}
		t, ok := val.(*tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("input %q is not a tensor", v.Name)
		}
		in[v.Name] = t
	}
	return in, nil
}

func report(t *testing.T, suite string, res []outcome, strict bool) {
	counts := map[string]int{}
	var bad []string
	for _, r := range res {
		counts[r.status]++
		if r.status != "pass" && r.status != "skip" && r.status != "load error" {
			why := r.why
			if len(why) > 240 {
				why = why[:240] + "..."
			}
			bad = append(bad, fmt.Sprintf("%-14s %s: %s", r.status, r.name, why))
		}
	}
	sort.Strings(bad)
	var parts []string
	for k, v := range counts {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	t.Logf("suite %s: %s", suite, strings.Join(parts, ", "))
	for _, b := range bad {
		t.Logf("  %s", b)
	}
	failed := len(res) - counts["pass"] - counts["skip"] - counts["load error"]
	fmt.Printf("ort %s: %d passed, %d failed, %d skipped\n", suite, counts["pass"], failed, counts["skip"]+counts["load error"])
	if strict && failed > 0 {
		t.Errorf("suite %s: %d exported models differ from kiln in ONNX Runtime or fail there", suite, failed)
	}
}

// TestORTOnnxCorpus exports every ONNX corpus model kiln loads and runs it
// in ONNX Runtime on the test's stored inputs.
func TestORTOnnxCorpus(t *testing.T) {
	initORT(t)
	root := findUpORT("KILN_CORPUS", "corpus", "onnx")
	if root == "" {
		t.Skip("no ONNX corpus")
	}
	suites := strings.Fields(os.Getenv("KILN_ORT_SUITES"))
	if len(suites) == 0 {
		suites = []string{"node", "simple", "pytorch-converted", "pytorch-operator", "models"}
	}
	for _, s := range suites {
		var res []outcome
		dirs, _ := filepath.Glob(filepath.Join(root, s, "*", "model.onnx"))
		for _, p := range dirs {
			dir := filepath.Dir(p)
			name := filepath.Base(dir)
			m, err := onnx.Load(p)
			if err != nil {
				res = append(res, outcome{name, "load error", err.Error()})
				continue
			}
			in, err := testDataInputs(dir, m.Graph)
			if err != nil {
				res = append(res, outcome{name, "skip", err.Error()})
				continue
			}
			st, why := checkTimed(m.Graph, in)
			res = append(res, outcome{name, st, why})
		}
		// The models of "models" and the PyTorch exports are what users
		// convert; the node suite includes ops ONNX Runtime lacks.
		report(t, s, res, s == "models" || strings.HasPrefix(s, "pytorch"))
	}
}

func checkTimed(g *graph.Graph, in map[string]*tensor.Tensor) (status, why string) {
	defer func() {
		// Limits of this harness, not of the exported model: the
		// onnxruntime_go binding cannot return rank-0 tensors, and ONNX
		// Runtime's StringNormalizer needs an en_US.UTF-8 locale.
		if strings.Contains(why, "shape has no dimensions") || strings.Contains(why, "locale") {
			status = "skip"
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			status, why = "panic", fmt.Sprint(p)
		}
	}()
	start := time.Now()
	status, why = check(g, in)
	if d := time.Since(start); d > time.Minute && why == "" {
		why = fmt.Sprintf("took %v", d.Round(time.Second))
	}
	return status, why
}

// TestORTKerasCorpus converts every Keras corpus model kiln loads to ONNX
// and runs it in ONNX Runtime on seeded random inputs of its declared
// shapes. Files kiln cannot load (rejected layers, or no Keras reader in
// this build) are counted as skipped.
func TestORTKerasCorpus(t *testing.T) {
	initORT(t)
	root := findUpORT("KILN_KERAS_CORPUS", "corpus", "keras")
	if root == "" {
		t.Skip("no Keras corpus")
	}
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if ext := strings.ToLower(filepath.Ext(p)); ext == ".h5" || ext == ".keras" || ext == ".hdf5" {
				files = append(files, p)
			}
		}
		return nil
	})
	sort.Strings(files)
	var res []outcome
	for _, p := range files {
		name, _ := filepath.Rel(root, p)
		g, _, err := modelfile.Load(p)
		if err != nil {
			res = append(res, outcome{name, "load error", err.Error()})
			continue
		}
		in, err := verify.RandomInputs(g, kerasInputs)
		if err != nil {
			res = append(res, outcome{name, "skip", err.Error()})
			continue
		}
		st, why := checkTimed(g, in)
		res = append(res, outcome{name, st, why})
	}
	report(t, "keras", res, true)
}
