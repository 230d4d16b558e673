package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// The TensorFlow Serving REST API. Field names are TensorFlow Serving's:
// a predict request has "signature_name" and either "instances" (row
// format) or "inputs" (columnar format); the response has "predictions"
// or "outputs" to match; the status response is "model_version_status"
// with "version", "state" and "status" {"error_code", "error_message"};
// errors are {"error": <message>}.

type tfPredictRequest struct {
	SignatureName string          `json:"signature_name"`
	Instances     json.RawMessage `json:"instances"`
	Inputs        json.RawMessage `json:"inputs"`
}

type tfVersionStatus struct {
	Version string   `json:"version"`
	State   string   `json:"state"`
	Status  tfStatus `json:"status"`
}

type tfStatus struct {
	ErrorCode    string `json:"error_code"`
	ErrorMessage string `json:"error_message"`
}

// tfStatus answers GET /v1/models/{name}[/versions/{v}] with the model's
// one version, "1", AVAILABLE (or UNLOADING once shutdown has begun).
func (s *Server) tfStatus(w http.ResponseWriter, r *http.Request) {
	c := &call{proto: "meta", model: "unknown", start: time.Now()}
	_, aerr := s.lookup(c, r.PathValue("name"), r.PathValue("version"))
	if aerr != nil {
		s.fail(w, r, c, aerr)
		return
	}
	state := "AVAILABLE"
	if s.draining.Load() {
		state = "UNLOADING"
	}
	s.writeJSON(w, r, c, map[string]any{"model_version_status": []tfVersionStatus{{
		Version: "1", State: state, Status: tfStatus{ErrorCode: "OK", ErrorMessage: ""},
	}}})
}

// tfPost routes POST /v1/models/{name}[/versions/{v}]:predict. The
// classify and regress verbs, which need tf.Example inputs, get 404.
func (s *Server) tfPost(w http.ResponseWriter, r *http.Request) {
	c := &call{proto: "tfserving", model: "unknown", start: time.Now(), id: r.Header.Get("X-Request-Id")}
	rest := r.PathValue("rest")
	path, verb, ok := strings.Cut(rest, ":")
	if !ok || strings.Contains(verb, "/") {
		s.fail(w, r, c, &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("no endpoint POST %s; predict is POST /v1/models/{name}:predict", r.URL.Path)})
		return
	}
	name, version := path, ""
	if n, v, found := strings.Cut(path, "/versions/"); found {
		name, version = n, v
	}
	if strings.Contains(name, "/") {
		s.fail(w, r, c, &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("no endpoint POST %s", r.URL.Path)})
		return
	}
	if verb != "predict" {
		s.fail(w, r, c, &apiError{http.StatusNotFound, "not_found", fmt.Sprintf("kiln serves :predict only, not :%s", verb)})
		return
	}
	s.met.inFlight.Inc()
	defer s.met.inFlight.Dec()
	e, aerr := s.lookup(c, name, version)
	if aerr != nil {
		s.fail(w, r, c, aerr)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	body, aerr := s.readBody(w, r)
	if aerr != nil {
		s.fail(w, r, c, aerr)
		return
	}
	in, rows, aerr := decodeTF(body.Bytes(), e.m)
	putBuf(body)
	if aerr != nil {
		s.fail(w, r, c, aerr)
		return
	}
	out, aerr := s.run(ctx, c, e, in)
	if aerr != nil {
		s.fail(w, r, c, aerr)
		return
	}
	resp, aerr := encodeTF(e.m, out, rows)
	if aerr != nil {
		s.fail(w, r, c, aerr)
		return
	}
	s.reply(w, r, c, resp)
}

// decodeTF turns a predict request into the model's inputs. rows is the
// number of instances for a row-format request, or -1 for columnar.
func decodeTF(body []byte, m *kiln.Model) ([]*tensor.Tensor, int, *apiError) {
	var req tfPredictRequest
	if aerr := decodeJSON(body, &req); aerr != nil {
		return nil, 0, aerr
	}
	if req.SignatureName != "" && req.SignatureName != "serving_default" {
		return nil, 0, badRequest("unknown signature_name %q; kiln models have one signature, \"serving_default\"", req.SignatureName)
	}
	hasInst, hasIn := present(req.Instances), present(req.Inputs)
	switch {
	case hasInst && hasIn:
		return nil, 0, badRequest("a request has either \"instances\" or \"inputs\", not both")
	case !hasInst && !hasIn:
		return nil, 0, badRequest("a predict request needs \"instances\" (row format) or \"inputs\" (columnar format)")
	case hasInst:
		return decodeInstances(req.Instances, m)
	}
	in, aerr := decodeColumns(req.Inputs, m)
	return in, -1, aerr
}

func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(bytes.TrimSpace(raw)) != "null"
}

// isObject reports whether raw is a JSON object other than {"b64": ...}.
func isObject(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil, false
	}
	if _, b64 := obj["b64"]; b64 && len(obj) == 1 {
		return nil, false
	}
	return obj, true
}

