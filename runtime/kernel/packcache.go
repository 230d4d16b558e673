package kernel

import "sync"

// PackCache shares packed constant operands between the plans of one
// program. A program planned for several input shapes (every batch size a
// server merges requests into, say) selects kernels once per shape; the
// weights they pack are the same each time, so they are packed once and
// shared instead of held once per shape.
//
// Entries are keyed by the address of the packed data, so only operands
// that live as long as the cache may use it: the planner marks those
// inputs Arg.Shared (weights of the compiled program, never values folded
// for one shape only).
type PackCache struct {
	mu sync.Mutex
	m  map[packKey]any
}

type packKey struct {
	p          *float32
	n          int
	trans      bool
	rows, cols int
	ld         int
	b          bool
}

// NewPackCache returns an empty cache.
func NewPackCache() *PackCache { return &PackCache{m: map[packKey]any{}} }

// Len returns the number of packed operands held.
func (c *PackCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *PackCache) get(key packKey, pack func() any) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[key]; ok {
		return v
	}
	v := pack()
	c.m[key] = v
	return v
}

// shared reports whether operand data of input in may be cached.
func (s *Spec) shared(in int, data []float32) bool {
	return s.Packs != nil && in >= 0 && in < len(s.In) && s.In[in].Shared && s.In[in].Const != nil && len(data) > 0
}

// PackA is PackA for a (part of) constant input in, shared through
// s.Packs when that input is marked Shared.
func (s *Spec) PackA(in int, transA bool, m, k int, a []float32, lda int) *PackedA {
	if !s.shared(in, a) {
		return PackA(transA, m, k, a, lda)
	}
	key := packKey{p: &a[0], n: len(a), trans: transA, rows: m, cols: k, ld: lda}
	return s.Packs.get(key, func() any { return PackA(transA, m, k, a, lda) }).(*PackedA)
}

// PackB is PackB for a (part of) constant input in, shared through
// s.Packs when that input is marked Shared.
func (s *Spec) PackB(in int, transB bool, k, n int, b []float32, ldb int) *PackedB {
	if !s.shared(in, b) {
		return PackB(transB, k, n, b, ldb)
	}
	key := packKey{p: &b[0], n: len(b), trans: transB, rows: k, cols: n, ld: ldb, b: true}
	return s.Packs.get(key, func() any { return PackB(transB, k, n, b, ldb) }).(*PackedB)
}
