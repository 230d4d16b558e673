package runtime

import (
	"sync"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime/kernel"
)

// workers is a fixed set of goroutines that execute parallel regions for
// one Program. Work is split statically: region item i goes to
// participant i % threads, the calling goroutine being participant 0, so
// no goroutine is started and nothing is allocated per region.
type workers struct {
	threads int
	queues  []chan task
	once    sync.Once
}

type task struct {
	f     func(i int)
	t     kernel.Task
	in    []*tensor.Tensor
	out   []*tensor.Tensor
	n     int
	part  int
	parts int
	wg    *sync.WaitGroup
}

func newWorkers(threads int) *workers {
	w := &workers{threads: threads}
	if threads > 1 {
		w.queues = make([]chan task, threads-1)
		for i := range w.queues {
			q := make(chan task, 64)
			w.queues[i] = q
			go func() {
				for t := range q {
					runPart(t)
					t.wg.Done()
				}
			}()
		}
	}
	return w
}

func runPart(t task) {
	for i := t.part; i < t.n; i += t.parts {
		if t.t != nil {
			t.t.RunPart(i, t.in, t.out)
		} else {
			t.f(i)
		}
	}
}

func (w *workers) close() {
	w.once.Do(func() {
		for _, q := range w.queues {
			close(q)
		}
	})
}

// region is a per-execution-state handle on the shared workers; it owns
// the WaitGroup so concurrent Runs do not interfere.
type region struct {
	w  *workers
	wg sync.WaitGroup
}

// Threads implements kernel.Runner.
func (r *region) Threads() int { return r.w.threads }

// Parallel implements kernel.Runner.
func (r *region) Parallel(n int, f func(i int)) { r.run(task{f: f, n: n}) }

// ParallelTask implements kernel.Runner.
func (r *region) ParallelTask(n int, t kernel.Task, in, out []*tensor.Tensor) {
	r.run(task{t: t, in: in, out: out, n: n})
}

func (r *region) run(t task) {
	parts := r.w.threads
	if parts > t.n {
		parts = t.n
	}
	t.parts = 1
	if parts <= 1 {
		runPart(t)
		return
	}
	t.parts = parts
	t.wg = &r.wg
	r.wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		t.part = p
		r.w.queues[p-1] <- t
	}
	t.part = 0
	runPart(t)
	r.wg.Wait()
}
