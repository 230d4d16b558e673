package layer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
)

func TestRegisterActivation(t *testing.T) {
	a := Activation{Name: "kiln_test_twice"}
	if err := a.Check(); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `layer.RegisterActivation("kiln_test_twice"`) {
		t.Fatalf("unknown activation: got %v", err)
	}
	RegisterActivation("kiln_test_twice", func(b *Builder, x string) string { return b.Op("Add", nil, x, x) })
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(&graph.Graph{})
	if _, err := a.Lower(b, "x"); err != nil || len(b.G.Nodes) != 1 || b.G.Nodes[0].Op != "Add" {
		t.Errorf("Lower: %v, nodes %v", err, b.G.Nodes)
	}
}

func TestStatefulAdvice(t *testing.T) {
	for _, class := range []string{"LSTM", "GRU", "SimpleRNN"} {
		_, err := New(class, json.RawMessage(`{"name":"r","units":2,"stateful":true}`), &DecodeContext{Version: Version{Major: 2, Minor: 2}})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "stateless") || !strings.Contains(err.Error(), "stateful=False") {
			t.Errorf("%s: got %v", class, err)
		}
	}
}
