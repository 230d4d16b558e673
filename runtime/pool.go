package runtime

import (
	"sync"
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
		t.f(i)
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
func (r *region) Parallel(n int, f func(i int)) {
	parts := r.w.threads
	if parts > n {
		parts = n
	}
	if parts <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	r.wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		r.w.queues[p-1] <- task{f: f, n: n, part: p, parts: parts, wg: &r.wg}
	}
	runPart(task{f: f, n: n, part: 0, parts: parts})
	r.wg.Wait()
}
