// Package runtime compiles an op graph into a Program and runs it. Compile
// resolves every node to its op definition once; Run executes the nodes in
// order with the ops' kernels. A Program is immutable after Compile, so any
// number of goroutines may call Run at the same time.
package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/kernel"
	"github.com/kiln-ml/kiln/runtime/pass"
)

// Options tune compilation.
type Options struct {
	// Threads is the number of compute threads one Run may use; 0 means
	// the number of CPUs.
	Threads int
	// NoPlan disables planned execution: every run executes the reference
	// kernels with values allocated as they are produced.
	NoPlan bool
	// Passes selects the graph passes applied before compiling; nil means
	// every pass (pass.MaxLevel). Passes treat params as constants (they
	// fold and fuse weights), so a program compiled with passes does not
	// accept params overridden at run time; use Level 0 for that.
	Passes *pass.Options
}

// Program is a compiled graph.
type Program struct {
	g       *graph.Graph
	opts    Options
	steps   []step
	params  map[string]ops.Value
	subs    map[*graph.Graph]*Program
	outputs []string
	// free lists, per step, the values whose last reader is that step.
	free [][]string

	workers  *kernel.WorkerPool
	passes   pass.Options
	planMu   sync.Mutex
	plans    []*plan
	lastPlan atomic.Pointer[plan]
	noPlan   atomic.Bool
	// states and packs are shared by the program and the programs
	// specialised from it: execution states (see state.go), and weights
	// packed by kernels. rootParams are the compiled program's weights,
	// the only constants whose packed forms go in packs.
	states     *statePool
	packs      *kernel.PackCache
	rootParams map[string]ops.Value
}

type step struct {
	node *graph.Node
	def  *ops.Def
}

// ErrInput marks errors caused by the caller's inputs (missing, wrong dtype
// or shape); test with errors.Is.
var ErrInput = errors.New("invalid input")

// ErrEval marks an op that refused the values it was given at run time
// (an index out of range, a shape computed from the data that does not
// fit), as opposed to a kernel failure; test with errors.Is.
var ErrEval = errors.New("the model could not be evaluated on these inputs")

// Compile checks g and prepares it for execution. Every node whose op kiln
// does not know is reported in one error.
func Compile(g *graph.Graph, opts ...Options) (*Program, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Threads <= 0 {
		o.Threads = goruntime.NumCPU()
	}
	if err := g.Validate(nil); err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	po := pass.Options{Level: pass.MaxLevel}
	if o.Passes != nil {
		po = *o.Passes
	}
	if po.Level > 0 {
		var err error
		if g, err = pass.Apply(g, po); err != nil {
			return nil, fmt.Errorf("runtime: %w", err)
		}
	}
	var missing []string
	g.Walk(func(_ *graph.Graph, n *graph.Node) {
		if ops.Lookup(n.Domain, n.Op) == nil {
			missing = append(missing, n.Describe())
		}
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("runtime: %d nodes use ops kiln does not implement: %s: %w", len(missing), strings.Join(missing, ", "), ops.ErrUnsupported)
	}
	p, err := compile(g, o)
	if err != nil {
		return nil, err
	}
	p.passes = po
	p.workers = kernel.NewWorkerPool(o.Threads)
	if o.NoPlan {
		p.noPlan.Store(true)
	}
	return p, nil
}

// Close stops the program's worker goroutines. A closed program must not
// be run again. Programs that are simply dropped leak only idle goroutines.
func (p *Program) Close() {
	if p.workers != nil {
		p.workers.Close()
	}
}

func compile(g *graph.Graph, o Options) (*Program, error) {
	p := &Program{g: g, opts: o, params: map[string]ops.Value{}, subs: map[*graph.Graph]*Program{},
		states: &statePool{}, packs: kernel.NewPackCache()}
	p.rootParams = p.params
	for _, prm := range g.Params {
		p.params[prm.Name] = prm.Tensor
	}
	for _, n := range g.Nodes {
		p.steps = append(p.steps, step{node: n, def: ops.Lookup(n.Domain, n.Op)})
		for _, sg := range n.Subgraphs() {
			sp, err := compile(sg, o)
			if err != nil {
				return nil, err
			}
			p.subs[sg] = sp
		}
	}
	for _, v := range g.Outputs {
		p.outputs = append(p.outputs, v.Name)
	}
	p.planFrees()
	return p, nil
}

// planFrees records where each intermediate value is read for the last
// time, so Run can drop it and memory stays bounded by the live set.
func (p *Program) planFrees() {
	last := map[string]int{}
	for i, s := range p.steps {
		for _, in := range s.node.Inputs {
			if in != "" {
				last[in] = i
			}
		}
		for _, sg := range s.node.Subgraphs() {
			for name := range sg.FreeVars() {
				last[name] = i
			}
		}
	}
	keep := map[string]bool{}
	for _, o := range p.outputs {
		keep[o] = true
	}
	p.free = make([][]string, len(p.steps))
	for name, i := range last {
		if keep[name] {
			continue
		}
		if _, isParam := p.params[name]; isParam {
			continue
		}
		p.free[i] = append(p.free[i], name)
	}
	for _, f := range p.free {
		sort.Strings(f)
	}
}

// Graph returns the compiled graph.
func (p *Program) Graph() *graph.Graph { return p.g }

// Inputs returns the graph inputs the caller must feed.
func (p *Program) Inputs() []*graph.Value { return p.g.Inputs }

// Outputs returns the graph outputs Run returns.
func (p *Program) Outputs() []*graph.Value { return p.g.Outputs }

// Run executes the program on tensors keyed by input name and returns the
// outputs keyed by output name.
func (p *Program) Run(inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	return p.RunContext(context.Background(), inputs)
}

// RunContext is Run with cancellation: a cancelled ctx stops execution
// between nodes (and between loop iterations) with ctx.Err().
func (p *Program) RunContext(ctx context.Context, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	vin := make(map[string]ops.Value, len(inputs))
	for k, v := range inputs {
		vin[k] = v
	}
	vout, err := p.RunValues(ctx, vin)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*tensor.Tensor, len(vout))
	for k, v := range vout {
		t, ok := v.(*tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("runtime: output %q is a %s, not a tensor; use RunValues", k, kindName(v))
		}
		out[k] = t
	}
	return out, nil
}

