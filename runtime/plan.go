package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/kernel"
	"github.com/kiln-ml/kiln/runtime/pass"
)

// A plan is a program specialised to one signature of input shapes: every
// intermediate value has a slot whose buffer was sized and assigned
// before the first planned run, buffers are reused once their values are
// dead, reshapes are views, and each node has its kernel chosen. Plans are
// made from an observed run of the program on that signature, so they
// cover every op whose output shapes follow from its input shapes; a
// value-dependent shape change is detected and sends the program back to
// dynamic execution.
type plan struct {
	sigShapes []tensor.Shape
	sigTypes  []tensor.DType
	steps     []pstep
	slots     []slotInfo
	bufTypes  []tensor.DType
	bufLens   []int
	inSlots   []int
	outSlots  []int
	params    []paramSlot
	// bufOff is each buffer's offset in its type's arena slab, or -1 for
	// a buffer allocated on its own; arena is what the slabs must hold.
	bufOff     []int
	arena      []slabNeed
	arenaBytes int
	broken     atomic.Bool
	kernels    int // steps with a fast kernel (for tests and reports)
	// prog is the program the plan's steps belong to: the compiled
	// program, or one specialised to the plan's input shapes.
	prog *Program
}

type pstep struct {
	st     step
	in     []int // slot per input; -1 when absent
	out    []int // slot per output; -1 when unused
	kern   kernel.Kernel
	kname  string
	view   bool // output 0 aliases input 0's buffer with a new shape
	static bool // every output shape checked against the plan
}

type slotInfo struct {
	dtype tensor.DType
	shape tensor.Shape
	buf   int // -1: fed (graph input) or param
	view  int // slot this one is a view of, or -1
}

type paramSlot struct {
	slot int
	t    *tensor.Tensor
}

var errReplan = errors.New("runtime: a value-dependent shape changed since planning")

// viewOps are ops whose first output is their first input with a new
// shape (same dtype and element count), so it can share the buffer.
var viewOps = map[string]bool{"Reshape": true, "Flatten": true, "Squeeze": true, "Unsqueeze": true, "Identity": true}

// valShape is a value's element type and shape as the planner sees it.
type valShape struct {
	dtype tensor.DType
	shape tensor.Shape
}

// staticShapes infers every value's type from the graph's (concrete) input
// types with the ops' Infer functions. It reports false when some output's
// shape is not fully known statically; the planner then observes a run.
func (p *Program) staticShapes() (map[string]valShape, bool) {
	for _, v := range p.g.Inputs {
		if !v.Type.Static() {
			return nil, false
		}
	}
	types := pass.InferTypes(p.g)
	seen := map[string]valShape{}
	for _, s := range p.steps {
		for _, name := range s.node.Outputs {
			if name == "" {
				continue
			}
			t, ok := types[name]
			if !ok || !t.Static() || !t.DType.Supported() {
				return nil, false
			}
			seen[name] = valShape{t.DType, tensor.Shape(t.Shape)}
		}
	}
	return seen, true
}

