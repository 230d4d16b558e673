package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/internal/kilntest"
	"github.com/kiln-ml/kiln/ops/graph"
)

func model(t testing.TB, g *graph.Graph) *kiln.Model {
	t.Helper()
	m, err := kiln.New(g, kiln.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// testServer serves affine (float32[batch,4] -> [batch,3]), two (two
// inputs, two outputs) and fixed (float32[1,3], no batch dimension).
func testServer(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(map[string]*kiln.Model{
		"affine": model(t, kilntest.Affine()),
		"two":    model(t, kilntest.TwoInOut()),
		"fixed":  model(t, kilntest.Fixed()),
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

func do(t testing.TB, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, url, ct)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s %s: status %d, body is not a JSON object: %q", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, v
}

// keys returns the object's field names, sorted.
func keys(v any) []string {
	m, _ := v.(map[string]any)
	var k []string
	for name := range m {
		k = append(k, name)
	}
	sort.Strings(k)
	return k
}

func wantKeys(t *testing.T, what string, v any, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := keys(v); !reflect.DeepEqual(got, want) {
		t.Errorf("%s has fields %v, want exactly %v", what, got, want)
	}
}

func asJSON(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

// TestV2Conformance holds the server to the Open Inference Protocol's
// HTTP/REST text: every object is checked for exactly the fields the
// protocol names.
func TestV2Conformance(t *testing.T) {
	_, ts := testServer(t, Config{})

	// Health: 200 means true.
	for _, p := range []string{"/v2/health/live", "/v2/health/ready"} {
		if code, _ := do(t, "GET", ts.URL+p, ""); code != 200 {
			t.Errorf("GET %s = %d, want 200", p, code)
		}
	}
	code, v := do(t, "GET", ts.URL+"/v2/models/affine/ready", "")
	if code != 200 || v["name"] != "affine" || v["ready"] != true {
		t.Errorf("model ready = %d %v", code, v)
	}

	// $metadata_server_response = { "name", "version", "extensions" }
	code, v = do(t, "GET", ts.URL+"/v2", "")
	if code != 200 {
		t.Fatalf("GET /v2 = %d", code)
	}
	wantKeys(t, "$metadata_server_response", v, "name", "version", "extensions")

	// $metadata_model_response = { "name", "versions" #optional, "platform", "inputs", "outputs" }
	// $metadata_tensor = { "name", "datatype", "shape" }; variable-size dimensions are -1.
	code, v = do(t, "GET", ts.URL+"/v2/models/affine", "")
	if code != 200 {
		t.Fatalf("model metadata = %d %v", code, v)
	}
	wantKeys(t, "$metadata_model_response", v, "name", "versions", "platform", "inputs", "outputs")
	wantIn := asJSON(`[{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]`)
	wantOut := asJSON(`[{"name": "y", "datatype": "FP32", "shape": [-1, 3]}]`)
	if !reflect.DeepEqual(v["inputs"], wantIn) || !reflect.DeepEqual(v["outputs"], wantOut) {
		t.Errorf("metadata inputs %v outputs %v, want %v %v", v["inputs"], v["outputs"], wantIn, wantOut)
	}
	if code, _ := do(t, "GET", ts.URL+"/v2/models/affine/versions/1", ""); code != 200 {
		t.Errorf("metadata of version 1 = %d", code)
	}

	// The protocol's inference example, with this model's names: an "id",
	// inputs with "name", "shape", "datatype", "data", and requested outputs.
	req := `{
	  "id" : "42",
	  "inputs" : [
	    {
	      "name" : "x",
	      "shape" : [ 2, 4 ],
	      "datatype" : "FP32",
	      "data" : [ 1, 2, 3, 4, 5, 6, 7, 8 ]
	    }
	  ],
	  "outputs" : [
	    {
	      "name" : "y"
	    }
	  ]
	}`
	code, v = do(t, "POST", ts.URL+"/v2/models/affine/infer", req)
	if code != 200 {
		t.Fatalf("infer = %d %v", code, v)
	}
	// $inference_response = { "model_name", "model_version" #optional (not
	// given by servers without versioning), "id", "parameters" #optional, "outputs" }
	wantKeys(t, "$inference_response", v, "model_name", "id", "outputs")
	if v["model_name"] != "affine" || v["id"] != "42" {
		t.Errorf("model_name %v id %v, want affine 42", v["model_name"], v["id"])
	}
	outs := v["outputs"].([]any)
	if len(outs) != 1 {
		t.Fatalf("outputs = %v", outs)
	}
	// $response_output = { "name", "shape", "datatype", "parameters" #optional, "data" }
	wantKeys(t, "$response_output", outs[0], "name", "shape", "datatype", "data")
	want := asJSON(`{"name": "y", "shape": [2, 3], "datatype": "FP32", "data": [1.5, 3, 5, 5.5, 7, 9]}`)
	if !reflect.DeepEqual(outs[0], want) {
		t.Errorf("output = %v, want %v", outs[0], want)
	}

	// Tensor data may be in its natural nested form; "outputs" may be left
	// out for all outputs.
	code, v = do(t, "POST", ts.URL+"/v2/models/affine/versions/1/infer",
		`{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [[1, 2, 3, 4], [5, 6, 7, 8]]}]}`)
	if code != 200 || !reflect.DeepEqual(v["outputs"].([]any)[0], want) {
		t.Errorf("nested infer = %d %v", code, v)
	}
	if id, _ := v["id"].(string); id == "" {
		t.Errorf("a request without id got no id in the response: %v", v)
	}

	// Two inputs, two outputs, one of them asked for.
	code, v = do(t, "POST", ts.URL+"/v2/models/two/infer", `{
	  "inputs": [
	    {"name": "n", "shape": [2], "datatype": "INT64", "data": [3, 4]},
	    {"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}
	  ],
	  "outputs": [{"name": "twice"}]
	}`)
	if code != 200 {
		t.Fatalf("two infer = %d %v", code, v)
	}
	want = asJSON(`[{"name": "twice", "shape": [2], "datatype": "INT64", "data": [6, 8]}]`)
	if !reflect.DeepEqual(v["outputs"], want) {
		t.Errorf("outputs = %v, want %v", v["outputs"], want)
	}

	// $inference_error_response = { "error": <error message string> }
	code, v = do(t, "POST", ts.URL+"/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}`)
	if code != 400 {
		t.Errorf("wrong datatype = %d, want 400", code)
	}
	wantKeys(t, "$inference_error_response", v, "error")
	code, v = do(t, "GET", ts.URL+"/v2/models/nope", "")
	if code != 404 {
		t.Errorf("metadata of an unknown model = %d, want 404", code)
	}
	wantKeys(t, "$metadata_model_error_response", v, "error")
}

// TestTFServingConformance holds the server to TensorFlow Serving's REST
// API text: row ("instances") and columnar ("inputs") requests, and the
// model status response.
func TestTFServingConformance(t *testing.T) {
	_, ts := testServer(t, Config{})
	cases := []struct {
		name, path, body, want string
	}{
		{"row format, one input", "/v1/models/affine:predict",
			`{"instances": [[1, 2, 3, 4], [5, 6, 7, 8]]}`,
			`{"predictions": [[1.5, 3, 5], [5.5, 7, 9]]}`},
		{"row format with signature_name", "/v1/models/affine/versions/1:predict",
			`{"signature_name": "serving_default", "instances": [[1, 2, 3, 4]]}`,
			`{"predictions": [[1.5, 3, 5]]}`},
		{"row format, list of objects", "/v1/models/two:predict",
			`{"instances": [{"a": [1, 2], "n": 3}, {"a": [3, 4], "n": 4}]}`,
			`{"predictions": [{"sum": [2, 4], "twice": 6}, {"sum": [6, 8], "twice": 8}]}`},
		{"columnar, one input", "/v1/models/affine:predict",
			`{"inputs": [[1, 2, 3, 4]]}`,
			`{"outputs": [[1.5, 3, 5]]}`},
		{"columnar, named inputs", "/v1/models/two:predict",
			`{"inputs": {"a": [[1, 2], [3, 4]], "n": [3, 4]}}`,
			`{"outputs": {"sum": [[2, 4], [6, 8]], "twice": [6, 8]}}`},
		{"no batch dimension", "/v1/models/fixed:predict",
			`{"instances": [[1, 2, 3]]}`,
			`{"predictions": [[2, 4, 6]]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, v := do(t, "POST", ts.URL+c.path, c.body)
			if code != 200 {
				t.Fatalf("status %d: %v", code, v)
			}
			if want := asJSON(c.want); !reflect.DeepEqual(any(v), want) {
				t.Errorf("got %v, want %v", v, want)
			}
		})
	}
	code, v := do(t, "GET", ts.URL+"/v1/models/affine", "")
	want := asJSON(`{"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}`)
	if code != 200 || !reflect.DeepEqual(any(v), want) {
		t.Errorf("status = %d %v, want %v", code, v, want)
	}
	// In case of error, all APIs return {"error": <error message string>}.
	code, v = do(t, "POST", ts.URL+"/v1/models/half:predict", `{"instances": [1.0, 5.0]}`)
	if code != 404 {
		t.Errorf("unknown model = %d, want 404", code)
	}
	wantKeys(t, "error object", v, "error")
}

// TestMalformedRequests: the client's mistakes get a 4xx and a JSON error
// that names the problem, never a 500.
func TestMalformedRequests(t *testing.T) {
	_, ts := testServer(t, Config{MaxBodyBytes: 4096})
	deep := strings.Repeat("[", 100) + "1" + strings.Repeat("]", 100)
	cases := []struct {
		name, method, path, body string
		status                   int
		says                     string
	}{
		{"v2 unknown model", "POST", "/v2/models/nope/infer", `{}`, 404, `unknown model "nope"`},
		{"v2 unknown version", "POST", "/v2/models/affine/versions/2/infer", `{}`, 404, `no version "2"`},
		{"v2 truncated JSON", "POST", "/v2/models/affine/infer", `{"inputs": [`, 400, "malformed JSON"},
		{"v2 empty body", "POST", "/v2/models/affine/infer", ``, 400, "malformed JSON"},
		{"v2 not an object", "POST", "/v2/models/affine/infer", `[1, 2]`, 400, "malformed request"},
		{"v2 id not a string", "POST", "/v2/models/affine/infer", `{"id": 42, "inputs": []}`, 400, "id must be a string"},
		{"v2 no inputs", "POST", "/v2/models/affine/infer", `{"inputs": []}`, 400, `missing input "x"`},
		{"v2 unknown input", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "z", "shape": [1], "datatype": "FP32", "data": [1]}]}`, 400, `unknown input "z"`},
		{"v2 input twice", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}, {"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`, 400, "given twice"},
		{"v2 wrong datatype", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT64", "data": [1, 2, 3, 4]}]}`, 400, "datatype INT64, but the model takes FP32"},
		{"v2 unknown datatype", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FLOAT", "data": [1, 2, 3, 4]}]}`, 400, `unknown datatype "FLOAT"`},
		{"v2 no datatype", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "data": [1, 2, 3, 4]}]}`, 400, `no "datatype"`},
		{"v2 no shape", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "datatype": "FP32", "data": [1, 2, 3, 4]}]}`, 400, `no "shape"`},
		{"v2 no data", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32"}]}`, 400, `no "data"`},
		{"v2 wrong shape", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}`, 400, "dimension 1 must be 4"},
		{"v2 wrong rank", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`, 400, "rank 2"},
		{"v2 data shorter than shape", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3]}]}`, 400, "holds 3 elements"},
		{"v2 nesting disagrees with shape", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [[1, 2], [3, 4]]}]}`, 400, "nested as"},
		{"v2 ragged data", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3]]}]}`, 400, "ragged"},
		{"v2 string in FP32 data", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, "2", 3, 4]}]}`, 400, "must be numbers"},
		{"v2 null in data", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, null, 3, 4]}]}`, 400, "null"},
		{"v2 float32 overflow", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 1e39, 3, 4]}]}`, 400, "out of range"},
		{"v2 fraction for INT64", "POST", "/v2/models/two/infer", `{"inputs": [{"name": "a", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}, {"name": "n", "shape": [1], "datatype": "INT64", "data": [1.5]}]}`, 400, "not an integer"},
		{"v2 batch rows disagree", "POST", "/v2/models/two/infer", `{"inputs": [{"name": "a", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}, {"name": "n", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}`, 400, "disagree on the batch dimension"},
		{"v2 negative dimension", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [-1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`, 400, "negative dimension"},
		{"v2 enormous shape", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [4000000000, 4000000000], "datatype": "FP32", "data": [1]}]}`, 400, "too large"},
		{"v2 fractional dimension", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1.5, 4], "datatype": "FP32", "data": [1]}]}`, 400, "malformed request"},
		{"v2 deep nesting", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ` + deep + `}]}`, 400, "nested deeper"},
		{"v2 binary data without its header", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}]}`, 400, "Inference-Header-Content-Length"},
		{"v2 unknown output", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}], "outputs": [{"name": "q"}]}`, 400, `unknown output "q"`},
		{"v2 fixed model, batch of 2", "POST", "/v2/models/fixed/infer", `{"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}]}`, 400, "dimension 0 must be 1"},
		{"v2 metadata of unknown model", "GET", "/v2/models/nope", ``, 404, "unknown model"},
		{"tf unknown model", "POST", "/v1/models/half:predict", `{"instances": [1.0, 5.0]}`, 404, `unknown model "half"`},
		{"tf status of unknown model", "GET", "/v1/models/half", ``, 404, `unknown model "half"`},
		{"tf classify", "POST", "/v1/models/affine:classify", `{"examples": []}`, 404, ":predict only"},
		{"tf no verb", "POST", "/v1/models/affine", `{}`, 404, "no endpoint"},
		{"tf truncated JSON", "POST", "/v1/models/affine:predict", `{"instances": [[1, 2`, 400, "malformed JSON"},
		{"tf both formats", "POST", "/v1/models/affine:predict", `{"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}`, 400, "not both"},
		{"tf neither format", "POST", "/v1/models/affine:predict", `{"signature_name": "serving_default"}`, 400, `needs "instances"`},
		{"tf unknown signature", "POST", "/v1/models/affine:predict", `{"signature_name": "train", "instances": [[1, 2, 3, 4]]}`, 400, "signature_name"},
		{"tf instances not a list", "POST", "/v1/models/affine:predict", `{"instances": 3}`, 400, "must be a list"},
		{"tf empty instances", "POST", "/v1/models/affine:predict", `{"instances": []}`, 400, "empty"},
		{"tf ragged instances", "POST", "/v1/models/affine:predict", `{"instances": [[1, 2, 3, 4], [1, 2, 3]]}`, 400, "ragged"},
		{"tf wrong row length", "POST", "/v1/models/affine:predict", `{"instances": [[1, 2, 3]]}`, 400, "dimension 1 must be 4"},
		{"tf bool for float", "POST", "/v1/models/affine:predict", `{"instances": [[true, 2, 3, 4]]}`, 400, "boolean"},
		{"tf missing named input", "POST", "/v1/models/two:predict", `{"instances": [{"a": [1, 2]}]}`, 400, `missing input "n"`},
		{"tf unknown named input", "POST", "/v1/models/two:predict", `{"inputs": {"a": [[1, 2]], "n": [1], "m": [1]}}`, 400, `unknown input "m"`},
		{"tf positional for two inputs", "POST", "/v1/models/two:predict", `{"instances": [[1, 2]]}`, 400, "must be an object"},
		{"unknown path", "GET", "/v3/anything", ``, 404, "no endpoint"},
		{"body too large", "POST", "/v2/models/affine/infer", `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [` + strings.Repeat("1,", 3000) + `1]}]}`, 413, "larger than 4096 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, v := do(t, c.method, ts.URL+c.path, c.body)
			if code != c.status {
				t.Errorf("status %d, want %d (%v)", code, c.status, v)
			}
			wantKeys(t, "error response", v, "error")
			msg, _ := v["error"].(string)
			if !strings.Contains(msg, c.says) {
				t.Errorf("error %q does not say %q", msg, c.says)
			}
		})
	}
}

