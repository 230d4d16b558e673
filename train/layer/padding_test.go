package layer

import "testing"

func TestPaddingCropping(t *testing.T) {
	convCheck(t, []convCase{
		{
			name: "zeropad1d pair", class: "ZeroPadding1D", config: `{"name":"z","padding":[1,2]}`,
			inShape: Shape{-1, 2, 1}, xShape: []int{1, 2, 1}, x: []float32{1, 2},
			want: []float32{0, 1, 2, 0, 0}, shape: []int{1, 5, 1}, kerasShape: Shape{-1, 5, 1},
		},
		{
			name: "zeropad2d pairs", class: "ZeroPadding2D", config: `{"name":"z","padding":[[1,0],[0,1]],"data_format":"channels_last"}`,
			inShape: Shape{-1, 1, 1, 1}, xShape: []int{1, 1, 1, 1}, x: []float32{5},
			want: []float32{0, 0, 5, 0}, shape: []int{1, 2, 2, 1},
		},
		{
			name: "zeropad2d int channels_first", class: "ZeroPadding2D", config: `{"name":"z","padding":1,"data_format":"channels_first"}`,
			inShape: Shape{-1, 1, 1, 1}, xShape: []int{1, 1, 1, 1}, x: []float32{5},
			want: []float32{0, 0, 0, 0, 5, 0, 0, 0, 0}, shape: []int{1, 1, 3, 3},
		},
		{
			name: "keras 1 zeropad2d th", class: "ZeroPadding2D", config: `{"name":"z","padding":[0,1],"dim_ordering":"th"}`,
			inShape: Shape{-1, 1, 1, 1}, xShape: []int{1, 1, 1, 1}, x: []float32{5},
			want: []float32{0, 5, 0}, shape: []int{1, 1, 1, 3},
		},
		{
			name: "zeropad3d", class: "ZeroPadding3D", config: `{"name":"z","padding":[1,0,0]}`,
			inShape: Shape{-1, 1, 1, 1, 1}, xShape: []int{1, 1, 1, 1, 1}, x: []float32{5},
			want: []float32{0, 5, 0}, shape: []int{1, 3, 1, 1, 1},
		},
		{
			name: "crop1d", class: "Cropping1D", config: `{"name":"c","cropping":[1,0]}`,
			inShape: Shape{-1, 3, 1}, xShape: []int{1, 3, 1}, x: []float32{1, 2, 3},
			want: []float32{2, 3}, shape: []int{1, 2, 1}, kerasShape: Shape{-1, 2, 1},
		},
		{
			name: "crop2d", class: "Cropping2D", config: `{"name":"c","cropping":[[0,1],[1,1]]}`,
			inShape: Shape{-1, 2, 3, 1}, xShape: []int{1, 2, 3, 1}, x: []float32{1, 2, 3, 4, 5, 6},
			want: []float32{2}, shape: []int{1, 1, 1, 1},
		},
		{
			name: "crop2d channels_first", class: "Cropping2D", config: `{"name":"c","cropping":[[0,0],[0,2]],"data_format":"channels_first"}`,
			inShape: Shape{-1, 1, 2, 3}, xShape: []int{1, 1, 2, 3}, x: []float32{1, 2, 3, 4, 5, 6},
			want: []float32{1, 4}, shape: []int{1, 1, 2, 1},
		},
		{
			name: "crop3d int", class: "Cropping3D", config: `{"name":"c","cropping":1}`,
			inShape: Shape{-1, 3, 3, 3, 1}, xShape: []int{1, 3, 3, 3, 1},
			x:    []float32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			want: []float32{7}, shape: []int{1, 1, 1, 1, 1},
		},
	})
}

func TestUpSampling(t *testing.T) {
	convCheck(t, []convCase{
		{
			name: "1d", class: "UpSampling1D", config: `{"name":"u","size":2}`,
			inShape: Shape{-1, 2, 2}, xShape: []int{1, 2, 2}, x: []float32{1, 10, 2, 20},
			want: []float32{1, 10, 1, 10, 2, 20, 2, 20}, shape: []int{1, 4, 2}, kerasShape: Shape{-1, 4, 2},
		},
		{
			name: "keras 1 1d length", class: "UpSampling1D", config: `{"name":"u","length":3}`,
			inShape: Shape{-1, 1, 1}, xShape: []int{1, 1, 1}, x: []float32{4},
			want: []float32{4, 4, 4}, shape: []int{1, 3, 1},
		},
		{
			name: "2d nearest", class: "UpSampling2D", config: `{"name":"u","size":[2,1],"interpolation":"nearest"}`,
			inShape: Shape{-1, 1, 2, 2}, xShape: []int{1, 1, 2, 2}, x: []float32{1, 10, 2, 20},
			want: []float32{1, 10, 2, 20, 1, 10, 2, 20}, shape: []int{1, 2, 2, 2},
		},
		{
			name: "2d nearest channels_first", class: "UpSampling2D", config: `{"name":"u","size":[1,2],"data_format":"channels_first"}`,
			inShape: Shape{-1, 1, 1, 2}, xShape: []int{1, 1, 1, 2}, x: []float32{1, 2},
			want: []float32{1, 1, 2, 2}, shape: []int{1, 1, 1, 4},
		},
		{
			// half-pixel: source x = (o + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped)
			name: "2d bilinear keras 3", class: "UpSampling2D", config: `{"name":"u","size":[1,2],"interpolation":"bilinear"}`,
			version: Version{Major: 3},
			inShape: Shape{-1, 1, 2, 1}, xShape: []int{1, 1, 2, 1}, x: []float32{1, 3},
			want: []float32{1, 1.5, 2.5, 3}, shape: []int{1, 1, 4, 1},
		},
		{
			// TF 1 resize_bilinear: source x = o/2 = 0, 0.5, 1, 1.5 (clamped)
			name: "2d bilinear keras 2.2", class: "UpSampling2D", config: `{"name":"u","size":[1,2],"interpolation":"bilinear"}`,
			version: Version{Major: 2, Minor: 2},
			inShape: Shape{-1, 1, 2, 1}, xShape: []int{1, 1, 2, 1}, x: []float32{1, 3},
			want: []float32{1, 2, 3, 3}, shape: []int{1, 1, 4, 1},
		},
		{
			name: "3d", class: "UpSampling3D", config: `{"name":"u","size":[2,1,2]}`,
			inShape: Shape{-1, 1, 1, 1, 1}, xShape: []int{1, 1, 1, 1, 1}, x: []float32{3},
			want: []float32{3, 3, 3, 3}, shape: []int{1, 2, 1, 2, 1},
		},
	})
}
