package serve

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// The Open Inference Protocol (KServe v2) over HTTP/REST. Field names are
// the protocol's: $inference_request {"id", "parameters", "inputs",
// "outputs"}, $request_input {"name", "shape", "datatype", "parameters",
// "data"}, $request_output {"name", "parameters"}, $inference_response
// {"model_name", "model_version", "id", "parameters", "outputs"},
// $response_output {"name", "shape", "datatype", "parameters", "data"},
// $metadata_model_response {"name", "versions", "platform", "inputs",
// "outputs"} with $metadata_tensor {"name", "datatype", "shape"}, and the
// error objects {"error": $string}.

// v2DTypes maps the protocol's tensor data types to kiln's. BF16 is not in
// the protocol's table; Triton uses the name, and so does kiln.
var v2DTypes = map[string]tensor.DType{
	"BOOL": tensor.Bool, "UINT8": tensor.Uint8, "UINT16": tensor.Uint16,
	"UINT32": tensor.Uint32, "UINT64": tensor.Uint64, "INT8": tensor.Int8,
	"INT16": tensor.Int16, "INT32": tensor.Int32, "INT64": tensor.Int64,
	"FP16": tensor.Float16, "FP32": tensor.Float32, "FP64": tensor.Float64,
	"BYTES": tensor.String, "BF16": tensor.BFloat16,
}

var v2Names = func() map[tensor.DType]string {
	m := map[tensor.DType]string{}
	for k, v := range v2DTypes {
		m[v] = k
	}
	return m
}()

// v2DType names dt in the protocol; types the protocol lacks (float8,
// int4, ...) get kiln's name in capitals, and cannot be sent as JSON.
func v2DType(dt tensor.DType) string {
	if s, ok := v2Names[dt]; ok {
		return s
	}
	return strings.ToUpper(dt.String())
}

type v2Request struct {
	ID         string            `json:"id"`
	Parameters map[string]any    `json:"parameters"`
	Inputs     []v2RequestInput  `json:"inputs"`
	Outputs    []v2RequestOutput `json:"outputs"`
}

type v2RequestInput struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters"`
	Data       json.RawMessage `json:"data"`
}

type v2RequestOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters"`
}

type v2MetadataTensor struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
	Shape    []int  `json:"shape"`
}

type v2ModelMetadata struct {
	Name     string             `json:"name"`
	Versions []string           `json:"versions,omitempty"`
	Platform string             `json:"platform"`
	Inputs   []v2MetadataTensor `json:"inputs"`
	Outputs  []v2MetadataTensor `json:"outputs"`
}

// v2Live answers the server live probe: 200 while the process serves.
// The body is {"live": true} as the Open Inference Protocol's
// $live_server_response shows; clients that follow the older text read the
// status code alone.
func (s *Server) v2Live(w http.ResponseWriter, r *http.Request) {
	c := &call{proto: "meta", model: "", start: time.Now()}
	s.writeJSON(w, r, c, map[string]bool{"live": true})
}

// v2Ready answers the server ready probe: 200 {"ready": true} when every
// model is loaded, 400 {"ready": false} once shutdown has begun (the
// protocol says a 4xx status means false).
func (s *Server) v2Ready(w http.ResponseWriter, r *http.Request) {
	c := &call{proto: "meta", model: "", start: time.Now()}
	if s.draining.Load() {
		body, _ := json.Marshal(map[string]bool{"ready": false})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write(body)
		s.done(r, c, http.StatusBadRequest, "shutting down")
		return
	}
	s.writeJSON(w, r, c, map[string]bool{"ready": true})
}

