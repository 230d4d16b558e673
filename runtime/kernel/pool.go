package kernel

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Pool runs f(0), ..., f(n-1), possibly concurrently, and returns when all
// have returned. Kernels call it with n no larger than the pool's worker
// count (see Workers) and f free of allocation, so a Pool that does not
// allocate keeps the kernels allocation-free.
type Pool interface {
	Parallel(n int, f func(i int))
}

// workers returns how many slices to cut work into for p: p.Workers() if p
// has that method, else GOMAXPROCS.
func workers(p Pool) int {
	if w, ok := p.(interface{ Workers() int }); ok {
		return max(w.Workers(), 1)
	}
	return goruntime.GOMAXPROCS(0)
}

// WorkerPool is a Pool of fixed goroutines: NewWorkerPool(t) starts t-1 of
// them, and the goroutine calling Parallel is the t-th worker. Parallel
// hands out indices through an atomic counter and does not allocate in
// steady state. Concurrent Parallel calls are safe; they share the
// workers. Close stops the goroutines.
type WorkerPool struct {
	threads int
	work    chan *parallelCall
	once    sync.Once
}

type parallelCall struct {
	f    func(i int)
	t    Task
	pt   PartTask
	env  *Env
	in   []*tensor.Tensor
	out  []*tensor.Tensor
	n    int64
	next atomic.Int64
	wg   sync.WaitGroup
}

var calls = sync.Pool{New: func() any { return new(parallelCall) }}

// NewWorkerPool returns a pool of threads workers (at least 1).
func NewWorkerPool(threads int) *WorkerPool {
	threads = max(threads, 1)
	p := &WorkerPool{threads: threads, work: make(chan *parallelCall, threads)}
	for range threads - 1 {
		go func() {
			for c := range p.work {
				c.drain()
				c.wg.Done()
			}
		}()
	}
	return p
}

// Workers returns the number of workers, the caller included.
func (p *WorkerPool) Workers() int { return p.threads }

// Parallel runs f(0..n-1) on the workers and the calling goroutine.
func (p *WorkerPool) Parallel(n int, f func(i int)) {
	if n <= 0 {
		return
	}
	if n == 1 || p.threads == 1 {
		for i := range n {
			f(i)
		}
		return
	}
	c := calls.Get().(*parallelCall)
	c.f, c.n = f, int64(n)
	p.run(c, n)
}

// ParallelTask runs t.RunPart(i, in, out) for i in [0, n) on the workers
// and the calling goroutine, without allocating.
func (p *WorkerPool) ParallelTask(n int, t Task, in, out []*tensor.Tensor) {
	if n <= 0 {
		return
	}
	if n == 1 || p.threads == 1 {
		for i := range n {
			t.RunPart(i, in, out)
		}
		return
	}
	c := calls.Get().(*parallelCall)
	c.t, c.in, c.out, c.n = t, in, out, int64(n)
	p.run(c, n)
}

// PartTask is a parallel body told the number of parts and the calling
// kernel's Env. A kernel implements it on its own pointer type, so passing
// it to ParallelParts boxes only a pointer: a Task built per call as a
// struct value {kernel, parts} is copied to the heap when it is converted
// to the interface, one allocation per parallel run. Parts may share the
// Env's scratch buffer by taking disjoint slices of what Run reserved.
type PartTask interface {
	RunPart(env *Env, i, n int, in, out []*tensor.Tensor)
}

// ParallelParts runs t.RunPart(env, i, n, in, out) for i in [0, n) on the
// workers and the calling goroutine, without allocating.
func (p *WorkerPool) ParallelParts(n int, t PartTask, env *Env, in, out []*tensor.Tensor) {
	if n <= 0 {
		return
	}
	if n == 1 || p.threads == 1 {
		for i := range n {
			t.RunPart(env, i, n, in, out)
		}
		return
	}
	c := calls.Get().(*parallelCall)
	c.pt, c.env, c.in, c.out, c.n = t, env, in, out, int64(n)
	p.run(c, n)
}

// Threads is Workers (kernel.Runner).
func (p *WorkerPool) Threads() int { return p.threads }

func (p *WorkerPool) run(c *parallelCall, n int) {
	c.next.Store(0)
	helpers := min(p.threads-1, n-1)
	c.wg.Add(helpers)
	for range helpers {
		p.work <- c
	}
	c.drain()
	c.wg.Wait()
	c.f, c.t, c.pt, c.env, c.in, c.out = nil, nil, nil, nil, nil, nil
	calls.Put(c)
}

func (c *parallelCall) drain() {
	for {
		i := c.next.Add(1) - 1
		if i >= c.n {
			return
		}
		if c.pt != nil {
			c.pt.RunPart(c.env, int(i), int(c.n), c.in, c.out)
		} else if c.t != nil {
			c.t.RunPart(int(i), c.in, c.out)
		} else {
			c.f(int(i))
		}
	}
}

// Close stops the pool's goroutines; Parallel must not be called after.
func (p *WorkerPool) Close() { p.once.Do(func() { close(p.work) }) }
