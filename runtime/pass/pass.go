// Package pass rewrites op graphs before they are compiled: constant and
// shape folding, dead-code, identity and common-subexpression elimination,
// and fusions (Conv+BatchNormalization, bias and activation epilogues,
// LayerNormalization, GELU and attention patterns). Each pass lives in its
// own file, registers itself in init() with a level, and can be switched off
// by name.
//
// Passes keep a graph's inputs and outputs (names, order and types) and its
// results up to floating-point rounding: a folded or fused computation may
// round differently (for example BatchNormalization folded into float32
// Conv weights), within the tolerances the conformance tests use. Params are
// treated as constants: a graph rewritten by Apply no longer honours a
// caller overriding a param at run time, and fused weights are no longer
// trainable, so run passes for inference only.
//
// Level 3 (layout) has no pass yet: packing weights for the SGEMM kernels
// and NCHWc blocking belong here once a benchmark shows the fast kernels
// gain from a layout chosen ahead of time rather than packing at compile
// time.
package pass

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/kiln-ml/kiln/ops/graph"
)

// Levels of passes. A pass runs when its level is at most Options.Level.
const (
	LevelNone   = 0 // no pass runs
	LevelBasic  = 1 // cleanups: folding, dead code, identities, CSE
	LevelFusion = 2 // fusions into ONNX or kiln fused ops
	LevelLayout = 3 // layout changes (packed weights, blocked convolutions); none yet

	MaxLevel = LevelLayout
)

// Pass is one graph rewrite. Run rewrites g in place (including its
// subgraphs where that is sound) and reports whether it changed anything;
// it must keep g's inputs, outputs and results.
type Pass struct {
	Name  string
	Level int
	Doc   string
	Run   func(g *graph.Graph) (changed bool, err error)
}

// Options select the passes Apply runs.
type Options struct {
	// Level is the highest level run: 0 none, 1 basic cleanups, 2 fusions,
	// 3 layout. The runtime's default is MaxLevel.
	Level int
	// Disable names passes not to run (see Names).
	Disable []string
}

// ErrUnknownPass is returned (wrapped) by Apply for a name in
// Options.Disable that no pass has.
var ErrUnknownPass = errors.New("unknown pass")

// maxRounds bounds the fixed-point iteration of Apply. Every pass shrinks
// or simplifies the graph, so a handful of rounds reach the fixed point;
// the bound only guards against two passes undoing each other.
const maxRounds = 10

var (
	mu     sync.RWMutex
	passes []Pass
)

// Register adds a pass; it panics on an empty or duplicate name or a nil
// Run (programming errors caught by any test run).
func Register(p Pass) {
	if p.Name == "" || p.Run == nil || p.Level < 1 || p.Level > MaxLevel {
		panic(fmt.Sprintf("pass: invalid registration %q (level %d)", p.Name, p.Level))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, q := range passes {
		if q.Name == p.Name {
			panic(fmt.Sprintf("pass: %q registered twice", p.Name))
		}
	}
	passes = append(passes, p)
	sort.SliceStable(passes, func(i, j int) bool {
		if passes[i].Level != passes[j].Level {
			return passes[i].Level < passes[j].Level
		}
		return passes[i].Name < passes[j].Name
	})
}

// Passes returns every registered pass in the order Apply runs them: by
// level, then by name.
func Passes() []Pass {
	mu.RLock()
	defer mu.RUnlock()
	return append([]Pass(nil), passes...)
}

// Names returns the names of the registered passes in run order.
func Names() []string {
	ps := Passes()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// Apply returns a rewritten copy of g; g itself is never modified. The
// selected passes run in order (level, then name), repeatedly, until a round
// changes nothing or maxRounds rounds have run. The graph is validated after
// every pass that changed it.
// Errors: ErrUnknownPass for an unknown name in o.Disable, and any pass
// error, wrapped with the pass's name.
func Apply(g *graph.Graph, o Options) (*graph.Graph, error) {
	all := Passes()
	known := map[string]bool{}
	for _, p := range all {
		known[p.Name] = true
	}
	off := map[string]bool{}
	for _, name := range o.Disable {
		if !known[name] {
			return nil, fmt.Errorf("pass: %q (known passes: %s): %w", name, strings.Join(Names(), ", "), ErrUnknownPass)
		}
		off[name] = true
	}
	out := g.Clone()
	var run []Pass
	for _, p := range all {
		if p.Level <= o.Level && !off[p.Name] {
			run = append(run, p)
		}
	}
	if len(run) == 0 {
		return out, nil
	}
	for round := 0; round < maxRounds; round++ {
		changed := false
		for _, p := range run {
			c, err := p.Run(out)
			if err != nil {
				return nil, fmt.Errorf("pass: %s: %w", p.Name, err)
			}
			if c {
				if err := out.Validate(nil); err != nil {
					return nil, fmt.Errorf("pass: %s left an invalid graph (disable it with Options.Disable): %w", p.Name, err)
				}
			}
			changed = changed || c
		}
		if !changed {
			break
		}
	}
	return out, nil
}