// v2ModelReady answers {"name": ..., "ready": ...} ($ready_model_response).
func (s *Server) v2ModelReady(w http.ResponseWriter, r *http.Request) {
	c := &call{proto: "meta", model: "unknown", start: time.Now()}
	e, aerr := s.lookup(c, r.PathValue("name"), r.PathValue("version"))
	if aerr != nil {
		s.fail(w, r, c, aerr)
		return
	}
	ready := !s.draining.Load()
	if !ready {
		body, _ := json.Marshal(map[string]any{"name": e.name, "ready": false})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write(body)
		s.done(r, c, http.StatusBadRequest, "shutting down")
		return
	}
	s.writeJSON(w, r, c, map[string]any{"name": e.name, "ready": true})
}

// v2ServerMetadata answers $metadata_server_response; of the protocol's
// extensions kiln implements the binary tensor data extension.
func (s *Server) v2ServerMetadata(w http.ResponseWriter, r *http.Request) {
	c := &call{proto: "meta", model: "", start: time.Now()}
	s.writeJSON(w, r, c, map[string]any{"name": "kiln", "version": Version, "extensions": []string{"binary_tensor_data"}})
}

// v2Platform names the model's platform as "<project>_<format>". The
// protocol lists "onnx_onnxv1" for ONNX models; Keras files, which the
// list lacks, are "kiln_keras".
func v2Platform(m *kiln.Model) string {
	switch m.Format() {
	case "onnx":
		return "onnx_onnxv1"
	case "keras-h5", "keras-zip":
		return "kiln_keras"
	}
	return "kiln_" + m.Format()
}

func metadataTensors(ts []kiln.TensorInfo) []v2MetadataTensor {
	out := make([]v2MetadataTensor, len(ts))
	for i, t := range ts {
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		out[i] = v2MetadataTensor{Name: t.Name, Datatype: v2DType(t.DType), Shape: shape}
	}
	return out
}

// v2ModelMetadata answers $metadata_model_response; free dimensions are -1.
func (s *Server) v2ModelMetadata(w http.ResponseWriter, r *http.Request) {
	c := &call{proto: "meta", model: "unknown", start: time.Now()}
	e, aerr := s.lookup(c, r.PathValue("name"), r.PathValue("version"))
	if aerr != nil {
		s.fail(w, r, c, aerr)
		return
	}
	s.writeJSON(w, r, c, v2ModelMetadata{
		Name:     e.name,
		Versions: []string{"1"},
		Platform: v2Platform(e.m),
		Inputs:   metadataTensors(e.m.Inputs()),
		Outputs:  metadataTensors(e.m.Outputs()),
	})
}

// v2Infer runs an $inference_request. Input data may be nested or flat
// (the protocol allows both); the datatype must be the model input's own
// (no coercion between types); requested outputs are returned in the order
// asked, all outputs in model order when none are. The response carries
// the request's "id", or the X-Request-Id header's, or a generated one.
// Output "data" is flat, in row-major order. With the binary tensor data
// extension (an Inference-Header-Content-Length header), inputs may carry
// binary_data_size and their data after the JSON, and outputs asked for as
// binary_data come back the same way.
func (s *Server) v2Infer(w http.ResponseWriter, r *http.Request) {
	c := &call{proto: "v2", model: "unknown", start: time.Now(), id: r.Header.Get("X-Request-Id")}
	s.met.inFlight.Inc()
	defer s.met.inFlight.Dec()
	e, aerr := s.lookup(c, r.PathValue("name"), r.PathValue("version"))
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
	jsonPart, bin, aerr := splitBinary(r, body.Bytes())
	var in []*tensor.Tensor
	var outIdx []int
	var req *v2Request
	if aerr == nil {
		in, outIdx, req, aerr = decodeV2With(jsonPart, bin, e.m)
	}
	putBuf(body)
	if req != nil && req.ID != "" {
		c.id = req.ID
	}
	if c.id == "" {
		c.id = s.newID()
	}
	if aerr != nil {
		s.fail(w, r, c, aerr)
		return
	}
	out, aerr := s.run(ctx, c, e, in)
	if aerr != nil {
		s.fail(w, r, c, aerr)
		return
	}
	binOut := binaryOutputs(req, outIdx, e.m)
	resp, header := encodeV2(e, c.id, out, outIdx, binOut)
	if header < 0 {
		s.reply(w, r, c, resp)
		return
	}
	w.Header().Set("Inference-Header-Content-Length", strconv.Itoa(header))
	s.replyAs(w, r, c, resp, "application/octet-stream")
}

