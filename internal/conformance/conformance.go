// Package conformance runs ONNX backend-test directories (model.onnx plus
// test_data_set_*/input_*.pb and output_*.pb) through kiln and compares the
// results the way ONNX's own backend test runner does.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/runtime/pass"
)

// Default tolerances of ONNX's backend test loader (onnx/backend/test/loader).
const (
	DefaultRTol = 1e-3
	DefaultATol = 1e-7
)

// Status of one test.
type Status string

// Statuses.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is the outcome of one test directory.
type Result struct {
	Name     string        `json:"name"`
	Dir      string        `json:"dir"`
	Status   Status        `json:"status"`
	Category string        `json:"category,omitempty"` // failure or skip class, for the summary table
	Reason   string        `json:"reason,omitempty"`   // one line
	Duration time.Duration `json:"duration_ns"`
}

// Options control a run.
type Options struct {
	RTol, ATol float64
	Timeout    time.Duration // per test
	Workers    int
	// Runs is how many times each test data set is run on the same
	// compiled program (default 2: the first run plans, the second runs
	// the plan); every run is compared.
	Runs int
	// Passes selects the graph passes (nil: the runtime's default, all).
	Passes *pass.Options
	// Progress, if set, is called after each test.
	Progress func(done, total int, r Result)
	// Load reads a test's model.onnx; nil means onnx.Load. A test can pass
	// a loader that transforms the model (an export round trip, say).
	Load func(path string) (*onnx.Model, error)
}

