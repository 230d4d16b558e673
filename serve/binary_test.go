package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// binaryRequest posts a v2 request with the binary tensor data extension:
// the JSON header, then raw, with Inference-Header-Content-Length.
func binaryRequest(t *testing.T, url, header string, raw []byte) (*http.Response, []byte) {
	t.Helper()
	body := append([]byte(header), raw...)
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(header)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func f32bytes(v ...float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// Inputs sent as binary data and outputs asked for as binary data, as the
// binary tensor data extension (KServe, Triton) lays them out.
func TestBinaryTensorData(t *testing.T) {
	_, ts := testServer(t, Config{})
	url := ts.URL + "/v2/models/affine/infer"
	// y = x W + b with W the first three rows of I4 and b = (0.5, 1, 2).
	x := f32bytes(1, 2, 3, 4, 5, 6, 7, 8)
	want := []float32{1.5, 3, 5, 5.5, 7, 9}

	// Binary input, JSON output.
	resp, body := binaryRequest(t, url, `{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]}`, x)
	if resp.StatusCode != 200 || resp.Header.Get("Inference-Header-Content-Length") != "" {
		t.Fatalf("binary input: %d %s", resp.StatusCode, body)
	}
	var v struct {
		Outputs []struct {
			Name       string         `json:"name"`
			Shape      []int          `json:"shape"`
			Data       []float32      `json:"data"`
			Parameters map[string]any `json:"parameters"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(body, &v); err != nil || len(v.Outputs) != 1 {
		t.Fatalf("binary input: %v %s", err, body)
	}
	for i, w := range want {
		if v.Outputs[0].Data[i] != w {
			t.Fatalf("binary input: output %v, want %v", v.Outputs[0].Data, want)
		}
	}

	// Binary output, per output and for all outputs.
	for _, header := range []string{
		`{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}],"outputs":[{"name":"y","parameters":{"binary_data":true}}]}`,
		`{"parameters":{"binary_data_output":true},"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]}`,
	} {
		resp, body = binaryRequest(t, url, header, x)
		n, err := strconv.Atoi(resp.Header.Get("Inference-Header-Content-Length"))
		if resp.StatusCode != 200 || err != nil || n > len(body) {
			t.Fatalf("binary output: %d, header length %q: %s", resp.StatusCode, resp.Header.Get("Inference-Header-Content-Length"), body)
		}
		v.Outputs = nil
		if err := json.Unmarshal(body[:n], &v); err != nil || len(v.Outputs) != 1 || v.Outputs[0].Data != nil {
			t.Fatalf("binary output JSON: %v %s", err, body[:n])
		}
		if size := v.Outputs[0].Parameters["binary_data_size"]; size != float64(24) || len(body)-n != 24 {
			t.Fatalf("binary output: binary_data_size %v, %d bytes after the JSON, want 24", size, len(body)-n)
		}
		if !bytes.Equal(body[n:], f32bytes(want...)) {
			t.Fatalf("binary output data % x, want % x", body[n:], f32bytes(want...))
		}
	}

	// JSON and binary inputs together, each read in order.
	resp, body = binaryRequest(t, ts.URL+"/v2/models/two/infer",
		`{"inputs":[{"name":"a","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}},{"name":"n","shape":[1],"datatype":"INT64","parameters":{"binary_data_size":8}}]}`,
		append(f32bytes(1, 2), binary.LittleEndian.AppendUint64(nil, 3)...))
	if resp.StatusCode != 200 {
		t.Fatalf("two binary inputs: %d %s", resp.StatusCode, body)
	}

	// Errors name the problem.
	for _, c := range []struct {
		header string
		raw    []byte
		length string
		want   string
	}{
		{`{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}`, x[:16], "", "take 32"},
		{`{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]}`, append(x, 0), "", "account for 32"},
		{`{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":64}}]}`, x, "", "at most the 32 left"},
		{`{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","data":[1,2,3,4,5,6,7,8],"parameters":{"binary_data_size":32}}]}`, x, "", "both"},
		{`{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]}`, x, "9999", "Inference-Header-Content-Length"},
	} {
		body := append([]byte(c.header), c.raw...)
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		length := c.length
		if length == "" {
			length = strconv.Itoa(len(c.header))
		}
		req.Header.Set("Inference-Header-Content-Length", length)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s, want 400 mentioning %q", c.header, resp.StatusCode, b, c.want)
		}
	}
}