// RunValues is the general form of Run, for graphs whose inputs or outputs
// are sequences or optionals.
func (p *Program) RunValues(ctx context.Context, inputs map[string]ops.Value) (map[string]ops.Value, error) {
	env := &scope{vals: make(map[string]ops.Value, len(p.steps)+len(inputs))}
	for _, in := range p.g.Inputs {
		v, ok := inputs[in.Name]
		if !ok || v == nil {
			return nil, fmt.Errorf("runtime: missing input %q (%s); the model's inputs are %s: %w", in.Name, in.Type, inputNames(p.g.Inputs), ErrInput)
		}
		if err := checkInput(in, v); err != nil {
			return nil, err
		}
		env.vals[in.Name] = v
	}
	for k := range inputs {
		if !hasInput(p.g.Inputs, k) {
			if _, isParam := p.params[k]; isParam {
				env.vals[k] = inputs[k] // an initializer overridden by the caller
				continue
			}
			return nil, fmt.Errorf("runtime: unknown input %q; the model's inputs are %s: %w", k, inputNames(p.g.Inputs), ErrInput)
		}
	}
	if ts, ok := tensorInputs(p.g.Inputs, inputs); ok && len(env.vals) == len(p.g.Inputs) {
		outs := make([]*tensor.Tensor, len(p.outputs))
		done, err := p.runPlanned(ctx, ts, outs)
		if err != nil {
			return nil, err
		}
		if done {
			res := make(map[string]ops.Value, len(outs))
			for i, o := range p.outputs {
				res[o] = outs[i]
			}
			return res, nil
		}
	}
	outs, err := p.exec(ctx, env)
	if err != nil {
		return nil, err
	}
	res := make(map[string]ops.Value, len(outs))
	for i, o := range p.outputs {
		res[o] = outs[i]
	}
	return res, nil
}

// tensorInputs returns the inputs in graph order when all are tensors.
func tensorInputs(vs []*graph.Value, in map[string]ops.Value) ([]*tensor.Tensor, bool) {
	ts := make([]*tensor.Tensor, len(vs))
	for i, v := range vs {
		t, ok := in[v.Name].(*tensor.Tensor)
		if !ok {
			return nil, false
		}
		ts[i] = t
	}
	return ts, true
}