// makePlan builds a plan for the given inputs from statically inferred
// shapes or, when those are incomplete, from an observed run (whose outputs
// it also returns). It returns a nil plan when the program cannot be
// planned (control flow, sequences).
func (p *Program) makePlan(ctx context.Context, in []*tensor.Tensor) (*plan, []ops.Value, error) {
	for _, s := range p.steps {
		if len(s.node.Subgraphs()) > 0 {
			return nil, nil, nil
		}
	}
	seen, static := p.staticShapes()
	var observed []ops.Value
	if !static {
		seen = map[string]valShape{}
		env := &scope{vals: map[string]ops.Value{}}
		for i, v := range p.g.Inputs {
			env.vals[v.Name] = in[i]
		}
		var err error
		observed, err = p.execObserved(ctx, env, func(name string, v ops.Value) bool {
			t, ok := v.(*tensor.Tensor)
			if ok {
				seen[name] = valShape{t.DType(), t.Shape()}
			}
			return ok
		})
		if err != nil {
			if errors.Is(err, errNotPlannable) {
				return nil, nil, nil
			}
			return nil, nil, err
		}
	}
	pl := &plan{}
	for _, t := range in {
		pl.sigShapes = append(pl.sigShapes, t.Shape().Clone())
		pl.sigTypes = append(pl.sigTypes, t.DType())
	}
	slotOf := map[string]int{}
	addSlot := func(name string, info slotInfo) int {
		slotOf[name] = len(pl.slots)
		pl.slots = append(pl.slots, info)
		return len(pl.slots) - 1
	}
	for i, v := range p.g.Inputs {
		pl.inSlots = append(pl.inSlots, addSlot(v.Name, slotInfo{dtype: in[i].DType(), shape: in[i].Shape().Clone(), buf: -1, view: -1}))
	}
	for name, v := range p.params {
		if _, fed := slotOf[name]; fed {
			continue
		}
		t := v.(*tensor.Tensor)
		pl.params = append(pl.params, paramSlot{slot: addSlot(name, slotInfo{dtype: t.DType(), shape: t.Shape(), buf: -1, view: -1}), t: t})
	}
	for _, s := range p.steps {
		ps := pstep{st: s, static: true}
		for _, name := range s.node.Inputs {
			if name == "" {
				ps.in = append(ps.in, -1)
				continue
			}
			sl, ok := slotOf[name]
			if !ok {
				return nil, nil, fmt.Errorf("runtime: planning: node %s reads %q before it is computed", s.node.Describe(), name)
			}
			ps.in = append(ps.in, sl)
		}
		for _, name := range s.node.Outputs {
			t, ok := seen[name]
			if name == "" || !ok {
				ps.out = append(ps.out, -1)
				continue
			}
			ps.out = append(ps.out, addSlot(name, slotInfo{dtype: t.dtype, shape: t.shape.Clone(), buf: -1, view: -1}))
		}
		if viewOps[s.node.Op] && s.node.Domain == "" && len(ps.in) > 0 && ps.in[0] >= 0 && len(ps.out) > 0 && ps.out[0] >= 0 {
			src, dst := pl.slots[ps.in[0]], pl.slots[ps.out[0]]
			if src.buf != -1 { // computed here (not a fed input or a param)
				if src.dtype == dst.dtype && src.shape.Size() == dst.shape.Size() {
					ps.view = true
					pl.slots[ps.out[0]].view = ps.in[0]
				}
			}
		}
		spec := &kernel.Spec{Node: s.node, Threads: p.opts.Threads, Packs: p.packs}
		for _, sl := range ps.in {
			if sl < 0 {
				spec.In = append(spec.In, kernel.Arg{})
				continue
			}
			a := kernel.Arg{DType: pl.slots[sl].dtype, Shape: pl.slots[sl].shape}
			if t, ok := p.params[s.node.Inputs[len(spec.In)]]; ok {
				a.Const = t.(*tensor.Tensor)
				a.Shared = p.rootParams[s.node.Inputs[len(spec.In)]] == t
			}
			spec.In = append(spec.In, a)
		}
		for _, sl := range ps.out {
			if sl < 0 {
				spec.Out = append(spec.Out, kernel.Arg{})
				continue
			}
			spec.Out = append(spec.Out, kernel.Arg{DType: pl.slots[sl].dtype, Shape: pl.slots[sl].shape})
		}
		if !ps.view {
			ps.kern, ps.kname = kernel.Select(spec)
			if ps.kern != nil {
				pl.kernels++
			}
		}
		pl.steps = append(pl.steps, ps)
		// Mark internal slots (computed by a step) so views of them are allowed.
		for _, sl := range ps.out {
			if sl >= 0 && !ps.view {
				pl.slots[sl].buf = -2 // to be assigned
			}
		}
		if ps.view {
			pl.slots[ps.out[0]].buf = -3 // view, no buffer
		}
	}
	for _, v := range p.g.Outputs {
		sl, ok := slotOf[v.Name]
		if !ok {
			return nil, nil, fmt.Errorf("runtime: planning: output %q was not computed", v.Name)
		}
		pl.outSlots = append(pl.outSlots, sl)
	}
	pl.assignBuffers()
	pl.layoutArena()
	return pl, observed, nil
}

// root follows view links to the slot that owns the buffer.
func (pl *plan) root(slot int) int {
	for pl.slots[slot].view >= 0 {
		slot = pl.slots[slot].view
	}
	return slot
}

