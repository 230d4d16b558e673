package graph

import (
	"sort"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Attrs holds a node's attributes. Values have one of these Go types:
// int64, float32, string, []int64, []float32, []string, *tensor.Tensor,
// []*tensor.Tensor, *Graph, []*Graph, Type, []Type.
type Attrs map[string]any

// Keys returns the attribute names in sorted order.
func (a Attrs) Keys() []string {
	ks := make([]string, 0, len(a))
	for k := range a {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Has reports whether the attribute is set.
func (a Attrs) Has(name string) bool { _, ok := a[name]; return ok }

// Int returns an integer attribute or def when absent.
func (a Attrs) Int(name string, def int64) int64 {
	switch v := a[name].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	}
	return def
}

// Float returns a float attribute or def when absent.
func (a Attrs) Float(name string, def float32) float32 {
	switch v := a[name].(type) {
	case float32:
		return v
	case float64:
		return float32(v)
	case int64:
		return float32(v)
	}
	return def
}

// String returns a string attribute or def when absent.
func (a Attrs) String(name, def string) string {
	if v, ok := a[name].(string); ok {
		return v
	}
	return def
}

// Ints returns an integer-list attribute, or nil when absent.
func (a Attrs) Ints(name string) []int64 {
	switch v := a[name].(type) {
	case []int64:
		return v
	case int64:
		return []int64{v}
	}
	return nil
}

// Floats returns a float-list attribute, or nil when absent.
func (a Attrs) Floats(name string) []float32 {
	switch v := a[name].(type) {
	case []float32:
		return v
	case float32:
		return []float32{v}
	}
	return nil
}

// Strings returns a string-list attribute, or nil when absent.
func (a Attrs) Strings(name string) []string {
	switch v := a[name].(type) {
	case []string:
		return v
	case string:
		return []string{v}
	}
	return nil
}

// Tensor returns a tensor attribute, or nil when absent.
func (a Attrs) Tensor(name string) *tensor.Tensor {
	t, _ := a[name].(*tensor.Tensor)
	return t
}

// Graph returns a graph attribute, or nil when absent.
func (a Attrs) Graph(name string) *Graph {
	g, _ := a[name].(*Graph)
	return g
}

// Type returns a type attribute and whether it was set.
func (a Attrs) Type(name string) (Type, bool) {
	t, ok := a[name].(Type)
	return t, ok
}

// Clone returns a shallow copy (values shared).
func (a Attrs) Clone() Attrs {
	c := make(Attrs, len(a))
	for k, v := range a {
		c[k] = v
	}
	return c
}
