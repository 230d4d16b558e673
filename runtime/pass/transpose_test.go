package pass_test

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/runtime/pass"
)

// A channels_last conv block lowered onto NCHW ops, as Keras layers lower:
// the layout changes between the layers cancel and the activation fuses.
func TestTransposeFolding(t *testing.T) {
	b := newBuilder()
	x := b.input("x", 2, 6, 6, 3)
	nchw := graph.Attrs{"perm": []int64{0, 3, 1, 2}}
	nhwc := graph.Attrs{"perm": []int64{0, 2, 3, 1}}
	t1 := b.node("Transpose", nchw, "t1", x)
	c := b.node("Conv", graph.Attrs{"pads": []int64{1, 1, 1, 1}}, "c", t1, b.randParam("w", 4, 3, 3, 3), b.randParam("cb", 4))
	t2 := b.node("Transpose", nhwc, "t2", c)
	r := b.node("Relu", nil, "r", t2)
	t3 := b.node("Transpose", nchw, "t3", r)
	p := b.node("MaxPool", graph.Attrs{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}}, "p", t3)
	b.output(b.node("Transpose", nhwc, "y", p))
	out := apply(t, b.g, pass.Options{Level: pass.MaxLevel})
	got := countOps(out)
	if got["Transpose"] != 2 || got["Relu"] != 0 || got["FusedConv"] != 1 {
		t.Fatalf("got %v, want 2 Transposes and the Relu fused into the Conv", got)
	}
	sameResults(t, b.g, out)
}
