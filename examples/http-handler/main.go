// Command http-handler puts a model behind a net/http handler of your own:
// load it once with kiln.Load, call Predict from each request. Predict is
// safe for concurrent use and stops when the request's context ends.
//
//	go run ./examples/http-handler &
//	curl -d '{"pixels": [0, 0, ...784 values...]}' localhost:8081/digit
//
// The handler takes {"pixels": [784 numbers, 0-255]} and answers
// {"digit": d, "scores": [10 numbers]}.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/ops/tensor"
)

func main() {
	path := flag.String("model", "testdata/models/mnist_8/model.onnx", "MNIST model taking float32[1,1,28,28]")
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()

	model, err := kiln.Load(*path, kiln.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	http.Handle("POST /digit", digitHandler(model))
	log.Printf("listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

// digitHandler classifies one 28x28 image per request.
func digitHandler(model *kiln.Model) http.Handler {
	in, out := model.Inputs()[0].Name, model.Outputs()[0].Name
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Pixels []float32 `json:"pixels"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, "want {\"pixels\": [784 numbers]}: "+err.Error(), http.StatusBadRequest)
			return
		}
		img, err := tensor.FromSlice(tensor.Shape{1, 1, 28, 28}, req.Pixels)
		if err != nil {
			http.Error(w, "want 784 pixels: "+err.Error(), http.StatusBadRequest)
			return
		}
		res, err := model.Predict(r.Context(), map[string]*tensor.Tensor{in: img})
		switch {
		case errors.Is(err, kiln.ErrInput):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		scores := res[out].F32()
		digit := 0
		for i, s := range scores {
			if s > scores[digit] {
				digit = i
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"digit": digit, "scores": scores})
	})
}