// runPlanned runs through the plan for the inputs' shapes when the program
// can be planned; done is false when it must run dynamically instead.
func (p *Program) runPlanned(ctx context.Context, in []*tensor.Tensor, outs []*tensor.Tensor) (done bool, err error) {
	pl, observed, err := p.planFor(ctx, in)
	if err != nil || pl == nil {
		return false, err
	}
	if observed != nil {
		for i, v := range observed {
			t := v.(*tensor.Tensor)
			if outs[i] == nil {
				outs[i] = t
				continue
			}
			if outs[i].DType() != t.DType() || !outs[i].Shape().Equal(t.Shape()) {
				return false, fmt.Errorf("runtime: output %q is %s%v; the tensor given for it is %s%v: %w", p.outputs[i], t.DType(), t.Shape(), outs[i].DType(), outs[i].Shape(), ErrInput)
			}
			outs[i].CopyFrom(t)
		}
		return true, nil
	}
	if err := pl.run(ctx, p, in, outs); err != nil {
		if errors.Is(err, errReplan) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// RunInto runs the program on tensors given in graph-input order and
// writes the outputs, in graph-output order, into outs: a nil entry gets a
// new tensor; a given tensor must have the output's dtype and shape and is
// overwritten. With every entry given and a plannable program, RunInto
// does not allocate once the plan for these input shapes exists.
func (p *Program) RunInto(ctx context.Context, in []*tensor.Tensor, outs []*tensor.Tensor) error {
	if len(in) != len(p.g.Inputs) {
		return fmt.Errorf("runtime: got %d inputs, the model takes %d (%s): %w", len(in), len(p.g.Inputs), inputNames(p.g.Inputs), ErrInput)
	}
	if len(outs) != len(p.outputs) {
		return fmt.Errorf("runtime: got %d output slots, the model has %d outputs: %w", len(outs), len(p.outputs), ErrInput)
	}
	for i, v := range p.g.Inputs {
		if in[i] == nil {
			return fmt.Errorf("runtime: missing input %q (%s): %w", v.Name, v.Type, ErrInput)
		}
		if err := checkInput(v, in[i]); err != nil {
			return err
		}
	}
	done, err := p.runPlanned(ctx, in, outs)
	if err != nil || done {
		return err
	}
	env := &scope{vals: make(map[string]ops.Value, len(p.steps)+len(in))}
	for i, v := range p.g.Inputs {
		env.vals[v.Name] = in[i]
	}
	res, err := p.exec(ctx, env)
	if err != nil {
		return err
	}
	for i, v := range res {
		t, ok := v.(*tensor.Tensor)
		if !ok {
			return fmt.Errorf("runtime: output %q is a %s, not a tensor; use RunValues", p.outputs[i], kindName(v))
		}
		if outs[i] == nil {
			outs[i] = t
			continue
		}
		if outs[i].DType() != t.DType() || !outs[i].Shape().Equal(t.Shape()) {
			return fmt.Errorf("runtime: output %q is %s%v; the tensor given for it is %s%v: %w", p.outputs[i], t.DType(), t.Shape(), outs[i].DType(), outs[i].Shape(), ErrInput)
		}
		outs[i].CopyFrom(t)
	}
	return nil
}

func hasInput(vs []*graph.Value, name string) bool {
	for _, v := range vs {
		if v.Name == name {
			return true
		}
	}
	return false
}

func inputNames(vs []*graph.Value) string {
	var s []string
	for _, v := range vs {
		s = append(s, fmt.Sprintf("%q %s", v.Name, v.Type))
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

func kindName(v ops.Value) string {
	switch v.(type) {
	case *ops.Sequence:
		return "sequence"
	case *ops.Optional:
		return "optional"
	case nil:
		return "absent value"
	}
	return fmt.Sprintf("%T", v)
}

// checkInput verifies a fed value against the declared input type.
func checkInput(in *graph.Value, v ops.Value) error {
	t, isT := v.(*tensor.Tensor)
	want := in.Type
	switch want.Kind {
	case graph.KindTensor:
		if !isT {
			return fmt.Errorf("runtime: input %q: got a %s, want a tensor %s: %w", in.Name, kindName(v), want, ErrInput)
		}
		if want.DType != tensor.Undefined && t.DType() != want.DType {
			return fmt.Errorf("runtime: input %q: got %s%v, want dtype %s (%s): %w", in.Name, t.DType(), t.Shape(), want.DType, want, ErrInput)
		}
		if want.Unranked {
			return nil
		}
		if len(want.Shape) != t.Rank() {
			return fmt.Errorf("runtime: input %q: got shape %v, want rank %d (%s): %w", in.Name, t.Shape(), len(want.Shape), want, ErrInput)
		}
		for i, d := range want.Shape {
			if d >= 0 && t.Shape()[i] != d {
				return fmt.Errorf("runtime: input %q: got shape %v, want %s (dimension %d must be %d): %w", in.Name, t.Shape(), want, i, d, ErrInput)
			}
		}
	case graph.KindSequence:
		if _, ok := v.(*ops.Sequence); !ok {
			return fmt.Errorf("runtime: input %q: got a %s, want a sequence: %w", in.Name, kindName(v), ErrInput)
		}
	}
	return nil
}

type scope struct {
	vals   map[string]ops.Value
	parent *scope
}

func (s *scope) get(name string) (ops.Value, bool) {
	for c := s; c != nil; c = c.parent {
		if v, ok := c.vals[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// exec runs the steps in env and returns the graph outputs in order.
func (p *Program) exec(ctx context.Context, env *scope) ([]ops.Value, error) {
	return p.execObserved(ctx, env, nil)
}

// execObserved is exec calling observe for every value a node produces;
// observe returning false aborts with errNotPlannable.
func (p *Program) execObserved(ctx context.Context, env *scope, observe func(name string, v ops.Value) bool) ([]ops.Value, error) {
	for k, v := range p.params {
		if _, overridden := env.vals[k]; !overridden {
			env.vals[k] = v
		}
	}
	for i, s := range p.steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		in := make([]ops.Value, len(s.node.Inputs))
		for j, name := range s.node.Inputs {
			if name == "" {
				continue
			}
			v, ok := env.get(name)
			if !ok {
				return nil, fmt.Errorf("runtime: node %s: input %q was not computed (an optional output its producer did not write?)", s.node.Describe(), name)
			}
			in[j] = v
		}
		outs, err := p.runNode(ctx, env, s, in)
		if err != nil {
			return nil, err
		}
		for j, name := range s.node.Outputs {
			if name == "" {
				continue
			}
			if j < len(outs) && outs[j] != nil {
				env.vals[name] = outs[j]
				if observe != nil && !observe(name, outs[j]) {
					return nil, errNotPlannable
				}
			}
		}
		for _, name := range p.free[i] {
			delete(env.vals, name)
		}
	}
	res := make([]ops.Value, len(p.outputs))
	for i, name := range p.outputs {
		v, ok := env.get(name)
		if !ok {
			return nil, fmt.Errorf("runtime: output %q was not computed", name)
		}
		res[i] = v
	}
	return res, nil
}

// runNode evaluates one node, turning a kernel panic into an error that
// names the node (kernels are meant never to panic; this keeps a bug in one
// from taking down a server).
func (p *Program) runNode(ctx context.Context, env *scope, s step, in []ops.Value) (outs []ops.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("runtime: node %s: kernel failed: %v", s.node.Describe(), r)
		}
	}()
	ec := &ops.EvalContext{
		Ctx:  ctx,
		Node: s.node,
		RunGraph: func(g *graph.Graph, inputs []ops.Value) ([]ops.Value, error) {
			sp, ok := p.subs[g]
			if !ok {
				return nil, fmt.Errorf("runtime: node %s: subgraph was not compiled", s.node.Describe())
			}
			if len(inputs) != len(g.Inputs) {
				return nil, fmt.Errorf("runtime: node %s: subgraph %q takes %d inputs, got %d", s.node.Describe(), g.Name, len(g.Inputs), len(inputs))
			}
			child := &scope{vals: make(map[string]ops.Value, len(sp.steps)+len(inputs)), parent: env}
			for i, gi := range g.Inputs {
				child.vals[gi.Name] = inputs[i]
			}
			return sp.exec(ctx, child)
		},
	}
	outs, err = s.def.Run(ec, in)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrEval) {
			return nil, err
		}
		return nil, fmt.Errorf("%w (%w)", err, ErrEval)
	}
	return outs, nil
}