// TestBatching: concurrent requests are merged into fewer model runs, and
// each gets its own rows back.
func TestBatching(t *testing.T) {
	s, ts := testServer(t, Config{MaxBatch: 64, BatchDelay: 300 * time.Millisecond, Workers: 1})
	const n = 24
	type res struct {
		i    int
		code int
		v    map[string]any
	}
	results := make(chan res, n)
	for i := range n {
		go func() {
			rows := 1 + i%3
			data := make([]float32, 0, rows*4)
			for r := range rows {
				v := float32(i*10 + r)
				data = append(data, v, v, v, v)
			}
			body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "x", "shape": []int{rows, 4}, "datatype": "FP32", "data": data}}})
			resp, err := http.Post(ts.URL+"/v2/models/affine/infer", "application/json", bytes.NewReader(body))
			if err != nil {
				results <- res{i: i}
				return
			}
			defer resp.Body.Close()
			var v map[string]any
			json.NewDecoder(resp.Body).Decode(&v)
			results <- res{i, resp.StatusCode, v}
		}()
	}
	for range n {
		r := <-results
		if r.code != 200 {
			t.Fatalf("request %d: status %d %v", r.i, r.code, r.v)
		}
		out := r.v["outputs"].([]any)[0].(map[string]any)
		rows := 1 + r.i%3
		if got := out["shape"].([]any); int(got[0].(float64)) != rows {
			t.Fatalf("request %d sent %d rows, got shape %v back", r.i, rows, got)
		}
		data := out["data"].([]any)
		for k := range rows {
			v := float64(r.i*10 + k)
			if data[3*k].(float64) != v+0.5 || data[3*k+2].(float64) != v+2 {
				t.Fatalf("request %d row %d: got %v, want its own values (%v+...)", r.i, k, data[3*k:3*k+3], v)
			}
		}
	}
	runs := histCount(t, s, "kiln_batch_requests", "affine")
	if runs >= n {
		t.Errorf("%d requests ran in %d model runs; batching merged none", n, runs)
	}
	t.Logf("%d requests in %d runs", n, runs)
}

