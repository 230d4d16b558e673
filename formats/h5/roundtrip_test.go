package h5

// TestCorpusRoundTrip saves every corpus model kiln loads as .h5 and as
// .keras, reloads both, and requires bit-identical weights and identical
// outputs on a random input (the same program runs on the same weights, so
// the outputs must agree exactly). It prints how many passed and failed.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
)

// sameWeights compares two models' weights bit for bit, layer by layer
// (Weights() orders them by the Keras version, which a .keras file changes).
func sameWeights(a, b *train.Model) error {
	var wa, wb []*layer.Weight
	for _, fw := range allWeights(a) {
		wa = append(wa, fw.w)
	}
	for _, fw := range allWeights(b) {
		wb = append(wb, fw.w)
	}
	if len(wa) != len(wb) {
		return fmt.Errorf("%d weights, reloaded %d", len(wa), len(wb))
	}
	for i := range wa {
		x, y := wa[i].Value, wb[i].Value
		if !slices.Equal(wa[i].Shape, wb[i].Shape) || x.DType() != y.DType() || x.Len() != y.Len() {
			return fmt.Errorf("weight %d %s: shape %v %s, reloaded %v %s", i, wa[i].Name, wa[i].Shape, x.DType(), wb[i].Shape, y.DType())
		}
		fx, fy := x.Float64s(), y.Float64s()
		for j := range fx {
			if math.Float64bits(fx[j]) != math.Float64bits(fy[j]) {
				return fmt.Errorf("weight %d %s: element %d is %v, reloaded %v", i, wa[i].Name, j, fx[j], fy[j])
			}
		}
	}
	return nil
}

func sameOutputs(a, b *train.Model, seed uint64) error {
	ga, err := graphOf(a)
	if err != nil {
		return fmt.Errorf("graph: %w", err)
	}
	gb, err := graphOf(b)
	if err != nil {
		return fmt.Errorf("reloaded graph: %w", err)
	}
	fixed := map[string][]int{}
	if cs, err := a.ConcreteInputShapes(1, 16); err == nil {
		for i, name := range a.InputNames() {
			fixed[name] = cs[i]
		}
	}
	in := randomInputs(ga, fixed, rand.New(rand.NewPCG(seed, 7)))
	oa, err := run(ga, in)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	inb := map[string]*tensor.Tensor{}
	for i, v := range gb.Inputs {
		if i < len(ga.Inputs) {
			inb[v.Name] = in[ga.Inputs[i].Name]
		}
	}
	ob, err := run(gb, inb)
	if err != nil {
		return fmt.Errorf("run reloaded: %w", err)
	}
	if len(ga.Outputs) != len(gb.Outputs) {
		return fmt.Errorf("%d outputs, reloaded %d", len(ga.Outputs), len(gb.Outputs))
	}
	for i := range ga.Outputs {
		x, y := oa[ga.Outputs[i].Name], ob[gb.Outputs[i].Name]
		if x == nil || y == nil || x.Len() != y.Len() {
			return fmt.Errorf("output %d missing or of another size", i)
		}
		fx, fy := x.Float64s(), y.Float64s()
		for j := range fx {
			if fx[j] != fy[j] && !(math.IsNaN(fx[j]) && math.IsNaN(fy[j])) {
				return fmt.Errorf("output %d element %d: %v, reloaded %v", i, j, fx[j], fy[j])
			}
		}
	}
	return nil
}

func TestCorpusRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("the Keras round-trip suite runs in `make keras` (not with -short)")
	}
	dir := corpusDir(t)
	rows := readManifest(t, dir)
	tmp := t.TempDir()
	counts := map[string][2]int{}
	var failures []string
	skipped := 0
	refused := map[string]int{}
	var refusedWhy []string
	only := os.Getenv("KILN_ROUNDTRIP_ONLY")
	for i, r := range rows {
		rel := strings.TrimPrefix(r.File, dir+"/")
		if only != "" && !strings.Contains(rel, only) {
			continue
		}
		m, _, err := r.open(dir)
		if err != nil {
			skipped++
			continue
		}
		if _, err := graphOf(m); err != nil {
			skipped++
			continue
		}
		for _, ext := range []string{".h5", ".keras"} {
			out := filepath.Join(tmp, fmt.Sprintf("m%d%s", i, ext))
			err := Save(m, out, SaveOptions{})
			var back *train.Model
			if err == nil {
				back, err = Load(out, Options{})
			}
			if err == nil {
				err = sameWeights(m, back)
			}
			if err == nil {
				err = sameOutputs(m, back, uint64(i))
			}
			c := counts[ext]
			if errors.Is(err, ErrTheano) || errors.Is(err, train.ErrDialect) {
				refused[ext]++
				refusedWhy = append(refusedWhy, fmt.Sprintf("%s %s: %s", ext, rel, oneLine(err)))
				continue
			}
			if err != nil {
				c[1]++
				failures = append(failures, fmt.Sprintf("%s %s: %s", ext, rel, oneLine(err)))
			} else {
				c[0]++
			}
			counts[ext] = c
			os.Remove(out)
		}
	}
	for _, f := range refusedWhy {
		t.Log("  REFUSED " + f)
	}
	for _, f := range failures {
		t.Log("  FAIL " + f)
	}
	t.Logf("round trip .h5: %d passed, %d failed, %d refused; .keras: %d passed, %d failed, %d refused (Theano kernels or hard_sigmoid across dialects); %d corpus files not loaded by kiln, skipped",
		counts[".h5"][0], counts[".h5"][1], refused[".h5"], counts[".keras"][0], counts[".keras"][1], refused[".keras"], skipped)
	if os.Getenv("KILN_ROUNDTRIP_STRICT") != "" && len(failures) > 0 {
		t.Errorf("%d round trips failed", len(failures))
	}
}