// splitBinary separates a request body into its JSON header and the binary
// tensor data after it, when the Inference-Header-Content-Length header
// (the binary tensor data extension) says where the JSON ends.
func splitBinary(r *http.Request, body []byte) ([]byte, []byte, *apiError) {
	h := r.Header.Get("Inference-Header-Content-Length")
	if h == "" {
		return body, nil, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n < 0 || n > len(body) {
		return nil, nil, badRequest("Inference-Header-Content-Length %q: want the length of the JSON header, at most the body's %d bytes", h, len(body))
	}
	return body[:n], body[n:], nil
}

// binaryOutputs reports, for each returned output, whether it goes back as
// binary data: the request's "binary_data_output" parameter, overridden
// by an output's own "binary_data".
func binaryOutputs(req *v2Request, outIdx []int, m *kiln.Model) []bool {
	flags := make([]bool, len(outIdx))
	if req == nil {
		return flags
	}
	def, _ := req.Parameters["binary_data_output"].(bool)
	outs := m.Outputs()
	for k, i := range outIdx {
		flags[k] = def
		for _, ro := range req.Outputs {
			if ro.Name == outs[i].Name {
				if b, ok := ro.Parameters["binary_data"].(bool); ok {
					flags[k] = b
				}
			}
		}
	}
	return flags
}

// decodeV2 turns an $inference_request into the model's inputs, in model
// order, and the indices of the outputs to return.
func decodeV2(body []byte, m *kiln.Model) ([]*tensor.Tensor, []int, *v2Request, *apiError) {
	return decodeV2With(body, nil, m)
}

// binData is the binary tensor data after a request's JSON header, read
// in the order the inputs that use it are listed.
type binData struct {
	b   []byte
	off int
}

// decodeV2With is decodeV2 for a request whose inputs may carry their data
// as binary (bin, after the JSON header; nil when the request has none).
func decodeV2With(body, bin []byte, m *kiln.Model) ([]*tensor.Tensor, []int, *v2Request, *apiError) {
	var bd *binData
	if bin != nil {
		bd = &binData{b: bin}
	}
	var req v2Request
	if aerr := decodeV2Request(body, &req); aerr != nil {
		return nil, nil, nil, aerr
	}
	ins := m.Inputs()
	in := make([]*tensor.Tensor, len(ins))
	for _, ri := range req.Inputs {
		idx := -1
		for i, want := range ins {
			if want.Name == ri.Name {
				idx = i
			}
		}
		if idx < 0 {
			return nil, nil, &req, badRequest("unknown input %q; the model takes %s", ri.Name, describe(ins))
		}
		if in[idx] != nil {
			return nil, nil, &req, badRequest("input %q given twice", ri.Name)
		}
		t, aerr := decodeV2Input(ri, ins[idx], bd)
		if aerr != nil {
			return nil, nil, &req, aerr
		}
		in[idx] = t
	}
	if bd != nil && bd.off != len(bd.b) {
		return nil, nil, &req, badRequest("%d bytes of binary data follow the JSON header, but the inputs' binary_data_size parameters account for %d", len(bd.b), bd.off)
	}
	for i, t := range in {
		if t == nil {
			return nil, nil, &req, badRequest("missing input %s; the model takes %s", ins[i], describe(ins))
		}
	}
	outs := m.Outputs()
	var outIdx []int
	if len(req.Outputs) == 0 {
		for i := range outs {
			outIdx = append(outIdx, i)
		}
	}
	seen := map[string]bool{}
	for _, ro := range req.Outputs {
		idx := -1
		for i, o := range outs {
			if o.Name == ro.Name {
				idx = i
			}
		}
		if idx < 0 {
			return nil, nil, &req, badRequest("unknown output %q; the model produces %s", ro.Name, describe(outs))
		}
		if seen[ro.Name] {
			return nil, nil, &req, badRequest("output %q requested twice", ro.Name)
		}
		seen[ro.Name] = true
		outIdx = append(outIdx, idx)
	}
	return in, outIdx, &req, nil
}

func describe(ts []kiln.TensorInfo) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q %s[%s]", t.Name, v2DType(t.DType), dims(t.Shape))
	}
	if s == "" {
		return "nothing"
	}
	return s
}

