package conformance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/runtime/pass"
)

// TestPassesAgree runs every model of the ONNX corpus (KILN_CORPUS, suites
// in KILN_PASS_SUITES, default "simple pytorch-converted pytorch-operator
// models") on its first test data set, once as imported and once rewritten
// by every graph pass, and requires the two to agree within the ONNX node
// tolerances (rtol 1e-3) with atol 1e-5: folding BatchNormalization into
// weights and fusing epilogues reassociate float32 arithmetic, so results
// near zero may move by a few ulps of the values they were computed from.
// Models kiln cannot run unfused are skipped.
func TestPassesAgree(t *testing.T) {
	root := os.Getenv("KILN_CORPUS")
	if root == "" {
		t.Skip("set KILN_CORPUS to the ONNX corpus directory")
	}
	suites := []string{"simple", "pytorch-converted", "pytorch-operator", "models"}
	if s := os.Getenv("KILN_PASS_SUITES"); s != "" {
		suites = filepath.SplitList(s)
	}
	var dirs []string
	for _, s := range suites {
		d, err := FindTests(filepath.Join(root, s))
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d...)
	}
	compared := 0
	for _, dir := range dirs {
		m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
		if err != nil {
			continue
		}
		inputs, err := firstInputs(dir, m.Graph)
		if err != nil {
			continue
		}
		want, err := runGraph(m.Graph, inputs)
		if err != nil {
			continue
		}
		g, err := pass.Apply(m.Graph, pass.Options{Level: pass.MaxLevel})
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		got, err := runGraph(g, inputs)
		if err != nil {
			t.Errorf("%s: the rewritten graph fails: %v", dir, err)
			continue
		}
		for _, o := range m.Graph.Outputs {
			if _, err := compareValues(got[o.Name], want[o.Name], DefaultRTol, 1e-5); err != nil {
				t.Errorf("%s: output %q: %v", dir, o.Name, err)
			}
		}
		compared++
		t.Logf("%-40s nodes %4d -> %4d  %s", filepath.Base(dir), len(m.Graph.Nodes), len(g.Nodes), opCounts(g))
	}
	t.Logf("%d models compared", compared)
}

func firstInputs(dir string, g *graph.Graph) (map[string]ops.Value, error) {
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	sort.Strings(sets)
	if len(sets) == 0 {
		return nil, fmt.Errorf("no data")
	}
	in := map[string]ops.Value{}
	for i, v := range g.Inputs {
		typ := v.Type
		val, err := onnx.LoadValue(filepath.Join(sets[0], fmt.Sprintf("input_%d.pb", i)), &typ)
		if err != nil {
			return nil, err
		}
		in[v.Name] = val
	}
	return in, nil
}

func runGraph(g *graph.Graph, in map[string]ops.Value) (map[string]ops.Value, error) {
	p, err := runtime.Compile(g, runtime.Options{Threads: 1})
	if err != nil {
		return nil, err
	}
	return p.RunValues(context.Background(), in)
}

// opCounts summarises the fused and kiln ops of a graph.
func opCounts(g *graph.Graph) string {
	c := map[string]int{}
	for _, n := range g.Nodes {
		switch n.Op {
		case "FusedConv", "FusedGemm", "FusedMatMul", "Attention", "LayerNormalization", "Gelu", "Conv", "MatMul", "Gemm", "BatchNormalization":
			c[n.Op]++
		}
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf("%s:%d ", k, c[k])
	}
	return s
}
