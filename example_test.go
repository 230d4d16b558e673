package kiln_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// Load a model file once, then call Predict from any goroutine.
func ExampleLoad() {
	m, err := kiln.Load("testdata/models/mnist_8/model.onnx", kiln.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	for _, in := range m.Inputs() {
		fmt.Println("input ", in)
	}
	for _, out := range m.Outputs() {
		fmt.Println("output", out)
	}
	// Output:
	// input  "Input3" float32[1,1,28,28]
	// output "Plus214_Output_0" float32[1,10]
}

func ExampleModel_Predict() {
	m, err := kiln.Load("testdata/models/mnist_8/model.onnx", kiln.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	// A blank 28x28 image.
	img := tensor.New(tensor.Float32, 1, 1, 28, 28)
	out, err := m.Predict(context.Background(), map[string]*tensor.Tensor{"Input3": img})
	if err != nil {
		log.Fatal(err)
	}
	scores := out["Plus214_Output_0"]
	fmt.Println(scores.Shape())
	// Output: (1, 10)
}

// Inputs that do not fit the model are refused before anything runs, with
// an error that says what the model expected.
func ExampleModel_Predict_badInput() {
	m, err := kiln.Load("testdata/models/mnist_8/model.onnx", kiln.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	img := tensor.New(tensor.Float32, 1, 28, 28) // the channel dimension is missing
	_, err = m.Predict(context.Background(), map[string]*tensor.Tensor{"Input3": img})
	fmt.Println(errors.Is(err, kiln.ErrInput))
	fmt.Println(err)
	// Output:
	// true
	// kiln: input "Input3": got shape (1, 28, 28) (rank 3), want float32[1,1,28,28] (rank 4): invalid input
}
