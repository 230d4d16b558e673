package layer

import "testing"

func TestLocallyConnected(t *testing.T) {
	convCheck(t, []convCase{
		{
			name: "1d", class: "LocallyConnected1D", config: `{"name":"l","filters":1,"kernel_size":2}`,
			inShape: Shape{-1, 3, 1}, xShape: []int{1, 3, 1}, x: []float32{1, 2, 3},
			// position 0 kernel (1, 10), position 1 kernel (100, 1000)
			weights: [][]float32{{1, 10, 100, 1000}, {0.5, 0.25}},
			want:    []float32{21.5, 3200.25}, shape: []int{1, 2, 1}, kerasShape: Shape{-1, 2, 1},
		},
		{
			name: "2d channels_first per-position", class: "LocallyConnected2D", config: `{"name":"l","filters":1,"kernel_size":[1,1],"data_format":"channels_first"}`,
			inShape: Shape{-1, 2, 1, 2}, xShape: []int{1, 2, 1, 2}, x: []float32{1, 2, 3, 4},
			weights: [][]float32{{1, 10, 100, 1000}, {1, 2}},
			want:    []float32{32, 4202}, shape: []int{1, 1, 1, 2},
		},
		{
			// patch order (j, c): 1, 10, 2, 20
			name: "2d channels_last patch order", class: "LocallyConnected2D", config: `{"name":"l","filters":1,"kernel_size":[1,2],"activation":"relu","use_bias":false}`,
			inShape: Shape{-1, 1, 2, 2}, xShape: []int{1, 1, 2, 2}, x: []float32{1, 10, 2, 20},
			weights: [][]float32{{1, 2, 3, 4}},
			want:    []float32{107}, shape: []int{1, 1, 1, 1},
		},
		{
			// patch order (c, j): 1, 2, 10, 20
			name: "2d channels_first patch order", class: "LocallyConnected2D", config: `{"name":"l","filters":1,"kernel_size":[1,2],"data_format":"channels_first","use_bias":false}`,
			inShape: Shape{-1, 2, 1, 2}, xShape: []int{1, 2, 1, 2}, x: []float32{1, 2, 10, 20},
			weights: [][]float32{{1, 2, 3, 4}},
			want:    []float32{115}, shape: []int{1, 1, 1, 1},
		},
		{
			name: "keras 1 1d", class: "LocallyConnected1D", config: `{"name":"l","nb_filter":1,"filter_length":1,"border_mode":"valid","subsample_length":2,"bias":false}`,
			inShape: Shape{-1, 3, 1}, xShape: []int{1, 3, 1}, x: []float32{1, 2, 3},
			weights: [][]float32{{5, 7}},
			want:    []float32{5, 21}, shape: []int{1, 2, 1},
		},
	})
}
