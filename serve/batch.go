package serve

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// errQueueFull is returned by submit when the model's queue is full.
var errQueueFull = errors.New("queue full")

// A job is one request's inputs, in model input order, waiting to run.
type job struct {
	ctx  context.Context
	in   []*tensor.Tensor
	rows int // size of the leading dimension, when the model is batched
	done chan result
}

type result struct {
	out   []*tensor.Tensor
	batch int // requests run together with this one, itself included
	err   error
}

// A batcher runs the requests for one model on a fixed set of workers.
// With batching on, a worker that takes a request from the queue also
// takes every request already waiting (and those arriving within delay)
// until maxBatch rows are gathered, runs them as one batch, and splits
// the outputs back, row ranges in queue order.
type batcher struct {
	name     string
	m        *kiln.Model
	q        chan *job
	maxBatch int
	delay    time.Duration
	batching bool
	met      *metrics
	wg       sync.WaitGroup
	// unbatchable turns batching off after a model whose outputs did not
	// follow the batch dimension.
	unbatchable atomic.Bool
}

func newBatcher(name string, m *kiln.Model, cfg Config, met *metrics) *batcher {
	b := &batcher{
		name:     name,
		m:        m,
		q:        make(chan *job, cfg.MaxQueue),
		maxBatch: cfg.MaxBatch,
		delay:    cfg.BatchDelay,
		batching: cfg.MaxBatch > 1 && m.Batched(),
		met:      met,
	}
	for range cfg.Workers {
		b.wg.Go(b.work)
	}
	return b
}

// submit queues a job without blocking; a full queue gives errQueueFull.
func (b *batcher) submit(j *job) error {
	select {
	case b.q <- j:
		b.met.queueDepth.WithLabelValues(b.name).Inc()
		return nil
	default:
		return errQueueFull
	}
}

// close stops the workers once the queue is drained. No submit may follow.
func (b *batcher) close() {
	close(b.q)
	b.wg.Wait()
}

func (b *batcher) take() (*job, bool) {
	j, ok := <-b.q
	if ok {
		b.met.queueDepth.WithLabelValues(b.name).Dec()
	}
	return j, ok
}

func (b *batcher) work() {
	var next *job
	var timer *time.Timer
	for {
		first := next
		next = nil
		if first == nil {
			var ok bool
			if first, ok = b.take(); !ok {
				return
			}
		}
		if first.ctx.Err() != nil {
			first.done <- result{err: first.ctx.Err()}
			continue
		}
		batch := []*job{first}
		rows := first.rows
		if b.batching && !b.unbatchable.Load() && rows < b.maxBatch {
			var deadline <-chan time.Time
			if b.delay > 0 {
				if timer == nil {
					timer = time.NewTimer(b.delay)
				} else {
					timer.Reset(b.delay)
				}
				deadline = timer.C
			}
		gather:
			for rows < b.maxBatch {
				var j *job
				var ok bool
				select {
				case j, ok = <-b.q:
				default:
					if deadline == nil {
						break gather
					}
					select {
					case j, ok = <-b.q:
					case <-deadline:
						deadline = nil
						break gather
					}
				}
				if !ok {
					break gather
				}
				b.met.queueDepth.WithLabelValues(b.name).Dec()
				if j.ctx.Err() != nil {
					j.done <- result{err: j.ctx.Err()}
					continue
				}
				if rows+j.rows > b.maxBatch || !stackable(first, j) {
					next = j
					break gather
				}
				batch = append(batch, j)
				rows += j.rows
			}
			if deadline != nil {
				timer.Stop()
			}
		}
		b.run(batch, rows)
	}
}

// stackable reports whether two requests' inputs agree in every dimension
// but the first, so they can be concatenated along it.
func stackable(a, b *job) bool {
	for i := range a.in {
		sa, sb := a.in[i].Shape(), b.in[i].Shape()
		if len(sa) != len(sb) || len(sa) == 0 {
			return false
		}
		if !sa[1:].Equal(sb[1:]) {
			return false
		}
	}
	return true
}

func (b *batcher) run(batch []*job, rows int) {
	b.met.batchSize.WithLabelValues(b.name).Observe(float64(len(batch)))
	if len(batch) == 1 {
		j := batch[0]
		out, err := b.predict(j.ctx, j.in)
		j.done <- result{out: out, batch: 1, err: err}
		return
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	in := make([]*tensor.Tensor, len(batch[0].in))
	for i := range in {
		parts := make([]*tensor.Tensor, len(batch))
		for k, j := range batch {
			parts[k] = j.in[i]
		}
		in[i] = concat(parts, rows)
	}
	out, err := b.predict(ctx, in)
	if err == nil {
		for _, o := range out {
			if o.Rank() == 0 || o.Shape()[0] != rows {
				// The leading output dimension is not the batch after
				// all: run these requests alone, and all others too.
				b.unbatchable.Store(true)
				for _, j := range batch {
					b.run([]*job{j}, j.rows)
				}
				return
			}
		}
	}
	off := 0
	for _, j := range batch {
		if err != nil {
			// A failure of the merged run is reported to each request as
			// its own: its inputs were checked on arrival.
			if cerr := j.ctx.Err(); cerr != nil {
				j.done <- result{err: cerr}
			} else {
				j.done <- result{err: err, batch: len(batch)}
			}
			continue
		}
		res := make([]*tensor.Tensor, len(out))
		for i, o := range out {
			res[i] = rowSlice(o, off, off+j.rows)
		}
		off += j.rows
		j.done <- result{out: res, batch: len(batch)}
	}
}

// predict runs the model, turning a panic in a kernel into an error so a
// worker never dies.
func (b *batcher) predict(ctx context.Context, in []*tensor.Tensor) (out []*tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("serve: model %q failed: %v", b.name, r)
		}
	}()
	start := time.Now()
	out = make([]*tensor.Tensor, len(b.m.Outputs()))
	err = b.m.PredictInto(ctx, in, out)
	b.met.inferSeconds.WithLabelValues(b.name).Observe(time.Since(start).Seconds())
	return out, err
}

// batchContext is cancelled once every request in the batch is: one client
// giving up must not cancel the others' work.
func batchContext(batch []*job) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	left := int64(len(batch))
	stops := make([]func() bool, len(batch))
	for i, j := range batch {
		stops[i] = context.AfterFunc(j.ctx, func() {
			if atomic.AddInt64(&left, -1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// concat stacks tensors of one dtype along their first dimension.
func concat(parts []*tensor.Tensor, rows int) *tensor.Tensor {
	shape := append(tensor.Shape{rows}, parts[0].Shape()[1:]...)
	n := shape.Size()
	first := reflect.ValueOf(parts[0].Data())
	dst := reflect.MakeSlice(first.Type(), n, n)
	off := 0
	for _, p := range parts {
		src := reflect.ValueOf(p.Data())
		reflect.Copy(dst.Slice(off, off+src.Len()), src)
		off += src.Len()
	}
	return tensor.Must(shape, dst.Interface())
}

// rowSlice returns rows [from, to) of t, sharing t's storage.
func rowSlice(t *tensor.Tensor, from, to int) *tensor.Tensor {
	shape := t.Shape().Clone()
	per := 1
	for _, d := range shape[1:] {
		per *= d
	}
	shape[0] = to - from
	data := reflect.ValueOf(t.Data()).Slice3(from*per, to*per, to*per).Interface()
	return tensor.Must(shape, data)
}