// assignBuffers gives every computed slot a buffer, reusing buffers of
// values that are dead (liveness over the step order; graph outputs live
// to the end; a view keeps its source alive).
func (pl *plan) assignBuffers() {
	n := len(pl.slots)
	last := make([]int, n)
	for i := range last {
		last[i] = -1
	}
	for i, s := range pl.steps {
		for _, sl := range s.in {
			if sl >= 0 {
				r := pl.root(sl)
				if i > last[r] {
					last[r] = i
				}
			}
		}
		for _, sl := range s.out {
			if sl >= 0 {
				r := pl.root(sl)
				if i > last[r] {
					last[r] = i
				}
			}
		}
	}
	end := len(pl.steps)
	for _, sl := range pl.outSlots {
		last[pl.root(sl)] = end
	}
	type freeBuf struct{ id int }
	free := map[tensor.DType][]int{}
	releaseAt := make([][]int, end+1)
	for i, s := range pl.steps {
		for _, sl := range s.out {
			if sl < 0 || pl.slots[sl].buf != -2 {
				continue
			}
			dt := pl.slots[sl].dtype
			need := pl.slots[sl].shape.Size()
			best := -1
			for j, b := range free[dt] {
				if pl.bufLens[b] >= need && (best < 0 || pl.bufLens[b] < pl.bufLens[free[dt][best]]) {
					best = j
				}
			}
			if best < 0 && len(free[dt]) > 0 {
				// Grow the largest free buffer rather than adding one.
				for j, b := range free[dt] {
					if best < 0 || pl.bufLens[b] > pl.bufLens[free[dt][best]] {
						best = j
					}
				}
				pl.bufLens[free[dt][best]] = need
			}
			var id int
			if best >= 0 {
				id = free[dt][best]
				free[dt] = append(free[dt][:best], free[dt][best+1:]...)
			} else {
				id = len(pl.bufLens)
				pl.bufLens = append(pl.bufLens, need)
				pl.bufTypes = append(pl.bufTypes, dt)
			}
			pl.slots[sl].buf = id
			l := last[sl]
			if l < i {
				l = i // written but never read: free after this step
			}
			releaseAt[l] = append(releaseAt[l], id)
		}
		for _, id := range releaseAt[i] {
			free[pl.bufTypes[id]] = append(free[pl.bufTypes[id]], id)
		}
	}
}

// sliceView returns a tensor of the given shape over the first elements of
// buf's data (shared).
func sliceView(buf *tensor.Tensor, shape tensor.Shape) (*tensor.Tensor, error) {
	return sliceAt(buf, 0, shape)
}

// sliceAt returns a tensor of the given shape over buf's data from element
// off (shared, capacity capped so a kernel cannot write past it).
func sliceAt(buf *tensor.Tensor, off int, shape tensor.Shape) (*tensor.Tensor, error) {
	n := shape.Size()
	var data any
	switch d := buf.Data().(type) {
	case []float32:
		data = window(d, off, n)
	case []float64:
		data = window(d, off, n)
	case []tensor.Half:
		data = window(d, off, n)
	case []tensor.BHalf:
		data = window(d, off, n)
	case []int8:
		data = window(d, off, n)
	case []int16:
		data = window(d, off, n)
	case []int32:
		data = window(d, off, n)
	case []int64:
		data = window(d, off, n)
	case []uint8:
		data = window(d, off, n)
	case []uint16:
		data = window(d, off, n)
	case []uint32:
		data = window(d, off, n)
	case []uint64:
		data = window(d, off, n)
	case []bool:
		data = window(d, off, n)
	case []string:
		data = window(d, off, n)
	default:
		// The low-precision types and any others: the tensor package
		// knows how to slice them (whole buffers only; see arenaType).
		if off != 0 {
			return nil, fmt.Errorf("runtime: %s buffers cannot be carved from an arena", buf.DType())
		}
		return buf.Prefix(shape)
	}
	return tensor.FromSlice(shape, data)
}

func window[T any](d []T, off, n int) []T { return d[off : off+n : off+n] }

// matches reports whether the inputs have the plan's signature.
func (pl *plan) matches(in []*tensor.Tensor) bool {
	if len(in) != len(pl.sigShapes) {
		return false
	}
	for i, t := range in {
		if t.DType() != pl.sigTypes[i] || !t.Shape().Equal(pl.sigShapes[i]) {
			return false
		}
	}
	return true
}

// run executes the plan. Outputs are copied into outs (allocated when nil).
func (pl *plan) run(ctx context.Context, p *Program, in []*tensor.Tensor, outs []*tensor.Tensor) error {
	states := p.states
	if pl.prog != nil {
		p = pl.prog
	}
	es, err := states.get(pl, p.workers)
	if err != nil {
		return err
	}
	defer func() {
		for _, sl := range pl.inSlots {
			es.slots[sl] = nil // do not keep the caller's inputs alive
		}
		states.put(es)
	}()
	for i, sl := range pl.inSlots {
		es.slots[sl] = in[i]
	}
	for i := range pl.steps {
		s := &pl.steps[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.view {
			continue
		}
		args := es.ins[i]
		for j, sl := range s.in {
			if sl >= 0 {
				args[j] = es.slots[sl]
			} else {
				args[j] = nil
			}
		}
		if s.kern != nil {
			if err := runKernel(s, &es.env, args, es.outs[i]); err != nil {
				return err
			}
			continue
		}
		if err := pl.runReference(ctx, p, es, s, args, es.outs[i]); err != nil {
			return err
		}
	}
	for i, sl := range pl.outSlots {
		src := es.slots[sl]
		if outs[i] == nil {
			outs[i] = src.Clone()
			continue
		}
		if outs[i].DType() != src.DType() || !outs[i].Shape().Equal(src.Shape()) {
			return fmt.Errorf("runtime: output %q is %s%v; the tensor given for it is %s%v: %w", p.outputs[i], src.DType(), src.Shape(), outs[i].DType(), outs[i].Shape(), ErrInput)
		}
		outs[i].CopyFrom(src)
	}
	return nil
}

func runKernel(s *pstep, env *kernel.Env, in, out []*tensor.Tensor) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if ve, ok := r.(*kernel.ValueError); ok {
				err = fmt.Errorf("runtime: node %s: %s: %w", s.st.node.Describe(), ve.Msg, ErrEval)
				return
			}
			err = fmt.Errorf("runtime: node %s: kernel %s failed: %v", s.st.node.Describe(), s.kname, r)
		}
	}()
	s.kern.Run(env, in, out)
	return nil
}

