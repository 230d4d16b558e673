package ops

import (
	"testing"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestEwIdentity(t *testing.T) {
	seq := &Sequence{DType: tensor.Float32, Items: []*tensor.Tensor{ewVec[float32](1)}}
	opt := &Optional{Value: seq}
	for _, v := range []Value{ewVec[float32](1, 2), seq, opt, &Optional{}} {
		out, err := ewRun(t, "Identity", nil, 1, v)
		if err != nil {
			t.Fatal(err)
		}
		if out[0] != v {
			t.Errorf("Identity(%v) = %v, want the input itself", v, out[0])
		}
	}
}

func TestEwDropout(t *testing.T) {
	x := ewF32(tensor.Shape{2, 2}, 1, 2, 3, 4)
	for _, c := range []struct {
		name string
		in   []Value
	}{
		{"default", []Value{x}},
		{"ratio", []Value{x, tensor.Scalar(float32(0.3))}},
		{"inference with ratio", []Value{x, tensor.Scalar(float32(0.75)), tensor.Scalar(false)}},
		{"training with zero ratio", []Value{x, tensor.Scalar(float32(0)), tensor.Scalar(true)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := ewRun(t, "Dropout", graph.Attrs{"seed": int64(0)}, 2, c.in...)
			if err != nil {
				t.Fatal(err)
			}
			ewCheck(t, out[0].(*tensor.Tensor), x, 0)
			ewCheck(t, out[1].(*tensor.Tensor), tensor.From(tensor.Shape{2, 2}, []bool{true, true, true, true}), 0)
		})
	}
	out, err := ewRun(t, "Dropout", nil, 1, x)
	if err != nil || len(out) != 1 {
		t.Fatalf("Dropout with one output: %d outputs, error %v", len(out), err)
	}
}

func TestEwConstant(t *testing.T) {
	v := ewF32(tensor.Shape{2, 2}, 1, 2, 3, 4)
	ewRunCases(t, []ewCase{
		{name: "value", op: "Constant", attrs: graph.Attrs{"value": v}, want: v},
		{name: "value_float", op: "Constant", attrs: graph.Attrs{"value_float": float32(2.5)}, want: tensor.Scalar(float32(2.5))},
		{name: "value_floats", op: "Constant", attrs: graph.Attrs{"value_floats": []float32{1, 2}}, want: ewVec[float32](1, 2)},
		{name: "value_int", op: "Constant", attrs: graph.Attrs{"value_int": int64(7)}, want: tensor.Scalar(int64(7))},
		{name: "value_ints", op: "Constant", attrs: graph.Attrs{"value_ints": []int64{1, 2, 3}}, want: ewVec[int64](1, 2, 3)},
		{name: "value_ints empty", op: "Constant", attrs: graph.Attrs{"value_ints": []int64{}}, want: ewVec[int64]()},
		{name: "value_string", op: "Constant", attrs: graph.Attrs{"value_string": "hi"}, want: tensor.Scalar("hi")},
		{name: "value_strings", op: "Constant", attrs: graph.Attrs{"value_strings": []string{"a", "b"}}, want: ewVec("a", "b")},
	})
}