func dims(shape []int) string {
	s := ""
	for i, d := range shape {
		if i > 0 {
			s += ","
		}
		s += strconv.Itoa(d)
	}
	return s
}

func decodeV2Input(ri v2RequestInput, want kiln.TensorInfo, bd *binData) (*tensor.Tensor, *apiError) {
	if ri.Datatype == "" {
		return nil, badRequest("input %q has no \"datatype\"; the model takes %s", ri.Name, v2DType(want.DType))
	}
	dt, ok := v2DTypes[ri.Datatype]
	if !ok {
		return nil, badRequest("input %q: unknown datatype %q (the protocol's types are BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES)", ri.Name, ri.Datatype)
	}
	if dt != want.DType {
		return nil, badRequest("input %q: datatype %s, but the model takes %s", ri.Name, ri.Datatype, v2DType(want.DType))
	}
	if ri.Shape == nil {
		return nil, badRequest("input %q has no \"shape\"; the model takes %s[%s]", ri.Name, v2DType(want.DType), dims(want.Shape))
	}
	shape := make(tensor.Shape, len(ri.Shape))
	n := int64(1)
	for i, d := range ri.Shape {
		if d < 0 {
			return nil, badRequest("input %q: shape %v has a negative dimension", ri.Name, ri.Shape)
		}
		if d > 0 && n > tensor.MaxElements/d {
			return nil, badRequest("input %q: shape %v is too large", ri.Name, ri.Shape)
		}
		n *= d
		shape[i] = int(d)
	}
	if size, ok := ri.Parameters["binary_data_size"]; ok {
		if len(ri.Data) > 0 && string(ri.Data) != "null" {
			return nil, badRequest("input %q has both \"data\" and binary_data_size; send one", ri.Name)
		}
		return decodeBinaryInput(ri.Name, size, dt, shape, n, bd)
	}
	if len(ri.Data) == 0 || string(ri.Data) == "null" {
		return nil, badRequest("input %q has no \"data\"", ri.Name)
	}
	t, err := parseTensorStrict(ri.Data, dt)
	if err != nil {
		return nil, badRequest("input %q: %v", ri.Name, err)
	}
	if int64(t.Len()) != n {
		return nil, badRequest("input %q: \"data\" holds %d elements, but shape %v needs %d", ri.Name, t.Len(), ri.Shape, n)
	}
	if t.Rank() > 1 && !t.Shape().Equal(shape) {
		return nil, badRequest("input %q: \"data\" is nested as %v, but \"shape\" is %v (send it nested to the shape or flat)", ri.Name, []int(t.Shape()), ri.Shape)
	}
	return tensor.Must(shape, t.Data()), nil
}

