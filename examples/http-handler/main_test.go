package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln"
)

func TestDigitHandler(t *testing.T) {
	model, err := kiln.Load("../../testdata/models/mnist_8/model.onnx", kiln.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	srv := httptest.NewServer(digitHandler(model))
	defer srv.Close()

	pixels := make([]float32, 784)
	body, _ := json.Marshal(map[string]any{"pixels": pixels})
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Digit  int       `json:"digit"`
		Scores []float32 `json:"scores"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&got) != nil || len(got.Scores) != 10 {
		t.Fatalf("status %d, response %+v", resp.StatusCode, got)
	}

	resp, err = http.Post(srv.URL, "application/json", strings.NewReader(`{"pixels": [1, 2, 3]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("3 pixels: status %d, want 400", resp.StatusCode)
	}
}
