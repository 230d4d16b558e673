package train_test

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
	"github.com/kiln-ml/kiln/train/loss"
	"github.com/kiln-ml/kiln/train/optimizer"
)

func ExampleNewFunctional() {
	x := train.Input("image", layer.Shape{-1, 8, 8, 1})
	h := train.Apply(layer.MustMake("Conv2D", layer.Config{"filters": 4, "kernel_size": 3, "activation": "relu"}), x)
	h = train.Apply(layer.MustMake("GlobalAveragePooling2D", nil), h)
	y := train.Apply(layer.MustMake("Dense", layer.Config{"units": 3, "activation": "softmax"}), h)
	m, err := train.NewFunctional("classifier", []*train.Symbol{x}, []*train.Symbol{y})
	if err != nil {
		fmt.Println(err)
		return
	}
	m.InitWeights(1)
	if err := m.Compile(optimizer.NewAdam(optimizer.Adam{}), loss.CategoricalCrossentropy(false, 0), []string{"accuracy"}); err != nil {
		fmt.Println(err)
		return
	}
	images := tensor.New(tensor.Float32, 6, 8, 8, 1)
	labels := tensor.New(tensor.Float32, 6, 3)
	for i := range 6 {
		labels.F32()[i*3+i%3] = 1
		for j := range 64 {
			images.F32()[i*64+j] = float32((i+j)%5) / 4
		}
	}
	hist, err := m.Fit([]*tensor.Tensor{images}, []*tensor.Tensor{labels}, train.FitOptions{Epochs: 2, BatchSize: 3, Verbose: train.VerboseSilent})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.CountParams(), "parameters;", len(hist.History["loss"]), "epochs; output", y.Shape())
	// Output: 55 parameters; 2 epochs; output (None, 3)
}