// decodeBinaryInput takes an input's binary_data_size bytes from bd:
// little-endian elements of the datatype's size (BOOL one byte each), or
// for BYTES each element a 4-byte little-endian length and its bytes.
func decodeBinaryInput(name string, size any, dt tensor.DType, shape tensor.Shape, n int64, bd *binData) (*tensor.Tensor, *apiError) {
	if bd == nil {
		return nil, badRequest("input %q has binary_data_size, but the request has no Inference-Header-Content-Length header saying where its JSON ends", name)
	}
	f, ok := size.(float64)
	if !ok || f < 0 || f != math.Trunc(f) || f > float64(len(bd.b)-bd.off) {
		return nil, badRequest("input %q: binary_data_size %v: want a whole number of bytes, at most the %d left after the JSON header", name, size, len(bd.b)-bd.off)
	}
	chunk := bd.b[bd.off : bd.off+int(f)]
	bd.off += int(f)
	if dt == tensor.String {
		vals := make([]string, 0, n)
		for p := 0; p < len(chunk); {
			if p+4 > len(chunk) {
				return nil, badRequest("input %q: BYTES element %d has no complete 4-byte length", name, len(vals))
			}
			l := int(binary.LittleEndian.Uint32(chunk[p:]))
			p += 4
			if l > len(chunk)-p {
				return nil, badRequest("input %q: BYTES element %d claims %d bytes, %d remain", name, len(vals), l, len(chunk)-p)
			}
			vals = append(vals, string(chunk[p:p+l]))
			p += l
		}
		if int64(len(vals)) != n {
			return nil, badRequest("input %q: binary data holds %d BYTES elements, but shape %v needs %d", name, len(vals), []int(shape), n)
		}
		return tensor.Must(shape, vals), nil
	}
	if want := n * int64(dt.Size()); int64(len(chunk)) != want {
		return nil, badRequest("input %q: binary_data_size is %d bytes, but %d %s elements take %d", name, len(chunk), n, v2DType(dt), want)
	}
	t, err := tensor.NewChecked(dt, shape)
	if err != nil {
		return nil, badRequest("input %q: %v", name, err)
	}
	if !tensor.DecodeBytes(t, chunk, binary.LittleEndian) {
		return nil, badRequest("input %q: datatype %s cannot be sent as binary data", name, v2DType(dt))
	}
	return t, nil
}

// binaryTensor is a tensor's binary tensor data, or nil for a type the
// extension cannot carry.
func binaryTensor(t *tensor.Tensor) []byte {
	if t.DType() == tensor.String {
		var b []byte
		for _, v := range t.Data().([]string) {
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		}
		if b == nil {
			b = []byte{}
		}
		return b
	}
	return tensor.EncodeBytes(t, binary.LittleEndian)
}

// encodeV2 writes an $inference_response. Outputs flagged in bin (nil:
// none) go as binary tensor data after the JSON, the rest as "data"; it
// returns the body and the JSON's length, or -1 when nothing is binary.
func encodeV2(e *entry, id string, out []*tensor.Tensor, outIdx []int, bin []bool) ([]byte, int) {
	size := 64
	for _, i := range outIdx {
		size += 64 + out[i].Len()*12
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"model_name":`...)
	buf = appendJSONString(buf, e.name)
	buf = append(buf, `,"id":`...)
	buf = appendJSONString(buf, id)
	buf = append(buf, `,"outputs":[`...)
	infos := e.m.Outputs()
	var raw [][]byte
	for k, i := range outIdx {
		if k > 0 {
			buf = append(buf, ',')
		}
		t := out[i]
		buf = append(buf, `{"name":`...)
		buf = appendJSONString(buf, infos[i].Name)
		buf = append(buf, `,"datatype":`...)
		buf = appendJSONString(buf, v2DType(t.DType()))
		buf = append(buf, `,"shape":[`...)
		for d, n := range t.Shape() {
			if d > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, int64(n), 10)
		}
		var data []byte
		if k < len(bin) && bin[k] {
			data = binaryTensor(t)
		}
		if data == nil {
			buf = append(buf, `],"data":`...)
			buf = appendTensorJSON(buf, t, false)
		} else {
			buf = append(buf, `],"parameters":{"binary_data_size":`...)
			buf = strconv.AppendInt(buf, int64(len(data)), 10)
			buf = append(buf, '}')
			raw = append(raw, data)
		}
		buf = append(buf, '}')
	}
	buf = append(buf, "]}"...)
	if raw == nil {
		return buf, -1
	}
	header := len(buf)
	for _, d := range raw {
		buf = append(buf, d...)
	}
	return buf, header
}

func appendJSONString(buf []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(buf, q...)
}