func decodeInstances(raw json.RawMessage, m *kiln.Model) ([]*tensor.Tensor, int, *apiError) {
	var rows []json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, 0, badRequest("\"instances\" must be a list, one element per instance")
	}
	if len(rows) == 0 {
		return nil, 0, badRequest("\"instances\" is empty")
	}
	ins := m.Inputs()
	// cols[i] gathers input i's value from every instance.
	cols := make([][]json.RawMessage, len(ins))
	for k, row := range rows {
		obj, isObj := isObject(row)
		if !isObj {
			if len(ins) != 1 {
				return nil, 0, badRequest("instance %d is not an object; the model has %d inputs, so each instance must be an object naming them: %s", k, len(ins), describe(ins))
			}
			cols[0] = append(cols[0], row)
			continue
		}
		for name := range obj {
			if indexOf(ins, name) < 0 {
				return nil, 0, badRequest("instance %d: unknown input %q; the model takes %s", k, name, describe(ins))
			}
		}
		for i, want := range ins {
			v, ok := obj[want.Name]
			if !ok {
				return nil, 0, badRequest("instance %d: missing input %q", k, want.Name)
			}
			cols[i] = append(cols[i], v)
		}
	}
	in := make([]*tensor.Tensor, len(ins))
	for i, col := range cols {
		size := 2 + len(col)
		for _, v := range col {
			size += len(v)
		}
		joined := make([]byte, 0, size)
		joined = append(joined, '[')
		for k, v := range col {
			if k > 0 {
				joined = append(joined, ',')
			}
			joined = append(joined, v...)
		}
		joined = append(joined, ']')
		t, err := parseTensorJSON(joined, ins[i].DType)
		if err != nil {
			return nil, 0, badRequest("input %q: %v (instances must all have the same shape)", ins[i].Name, err)
		}
		in[i] = t
	}
	return in, len(rows), nil
}

func decodeColumns(raw json.RawMessage, m *kiln.Model) ([]*tensor.Tensor, *apiError) {
	ins := m.Inputs()
	in := make([]*tensor.Tensor, len(ins))
	obj, isObj := isObject(raw)
	if !isObj {
		if len(ins) != 1 {
			return nil, badRequest("\"inputs\" is one tensor, but the model has %d inputs; send an object naming them: %s", len(ins), describe(ins))
		}
		t, err := parseTensorJSON(raw, ins[0].DType)
		if err != nil {
			return nil, badRequest("input %q: %v", ins[0].Name, err)
		}
		in[0] = t
		return in, nil
	}
	for name := range obj {
		if indexOf(ins, name) < 0 {
			return nil, badRequest("unknown input %q; the model takes %s", name, describe(ins))
		}
	}
	for i, want := range ins {
		v, ok := obj[want.Name]
		if !ok {
			return nil, badRequest("missing input %q; the model takes %s", want.Name, describe(ins))
		}
		t, err := parseTensorJSON(v, want.DType)
		if err != nil {
			return nil, badRequest("input %q: %v", want.Name, err)
		}
		in[i] = t
	}
	return in, nil
}

func indexOf(ts []kiln.TensorInfo, name string) int {
	for i, t := range ts {
		if t.Name == name {
			return i
		}
	}
	return -1
}

// encodeTF writes {"predictions": ...} for a row-format request (rows >=
// 0) and {"outputs": ...} for a columnar one. With one output the name is
// left out; with several, predictions are a list of objects, one per
// instance, and outputs an object keyed by output name. A single output
// whose leading dimension is not the number of instances is returned
// whole as "predictions".
func encodeTF(m *kiln.Model, out []*tensor.Tensor, rows int) ([]byte, *apiError) {
	infos := m.Outputs()
	buf := make([]byte, 0, 64)
	if rows < 0 {
		buf = append(buf, `{"outputs":`...)
		if len(out) == 1 {
			buf = appendTensorJSON(buf, out[0], true)
		} else {
			buf = append(buf, '{')
			for i, t := range out {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = appendJSONString(buf, infos[i].Name)
				buf = append(buf, ':')
				buf = appendTensorJSON(buf, t, true)
			}
			buf = append(buf, '}')
		}
		return append(buf, '}'), nil
	}
	follows := true
	for _, t := range out {
		if t.Rank() == 0 || t.Shape()[0] != rows {
			follows = false
		}
	}
	buf = append(buf, `{"predictions":`...)
	switch {
	case len(out) == 1 && !follows:
		buf = appendTensorJSON(buf, out[0], true)
	case !follows:
		return nil, badRequest("the model's outputs do not have one row per instance; send the request in columnar format (\"inputs\")")
	default:
		buf = append(buf, '[')
		for k := range rows {
			if k > 0 {
				buf = append(buf, ',')
			}
			if len(out) == 1 {
				buf = appendTensorJSON(buf, row(out[0], k), true)
				continue
			}
			buf = append(buf, '{')
			for i, t := range out {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = appendJSONString(buf, infos[i].Name)
				buf = append(buf, ':')
				buf = appendTensorJSON(buf, row(t, k), true)
			}
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	return append(buf, '}'), nil
}

// row returns t[k] as a tensor of rank one less, sharing t's storage.
func row(t *tensor.Tensor, k int) *tensor.Tensor {
	r := rowSlice(t, k, k+1)
	return tensor.Must(r.Shape()[1:], r.Data())
}
