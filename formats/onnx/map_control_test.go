package onnx

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
)

func TestControlMappings(t *testing.T) {
	for _, c := range []struct {
		op    string
		opset int
		ok    bool
	}{
		{"If", 1, true}, {"Loop", 11, true}, {"Scan", 7, false}, {"Scan", 8, true}, {"Scan", 9, true},
		{"SequenceMap", 16, false}, {"SequenceMap", 17, true}, {"SplitToSequence", 11, true},
		{"OptionalGetElement", 18, true}, {"Optional", 14, false},
	} {
		if _, ok := lookupMapping("", c.op, c.opset); ok != c.ok {
			t.Errorf("%s opset %d: mapped = %v, want %v", c.op, c.opset, ok, c.ok)
		}
	}
	m, _ := lookupMapping("", "Scan", 8)
	n := &graph.Node{Op: "Scan"}
	if m.Convert == nil || m.Convert(nil, n) != nil || n.Op != "Scan8" || n.Domain != "kiln" {
		t.Errorf("Scan-8 becomes %s:%s, want kiln:Scan8", n.Domain, n.Op)
	}
}
