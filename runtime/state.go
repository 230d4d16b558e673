package runtime

import (
	"sync"

	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/kernel"
)

// Execution states and their memory.
//
// A planned run needs a buffer for every live intermediate value. The
// buffers of one execution state are carved from an arena: one slab per
// element type, each buffer at an offset the plan fixed. An execution state
// is bound to one plan (its tensor headers point into the arena at that
// plan's offsets), but the arena is not: when a run finds no idle state of
// its own plan, it may take an idle state of another plan and rebind it,
// growing the slabs if they are too small and remaking the headers.
//
// The program's idle states are kept within a byte budget of (most runs
// seen at once) x (largest arena any plan needs). A program run on many
// input shapes, say a server merging requests into batches of every size
// from 1 to 8, therefore holds about one arena per concurrent run, each as
// large as the largest plan, rather than a set of buffers per shape; and a
// program run on one shape keeps its states and runs without allocating.

// arenaAlign is the alignment, in elements, of buffers within a slab
// (64 bytes for float32: a cache line, and whole AVX-512 vectors).
const arenaAlign = 16

// maxIdleStates bounds the idle execution states a program keeps, whatever
// the byte budget allows.
const maxIdleStates = 8

// arenaType reports whether buffers of dt can be carved from a shared slab
// (the element types that have a Go slice of their own).
func arenaType(dt tensor.DType) bool {
	switch dt {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16,
		tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
		tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64,
		tensor.Bool, tensor.String:
		return true
	}
	return false
}

// layoutArena places the plan's buffers in per-type slabs.
func (pl *plan) layoutArena() {
	pl.bufOff = make([]int, len(pl.bufLens))
	need := map[tensor.DType]int{}
	var order []tensor.DType
	for i, n := range pl.bufLens {
		dt := pl.bufTypes[i]
		if !arenaType(dt) {
			pl.bufOff[i] = -1
			continue
		}
		off, seen := need[dt]
		if !seen {
			order = append(order, dt)
		}
		pl.bufOff[i] = off
		need[dt] = off + (n+arenaAlign-1)/arenaAlign*arenaAlign
	}
	pl.arena = pl.arena[:0]
	pl.arenaBytes = 0
	for _, dt := range order {
		pl.arena = append(pl.arena, slabNeed{dt, need[dt]})
		pl.arenaBytes += need[dt] * elemBytes(dt)
	}
	for i, n := range pl.bufLens {
		if pl.bufOff[i] < 0 {
			pl.arenaBytes += n * elemBytes(pl.bufTypes[i])
		}
	}
}

func elemBytes(dt tensor.DType) int {
	if dt == tensor.String {
		return 16
	}
	if s := dt.Size(); s > 0 {
		return s
	}
	return 1
}

type slabNeed struct {
	dtype tensor.DType
	n     int
}

// A slab is one element type's share of an arena.
type slab struct {
	dtype tensor.DType
	t     *tensor.Tensor
}

// execState is the mutable part of a planned run; each concurrent Run
// takes its own from the program's pool.
type execState struct {
	pl    *plan // the plan the headers below are laid out for
	slabs []slab
	bytes int // memory held by the slabs and own buffers
	slots []*tensor.Tensor
	ins   [][]*tensor.Tensor
	outs  [][]*tensor.Tensor
	vals  []ops.Value
	env   kernel.Env
}

