package layer

import (
	"errors"
	"slices"
	"testing"
)

func TestInputLayerDialects(t *testing.T) {
	cases := []struct {
		name, cfg string
		shape     Shape
		dtype     string
	}{
		{"keras 1", `{"batch_input_shape": [null, 4], "input_dtype": "int32", "sparse": false, "name": "i"}`, Shape{-1, 4}, "int32"},
		{"keras 2", `{"batch_input_shape": [null, 28, 28, 1], "dtype": "float32", "sparse": false, "ragged": false, "name": "i"}`, Shape{-1, 28, 28, 1}, "float32"},
		{"keras 2 fixed batch", `{"batch_input_shape": [1, 5, 3], "dtype": "float32", "name": "i"}`, Shape{-1, 5, 3}, "float32"},
		{"keras 3", `{"batch_shape": [null, null, 8], "dtype": "float32", "sparse": false, "ragged": false, "name": "i"}`, Shape{-1, -1, 8}, "float32"},
		{"keras 3 policy", `{"batch_shape": [null, 2], "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float64"}, "registered_name": null}, "name": "i"}`, Shape{-1, 2}, "float64"},
		{"input_shape", `{"input_shape": [3], "name": "i"}`, Shape{-1, 3}, "float32"},
		// tf.keras 2 wrote Input(dtype="float") verbatim; TensorFlow reads it as float32.
		{"tf float", `{"batch_input_shape": [null, null, 6], "dtype": "float", "name": "i"}`, Shape{-1, -1, 6}, "float32"},
		{"tf double", `{"batch_input_shape": [null, 2], "dtype": "double", "name": "i"}`, Shape{-1, 2}, "float64"},
		{"tf half", `{"batch_input_shape": [null, 2], "dtype": "half", "name": "i"}`, Shape{-1, 2}, "float16"},
		{"int64", `{"batch_input_shape": [null, 2], "dtype": "int64", "name": "i"}`, Shape{-1, 2}, "int64"},
		{"python int", `{"batch_shape": [null, 2], "dtype": "int", "name": "i"}`, Shape{-1, 2}, "int64"},
		{"bool", `{"batch_shape": [null, 2], "dtype": "bool", "name": "i"}`, Shape{-1, 2}, "bool"},
		{"string", `{"batch_shape": [null, 1], "dtype": "string", "name": "i"}`, Shape{-1, 1}, "string"},
		{"tf1 ref", `{"batch_input_shape": [null, 2], "dtype": "float32_ref", "name": "i"}`, Shape{-1, 2}, "float32"},
		{"repr", `{"batch_input_shape": [null, 2], "dtype": "<dtype: 'int32'>", "name": "i"}`, Shape{-1, 2}, "int32"},
	}
	for _, c := range cases {
		l, err := New("InputLayer", []byte(c.cfg), &DecodeContext{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		in := l.(*InputLayer)
		if !slices.Equal(in.BatchShape, c.shape) || in.DType != c.dtype || in.Name() != "i" {
			t.Errorf("%s: got shape %v dtype %s name %q", c.name, in.BatchShape, in.DType, in.Name())
		}
		out, err := in.Build(nil)
		if err != nil || len(out) != 1 || !slices.Equal(out[0], c.shape) {
			t.Errorf("%s: Build = %v, %v", c.name, out, err)
		}
	}
	for _, bad := range []string{
		`{"batch_shape": [null, 2], "sparse": true, "name": "i"}`,
		`{"batch_shape": [null, 2], "ragged": true, "name": "i"}`,
		`{"batch_shape": [null, 2], "dtype": "variant", "name": "i"}`,
	} {
		if _, err := New("InputLayer", []byte(bad), &DecodeContext{}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: want ErrUnsupported, got %v", bad, err)
		}
	}
	if _, err := New("InputLayer", []byte(`{"name": "i"}`), &DecodeContext{}); err == nil {
		t.Errorf("no shape: want an error")
	}
	if _, err := New("InputLayer", []byte(`{"batch_shape": [null, 2.5], "name": "i"}`), &DecodeContext{}); err == nil {
		t.Errorf("fractional dimension: want an error")
	}
}