func histCount(t *testing.T, s *Server, name, model string) uint64 {
	t.Helper()
	mfs, err := s.cfg.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "model" && l.GetValue() == model {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// stall replaces a model's workers with none, so requests stay queued.
func stall(s *Server, name string, maxQueue int) {
	e := s.models[name]
	e.b.close()
	cfg := s.cfg
	cfg.Workers = 0
	cfg.MaxQueue = maxQueue
	e.b = newBatcher(name, e.m, cfg, s.met)
}

func TestQueueFullAndTimeout(t *testing.T) {
	s, ts := testServer(t, Config{Timeout: 300 * time.Millisecond})
	stall(s, "affine", 1)
	body := `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`
	first := make(chan int)
	go func() {
		code, _ := do(t, "POST", ts.URL+"/v2/models/affine/infer", body)
		first <- code
	}()
	// The first request holds the queue's one place until it times out.
	deadline := time.Now().Add(2 * time.Second)
	for len(s.models["affine"].b.q) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	code, v := do(t, "POST", ts.URL+"/v2/models/affine/infer", body)
	if code != 503 || !strings.Contains(v["error"].(string), "requests waiting") {
		t.Errorf("request to a full queue: %d %v, want 503", code, v)
	}
	if code := <-first; code != 503 {
		t.Errorf("request that timed out in the queue: %d, want 503", code)
	}
}

// TestShutdownFinishesInFlight: requests accepted before shutdown all get
// complete responses, and Serve returns nil.
func TestShutdownFinishesInFlight(t *testing.T) {
	s, err := New(map[string]*kiln.Model{"affine": model(t, kilntest.Affine())}, Config{MaxBatch: 64, BatchDelay: 200 * time.Millisecond, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String() + "/v2/models/affine/infer"
	body := `{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`
	// Requests waiting for their batch when shutdown begins.
	const n = 8
	codes := make(chan int, n)
	for range n {
		go func() {
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				codes <- -1
				return
			}
			defer resp.Body.Close()
			var v map[string]any
			if json.NewDecoder(resp.Body).Decode(&v) != nil {
				codes <- -2
				return
			}
			codes <- resp.StatusCode
		}()
	}
	// Cancel once every request has arrived and waits in the batcher.
	deadline := time.Now().Add(5 * time.Second)
	for inFlight(t, s) < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	for range n {
		if code := <-codes; code != 200 {
			t.Errorf("accepted request got %d during shutdown, want 200 with a complete body", code)
		}
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v, want nil after a graceful shutdown", err)
	}
}

func inFlight(t *testing.T, s *Server) float64 {
	t.Helper()
	mfs, err := s.cfg.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "kiln_requests_in_flight" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}