// bind lays es out for pl: slabs grown to pl's needs (kept otherwise, so
// a state moving between plans keeps its largest arena), buffers of types
// not kept in slabs allocated, and every header remade.
func (es *execState) bind(pl *plan) error {
	es.pl = nil
	for _, need := range pl.arena {
		i := 0
		for i < len(es.slabs) && es.slabs[i].dtype != need.dtype {
			i++
		}
		if i == len(es.slabs) {
			es.slabs = append(es.slabs, slab{dtype: need.dtype})
		}
		if s := &es.slabs[i]; s.t == nil || s.t.Len() < need.n {
			t, err := tensor.NewChecked(need.dtype, tensor.Shape{need.n})
			if err != nil {
				return err
			}
			s.t = t
		}
	}
	es.bytes = 0
	for _, s := range es.slabs {
		es.bytes += s.t.Len() * elemBytes(s.dtype)
	}
	bufs := make([]*tensor.Tensor, len(pl.bufLens))
	for i, n := range pl.bufLens {
		var err error
		if off := pl.bufOff[i]; off >= 0 {
			bufs[i], err = sliceAt(es.slab(pl.bufTypes[i]), off, tensor.Shape{n})
		} else {
			bufs[i], err = tensor.NewChecked(pl.bufTypes[i], tensor.Shape{n})
			es.bytes += n * elemBytes(pl.bufTypes[i])
		}
		if err != nil {
			return err
		}
	}
	es.slots = make([]*tensor.Tensor, len(pl.slots))
	for _, ps := range pl.params {
		es.slots[ps.slot] = ps.t
	}
	for i, s := range pl.slots {
		if s.buf >= 0 {
			t, err := sliceView(bufs[s.buf], s.shape)
			if err != nil {
				return err
			}
			es.slots[i] = t
		}
	}
	// Views after their sources (slot order follows step order).
	for i, s := range pl.slots {
		if s.view >= 0 {
			t, err := sliceView(es.slots[pl.root(i)], s.shape)
			if err != nil {
				return err
			}
			es.slots[i] = t
		}
	}
	es.ins = make([][]*tensor.Tensor, len(pl.steps))
	es.outs = make([][]*tensor.Tensor, len(pl.steps))
	maxIn := 0
	for i, s := range pl.steps {
		es.ins[i] = make([]*tensor.Tensor, len(s.in))
		es.outs[i] = make([]*tensor.Tensor, len(s.out))
		for j, sl := range s.out {
			if sl >= 0 {
				es.outs[i][j] = es.slots[sl]
			}
		}
		maxIn = max(maxIn, len(s.in))
	}
	es.vals = make([]ops.Value, maxIn)
	es.pl = pl
	return nil
}

func (es *execState) slab(dt tensor.DType) *tensor.Tensor {
	for _, s := range es.slabs {
		if s.dtype == dt {
			return s.t
		}
	}
	return nil
}

// statePool holds a program's execution states: idle ones least recently
// used first, and the accounting for the byte budget.
type statePool struct {
	mu      sync.Mutex
	idle    []*execState
	running int
	peak    int // most states in use at once
	held    int // bytes held by all live states, running and idle
	largest int // bytes of the largest arena a plan needed
}

// get returns a state bound to pl: an idle one of pl's own, else, when
// making a new one would go over the budget, the least recently used idle
// state rebound to pl, else a new one.
func (sp *statePool) get(pl *plan, w *kernel.WorkerPool) (*execState, error) {
	sp.mu.Lock()
	sp.running++
	sp.peak = max(sp.peak, sp.running)
	sp.largest = max(sp.largest, pl.arenaBytes)
	for i := len(sp.idle) - 1; i >= 0; i-- {
		if es := sp.idle[i]; es.pl == pl {
			sp.removeIdle(i)
			sp.mu.Unlock()
			return es, nil
		}
	}
	var es *execState
	if len(sp.idle) > 0 && sp.held+pl.arenaBytes > sp.budget() {
		es = sp.idle[0]
		sp.removeIdle(0)
	}
	sp.mu.Unlock()
	before := 0
	if es == nil {
		es = &execState{}
		es.env.Pool = w
	} else {
		before = es.bytes
	}
	err := es.bind(pl)
	sp.mu.Lock()
	sp.held += es.bytes - before
	if err != nil {
		sp.held -= es.bytes
		sp.running--
	}
	sp.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return es, nil
}

// put returns a state after a run and drops the least recently used idle
// states while the pool is over its budget.
func (sp *statePool) put(es *execState) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.running--
	sp.idle = append(sp.idle, es)
	for len(sp.idle) > 0 && (sp.held > sp.budget() || len(sp.idle) > maxIdleStates) {
		sp.held -= sp.idle[0].bytes
		sp.removeIdle(0)
	}
}

func (sp *statePool) budget() int { return max(sp.peak, 1) * sp.largest }

func (sp *statePool) removeIdle(i int) {
	copy(sp.idle[i:], sp.idle[i+1:])
	sp.idle[len(sp.idle)-1] = nil
	sp.idle = sp.idle[:len(sp.idle)-1]
}

// stats reports, for tests, the idle states and bytes held.
func (sp *statePool) stats() (idle, held int) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return len(sp.idle), sp.held
}
