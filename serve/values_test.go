package serve

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// A request whose tensors have the right names, dtypes and shapes but
// values the model cannot take (an index out of range) is the client's
// error: 422 with the op's message, not a 500.
func TestBadValuesAre422(t *testing.T) {
	g := &graph.Graph{
		Inputs:  []*graph.Value{{Name: "idx", Type: graph.TensorType(tensor.Int64, 1)}},
		Outputs: []*graph.Value{{Name: "y", Type: graph.TensorType(tensor.Float32, 1)}},
		Params:  []*graph.Param{{Name: "table", Tensor: tensor.From(tensor.Shape{3}, []float32{1, 2, 3})}},
		Nodes:   []*graph.Node{{Name: "g", Op: "Gather", Inputs: []string{"table", "idx"}, Outputs: []string{"y"}, Attrs: graph.Attrs{}}},
	}
	s, err := New(map[string]*kiln.Model{"lookup": model(t, g)}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := newHTTPTest(t, s)
	ok, _ := do(t, "POST", ts+"/v2/models/lookup/infer", `{"inputs":[{"name":"idx","shape":[1],"datatype":"INT64","data":[2]}]}`)
	if ok != http.StatusOK {
		t.Fatalf("in-range index: status %d", ok)
	}
	code, body := do(t, "POST", ts+"/v2/models/lookup/infer", `{"inputs":[{"name":"idx","shape":[1],"datatype":"INT64","data":[7]}]}`)
	if code != http.StatusUnprocessableEntity || body["error"] == nil {
		t.Fatalf("out-of-range index: status %d body %v, want 422 with an error", code, body)
	}
}

func newHTTPTest(t *testing.T, s *Server) string {
	ts := httptestServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}

var httptestServer = func(s *Server) *httptest.Server { return httptest.NewServer(s.Handler()) }
