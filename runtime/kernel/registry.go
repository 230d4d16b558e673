// Package kernel holds kiln's fast kernels. A kernel is chosen per node
// when a program is planned for concrete input shapes; it writes into
// output buffers the planner allocated in advance, so a planned program
// runs without heap allocation. Ops without a fast kernel run their
// reference implementation (ops.Def), which stays the specification every
// kernel here is tested against.
package kernel

import (
	"fmt"
	"sort"
	"sync"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Arg describes one input or output of a node at plan time.
type Arg struct {
	DType tensor.DType
	Shape tensor.Shape
	// Const holds the value when the input is a graph param (weights), so
	// kernels can pre-pack it once per program.
	Const *tensor.Tensor
	// Shared marks a Const that outlives the plan (a weight of the
	// compiled program), so its packed forms may be kept in Spec.Packs.
	Shared bool
}

// Spec is a node instance with concrete types, as the planner sees it.
type Spec struct {
	Node    *graph.Node
	In      []Arg // absent optional inputs have DType Undefined
	Out     []Arg
	Threads int
	// Packs, when set, shares packed Shared constants between the plans
	// of one program.
	Packs *PackCache
}

// Env is what a kernel may use while running: the program's thread pool
// and a scratch buffer owned by the calling execution state.
type Env struct {
	Pool    *WorkerPool
	scratch []float32
}

// Scratch returns a float32 buffer of length n, reused across calls on the
// same execution state (contents undefined). It allocates only when a
// larger buffer than ever before is requested.
func (e *Env) Scratch(n int) []float32 {
	if cap(e.scratch) < n {
		e.scratch = make([]float32, n)
	}
	return e.scratch[:n]
}

// Task is a kernel's parallel body: part i of n over the node's inputs and
// outputs.
type Task interface {
	RunPart(i int, in, out []*tensor.Tensor)
}

// Kernel computes one node into preallocated outputs. It must not
// allocate in steady state and trusts its inputs (the planner checked
// shapes).
type Kernel interface {
	Run(env *Env, in, out []*tensor.Tensor)
}

// KernelFunc adapts a function to Kernel.
type KernelFunc func(env *Env, in, out []*tensor.Tensor)

// Run calls f.
func (f KernelFunc) Run(env *Env, in, out []*tensor.Tensor) { f(env, in, out) }

// Factory returns a kernel for the spec, or nil when it does not apply.
type Factory func(s *Spec) Kernel

type entry struct {
	name     string
	priority int
	f        Factory
}

var (
	mu      sync.RWMutex
	entries = map[string][]entry{}
)

func key(domain, op string) string { return domain + "\x00" + op }

// Register adds a kernel factory for an op. When several apply, the one
// with the highest priority wins. name identifies it in tests and logs.
func Register(domain, op, name string, priority int, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	k := key(domain, op)
	entries[k] = append(entries[k], entry{name, priority, f})
	sort.SliceStable(entries[k], func(i, j int) bool { return entries[k][i].priority > entries[k][j].priority })
}

// Select returns the best kernel for the spec and its name, or nil.
func Select(s *Spec) (Kernel, string) {
	mu.RLock()
	es := entries[key(s.Node.Domain, s.Node.Op)]
	mu.RUnlock()
	for _, e := range es {
		if k := e.f(s); k != nil {
			return k, e.name
		}
	}
	return nil, ""
}

// Names lists the kernels registered for an op, best first.
func Names(domain, op string) []string {
	mu.RLock()
	defer mu.RUnlock()
	var out []string
	for _, e := range entries[key(domain, op)] {
		out = append(out, e.name)
	}
	return out
}

// ValueError is what a kernel panics with when the values (not the
// shapes) of its inputs are invalid, such as an index out of range; the
// runtime reports it as an input error rather than a kernel failure.
type ValueError struct{ Msg string }

func (e *ValueError) Error() string { return e.Msg }

// BadValue stops a kernel on invalid input values (see ValueError).
func BadValue(format string, args ...any) {
	panic(&ValueError{Msg: fmt.Sprintf(format, args...)})
}
