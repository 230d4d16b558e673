package serve

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/internal/kilntest"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// FuzzDecodeRequest feeds arbitrary bodies to both protocols' request
// decoders and the tensor data parser: they must return a tensor or an
// error, never panic, and every tensor they return must fit its shape.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"id": "42", "inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8]}], "outputs": [{"name": "y"}]}`,
		`{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [[1, 2, 3, 4], [5, 6, 7, 8]]}]}`,
		`{"inputs": [{"name": "a", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}, {"name": "n", "shape": [1], "datatype": "INT64", "data": [3]}]}`,
		`{"instances": [[1, 2, 3, 4], [5, 6, 7, 8]]}`,
		`{"instances": [{"a": [1, 2], "n": 3}]}`,
		`{"inputs": {"a": [[1, 2]], "n": [3]}}`,
		`{"inputs": [[NaN, Infinity, -Infinity, 1e-3]]}`,
		`{"instances": [{"b64": "aGVsbG8="}]}`,
		`{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [[[[]]]]}]}`,
		`[[], [[]], []]`,
		`{"inputs": [`,
		"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":16}}]}\x00\x00\x00\x80?\x00\x00\x00@\x00\x00@@\x00\x00\x80@",
	} {
		f.Add([]byte(seed))
	}
	affine := model(f, kilntest.Affine())
	two := model(f, kilntest.TwoInOut())
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, m := range []*kiln.Model{affine, two} {
			if in, _, _, err := decodeV2(body, m); err == nil {
				checkFit(t, in)
			}
			// The same bytes as a JSON header and binary tensor data.
			if k := bytes.IndexByte(body, 0); k >= 0 {
				if in, _, _, err := decodeV2With(body[:k], body[k+1:], m); err == nil {
					checkFit(t, in)
				}
			}
			if in, _, err := decodeTF(body, m); err == nil {
				checkFit(t, in)
			}
		}
		for _, dt := range []tensor.DType{tensor.Float32, tensor.Int64, tensor.Uint8, tensor.Bool, tensor.String, tensor.Float16} {
			if tt, err := parseTensorJSON(body, dt); err == nil {
				checkFit(t, []*tensor.Tensor{tt})
			}
		}
	})
}

func checkFit(t *testing.T, ts []*tensor.Tensor) {
	for _, x := range ts {
		if x == nil {
			t.Fatal("decoder returned a nil tensor without an error")
		}
		if n := reflect.ValueOf(x.Data()).Len(); n != x.Shape().Size() {
			t.Fatalf("tensor of shape %v holds %d elements", x.Shape(), n)
		}
	}
}

// The v2 decoding walk (v2fast.go) gives what encoding/json on the whole
// body gives: the same inputs, or an error in both.
func FuzzV2FastPath(f *testing.F) {
	for _, seed := range []string{
		`{"id": "42", "inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8]}], "outputs": [{"name": "y"}]}`,
		`{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1 2 3 4]}]}`,
		`{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4], "data": [1, 2, 3, 4]}]}`,
		`{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "DATA": [NaN, 1, 2, 3]}]}`,
		`{"Inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [01, 1., 2, 3]}], "inputs": []}`,
		`{"inputs": [{"name": "a", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}, {"name": "n", "shape": [1], "datatype": "INT64", "data": 3 }]}`,
		`{"inputs": [{"name": "x", "shape": [1, 1], "datatype": "BYTES", "data": ["a\/b\u0041"]}]}`,
		`{"inputs": [{"name": "x", "data": }]}`,
		`{"inputs": [1, {"data": [1]}, "s"]}`,
	} {
		f.Add([]byte(seed))
	}
	affine := model(f, kilntest.Affine())
	two := model(f, kilntest.TwoInOut())
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, m := range []*kiln.Model{affine, two} {
			v2Fast = true
			fin, fout, _, ferr := decodeV2(body, m)
			v2Fast = false
			sin, sout, _, serr := decodeV2(body, m)
			v2Fast = true
			if (ferr == nil) != (serr == nil) {
				t.Fatalf("%q: walk error %v, encoding/json error %v", body, ferr, serr)
			}
			if ferr != nil {
				continue
			}
			if len(fin) != len(sin) || len(fout) != len(sout) {
				t.Fatalf("%q: %d inputs %d outputs, want %d and %d", body, len(fin), len(fout), len(sin), len(sout))
			}
			for i := range fin {
				if (fin[i] == nil) != (sin[i] == nil) {
					t.Fatalf("%q: input %d present %v, want %v", body, i, fin[i] != nil, sin[i] != nil)
				}
				if fin[i] == nil {
					continue
				}
				if !fin[i].Shape().Equal(sin[i].Shape()) || fin[i].DType() != sin[i].DType() || fmt.Sprint(fin[i].Data()) != fmt.Sprint(sin[i].Data()) {
					t.Fatalf("%q: input %d differs", body, i)
				}
			}
		}
	})
}