// runReference runs a node's reference implementation and copies its
// results into the planned buffers, checking they have the planned shapes.
func (pl *plan) runReference(ctx context.Context, p *Program, es *execState, s *pstep, args, outs []*tensor.Tensor) error {
	vals := es.vals[:len(args)]
	for j, t := range args {
		if t != nil {
			vals[j] = t
		} else {
			vals[j] = nil
		}
	}
	res, err := p.runNode(ctx, nil, s.st, vals)
	if err != nil {
		return err
	}
	for j, o := range outs {
		if o == nil {
			continue
		}
		var t *tensor.Tensor
		if j < len(res) {
			t, _ = res[j].(*tensor.Tensor)
		}
		if t == nil || t.DType() != o.DType() || !t.Shape().Equal(o.Shape()) {
			pl.broken.Store(true)
			return errReplan
		}
		o.CopyFrom(t)
	}
	return nil
}

// errNotPlannable is returned by the observer when a value is not a tensor.
var errNotPlannable = errors.New("runtime: program holds non-tensor values")

// planFor returns the plan for the inputs' signature, making it on first
// use. That first call runs the program to observe every shape and returns
// the observed outputs too, so the caller need not run again. It returns a
// nil plan when the program must run dynamically.
func (p *Program) planFor(ctx context.Context, in []*tensor.Tensor) (*plan, []ops.Value, error) {
	if p.noPlan.Load() {
		return nil, nil, nil
	}
	if pl := p.lastPlan.Load(); pl != nil && pl.matches(in) {
		if pl.broken.Load() {
			return nil, nil, nil
		}
		return pl, nil, nil
	}
	p.planMu.Lock()
	defer p.planMu.Unlock()
	for _, pl := range p.plans {
		if pl.matches(in) {
			p.lastPlan.Store(pl)
			if pl.broken.Load() {
				return nil, nil, nil
			}
			return pl, nil, nil
		}
	}
	sp := p.specialize(in)
	pl, observed, err := sp.makePlan(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	if pl == nil {
		p.noPlan.Store(true)
		return nil, nil, nil
	}
	pl.prog = sp
	if len(p.plans) >= maxPlans {
		p.plans = p.plans[1:]
	}
	p.plans = append(p.plans, pl)
	p.lastPlan.Store(pl)
	return pl, observed, nil
}

// specialize returns the program to plan for these inputs: when the graph
// has inputs of unknown shape and passes are on, a program compiled from
// the graph with the concrete input shapes, so shape arithmetic folds away
// and fusions that need static shapes (attention) apply; else p itself.
// A specialisation that fails falls back to p.
func (p *Program) specialize(in []*tensor.Tensor) *Program {
	if p.passes.Level <= 0 || !hasDynamicInput(p.g) {
		return p
	}
	g := p.g.Clone()
	for i, v := range g.Inputs {
		if v.Type.Kind != graph.KindTensor {
			return p
		}
		v.Type.Shape = append([]int(nil), in[i].Shape()...)
		v.Type.Unranked = false
		v.Type.DimNames = nil
	}
	g, err := pass.Apply(g, p.passes)
	if err != nil {
		return p
	}
	sp, err := compile(g, p.opts)
	if err != nil {
		return p
	}
	sp.workers = p.workers
	sp.passes = p.passes
	sp.states = p.states
	sp.packs = p.packs
	sp.rootParams = p.rootParams
	return sp
}

func hasDynamicInput(g *graph.Graph) bool {
	for _, v := range g.Inputs {
		if v.Type.Unranked {
			return true
		}
		for _, d := range v.Type.Shape {
			if d < 0 {
				return true
			}
		}
	}
	return false
}

// maxPlans bounds the plan cache (one plan per input-shape signature).
const maxPlans = 16

// planned reports, for tests, the number of steps and of steps with a fast
// kernel in the plan for these inputs.
func (p *Program) planned(in []*tensor.Tensor) (steps, kernels int) {
	pl, _, _ := p.planFor(context.Background(), in)
	if pl == nil {
		return 0, 0
	}
	return len(pl.steps), pl.kernels
}