// FindTests returns every directory under the roots holding a model.onnx,
// sorted.
func FindTests(roots ...string) ([]string, error) {
	var dirs []string
	for _, root := range roots {
		st, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("conformance: %s is not a directory", root)
		}
		err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Name() == "model.onnx" {
				dirs = append(dirs, filepath.Dir(p))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}

// Run runs every test directory and returns results in the same order.
func Run(dirs []string, o Options) []Result {
	if o.RTol == 0 && o.ATol == 0 {
		o.RTol, o.ATol = DefaultRTol, DefaultATol
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Runs <= 0 {
		o.Runs = 2
	}
	results := make([]Result, len(dirs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := runOne(dirs[i], o)
				results[i] = r
				mu.Lock()
				done++
				if o.Progress != nil {
					o.Progress(done, len(dirs), r)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range dirs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return results
}

func runOne(dir string, o Options) Result {
	name := filepath.Base(dir)
	r := Result{Name: name, Dir: dir}
	if why, ok := skipReason(name); ok {
		r.Status, r.Category, r.Reason = Skip, "declared unsupported", why
		return r
	}
	if tol, ok := tolerances[name]; ok && o.RTol == DefaultRTol && o.ATol == DefaultATol {
		o.RTol, o.ATol = tol[0], tol[1]
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	ch := make(chan Result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- Result{Status: Fail, Category: "panic", Reason: firstLine(fmt.Sprintf("panic: %v at %s", p, panicSite()))}
			}
		}()
		ch <- check(ctx, dir, o)
	}()
	select {
	case res := <-ch:
		r.Status, r.Category, r.Reason = res.Status, res.Category, res.Reason
	case <-ctx.Done():
		r.Status, r.Category, r.Reason = Fail, "timeout", fmt.Sprintf("did not finish within %v", o.Timeout)
	}
	r.Duration = time.Since(start)
	return r
}

func panicSite() string {
	lines := strings.Split(string(debug.Stack()), "\n")
	for i, l := range lines {
		if strings.Contains(l, "panic(") && i+2 < len(lines) {
			for j := i + 2; j < len(lines); j += 2 {
				if strings.Contains(lines[j], "kiln") && !strings.Contains(lines[j], "conformance") {
					return strings.TrimSpace(lines[j-1])
				}
			}
		}
	}
	return "?"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

var reUnsupportedOp = regexp.MustCompile(`\(([A-Za-z0-9_.:]+), opset \d+\)`)

func check(ctx context.Context, dir string, o Options) Result {
	fail := func(cat string, err error) Result {
		return Result{Status: Fail, Category: cat, Reason: firstLine(err.Error())}
	}
	load := o.Load
	if load == nil {
		load = onnx.Load
	}
	m, err := load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		if errors.Is(err, ops.ErrUnsupported) {
			cat := "unsupported"
			if mm := reUnsupportedOp.FindStringSubmatch(err.Error()); mm != nil && strings.Contains(err.Error(), "unsupported operators") {
				cat = "unsupported op " + mm[1]
			}
			return fail(cat, err)
		}
		return fail("load error", err)
	}
	prog, err := runtime.Compile(m.Graph, runtime.Options{Threads: 1, Passes: o.Passes})
	if err != nil {
		return fail("compile error", err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	sort.Strings(sets)
	if len(sets) == 0 {
		return Result{Status: Fail, Category: "no test data", Reason: "no test_data_set_* directory"}
	}
	for _, set := range sets {
		inputs := map[string]ops.Value{}
		for i, in := range m.Graph.Inputs {
			p := filepath.Join(set, fmt.Sprintf("input_%d.pb", i))
			if _, err := os.Stat(p); err != nil {
				if in.Type.Kind == graph.KindOptional {
					inputs[in.Name] = &ops.Optional{}
					continue
				}
				return fail("test data", fmt.Errorf("%s: missing %s for input %q", filepath.Base(set), filepath.Base(p), in.Name))
			}
			typ := in.Type
			v, err := onnx.LoadValue(p, &typ)
			if err != nil {
				return fail("test data", err)
			}
			inputs[in.Name] = v
		}
		for run := 1; run <= o.Runs; run++ {
			got, err := prog.RunValues(ctx, inputs)
			if err != nil {
				if ctx.Err() != nil {
					return fail("timeout", err)
				}
				if errors.Is(err, ops.ErrUnsupported) {
					return fail("unsupported feature", err)
				}
				return fail("run error", fmt.Errorf("run %d: %w", run, err))
			}
			for i, out := range m.Graph.Outputs {
				p := filepath.Join(set, fmt.Sprintf("output_%d.pb", i))
				typ := out.Type
				want, err := onnx.LoadValue(p, &typ)
				if err != nil {
					return fail("test data", err)
				}
				if cat, err := compareValues(got[out.Name], want, o.RTol, o.ATol); err != nil {
					if run > 1 {
						cat = "planned run differs"
					}
					return fail(cat, fmt.Errorf("%s: run %d: output %q: %w", filepath.Base(set), run, out.Name, err))
				}
			}
		}
	}
	return Result{Status: Pass}
}

// compareValues applies ONNX's rule: same kind, same shape, same dtype, then
// |got - want| <= atol + rtol*|want| elementwise with NaN equal to NaN and
// infinities equal only to themselves; strings and bools exactly.
func compareValues(got, want ops.Value, rtol, atol float64) (string, error) {
	switch w := want.(type) {
	case *tensor.Tensor:
		g, ok := got.(*tensor.Tensor)
		if !ok {
			if o, isOpt := got.(*ops.Optional); isOpt {
				if t, isT := o.Value.(*tensor.Tensor); isT {
					return compareTensors(t, w, rtol, atol)
				}
			}
			return "wrong kind", fmt.Errorf("got a %T, want a tensor", got)
		}
		return compareTensors(g, w, rtol, atol)
	case *ops.Sequence:
		g, ok := got.(*ops.Sequence)
		if !ok {
			if o, isOpt := got.(*ops.Optional); isOpt {
				g, ok = o.Value.(*ops.Sequence)
			}
		}
		if !ok {
			return "wrong kind", fmt.Errorf("got a %T, want a sequence", got)
		}
		if len(g.Items) != len(w.Items) {
			return "shape mismatch", fmt.Errorf("sequence has %d items, want %d", len(g.Items), len(w.Items))
		}
		for i := range w.Items {
			if cat, err := compareTensors(g.Items[i], w.Items[i], rtol, atol); err != nil {
				return cat, fmt.Errorf("sequence item %d: %w", i, err)
			}
		}
		return "", nil
	case *ops.Optional:
		var gv ops.Value = got
		if g, ok := got.(*ops.Optional); ok {
			gv = g.Value
		}
		if w.Value == nil {
			if gv != nil {
				return "wrong kind", errors.New("got a value, want an empty optional")
			}
			return "", nil
		}
		if gv == nil {
			return "wrong kind", errors.New("got an empty optional, want a value")
		}
		return compareValues(gv, w.Value, rtol, atol)
	}
	return "test data", fmt.Errorf("cannot compare %T", want)
}

func compareTensors(g, w *tensor.Tensor, rtol, atol float64) (string, error) {
	if !g.Shape().Equal(w.Shape()) {
		return "shape mismatch", fmt.Errorf("shape %v, want %v", g.Shape(), w.Shape())
	}
	if g.DType() != w.DType() {
		return "dtype mismatch", fmt.Errorf("dtype %s, want %s", g.DType(), w.DType())
	}
	n := w.Len()
	switch w.DType() {
	case tensor.String:
		gs, ws := g.Strings(), w.Strings()
		for i := range ws {
			if gs[i] != ws[i] {
				return "value mismatch", fmt.Errorf("element %d is %q, want %q", i, gs[i], ws[i])
			}
		}
		return "", nil
	case tensor.Int64, tensor.Uint64:
		gi, wi := g.Int64s(), w.Int64s()
		for i := range wi {
			if gi[i] != wi[i] {
				return "value mismatch", fmt.Errorf("element %d is %d, want %d (%d of %d elements differ)", i, gi[i], wi[i], countDiff(gi, wi), n)
			}
		}
		return "", nil
	}
	gf, wf := g.Float64s(), w.Float64s()
	bad, first := 0, -1
	maxDiff := 0.0
	for i := range wf {
		a, e := gf[i], wf[i]
		if math.IsNaN(e) || math.IsNaN(a) {
			if math.IsNaN(e) && math.IsNaN(a) {
				continue
			}
		} else if math.IsInf(e, 0) || math.IsInf(a, 0) {
			if a == e {
				continue
			}
		} else {
			d := math.Abs(a - e)
			if d <= atol+rtol*math.Abs(e) {
				continue
			}
			if d > maxDiff {
				maxDiff = d
			}
		}
		bad++
		if first < 0 {
			first = i
		}
	}
	if bad > 0 {
		return "value mismatch", fmt.Errorf("%d of %d elements differ (first at %d: %s, want %s; max abs diff %.3g)", bad, n, first, fmtF(gf[first]), fmtF(wf[first]), maxDiff)
	}
	return "", nil
}

func countDiff(a, b []int64) int {
	c := 0
	for i := range a {
		if a[i] != b[i] {
			c++
		}
	}
	return c
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', 7, 64) }

// Summary counts results by status and failure category.
type Summary struct {
	Passed, Failed, Skipped int
	Categories              map[string]int
}

// Summarize counts results.
func Summarize(rs []Result) Summary {
	s := Summary{Categories: map[string]int{}}
	for _, r := range rs {
		switch r.Status {
		case Pass:
			s.Passed++
		case Fail:
			s.Failed++
			s.Categories[r.Category]++
		case Skip:
			s.Skipped++
		}
	}
	return s
}
