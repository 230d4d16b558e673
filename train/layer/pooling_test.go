package layer

import "testing"

func TestPooling(t *testing.T) {
	convCheck(t, []convCase{
		{
			name: "max1d valid", class: "MaxPooling1D", config: `{"name":"p","pool_size":2,"padding":"valid"}`,
			inShape: Shape{-1, 5, 1}, xShape: []int{1, 5, 1}, x: []float32{1, 3, 2, 5, 4},
			want: []float32{3, 5}, shape: []int{1, 2, 1}, kerasShape: Shape{-1, 2, 1},
		},
		{
			name: "max1d same", class: "MaxPooling1D", config: `{"name":"p","pool_size":2,"strides":2,"padding":"same"}`,
			inShape: Shape{-1, 5, 1}, xShape: []int{1, 5, 1}, x: []float32{1, 3, 2, 5, -4},
			// the last window is [-4, pad]: padding never wins
			want: []float32{3, 5, -4}, shape: []int{1, 3, 1}, kerasShape: Shape{-1, 3, 1},
		},
		{
			name: "avg1d same excludes padding", class: "AveragePooling1D", config: `{"name":"p","pool_size":2,"strides":2,"padding":"same"}`,
			inShape: Shape{-1, 5, 1}, xShape: []int{1, 5, 1}, x: []float32{1, 3, 2, 5, 4},
			want: []float32{2, 3.5, 4}, shape: []int{1, 3, 1},
		},
		{
			name: "avg2d same stride 1", class: "AveragePooling2D", config: `{"name":"p","pool_size":[2,2],"strides":[1,1],"padding":"same"}`,
			inShape: Shape{-1, 2, 2, 1}, xShape: []int{1, 2, 2, 1}, x: []float32{1, 2, 3, 4},
			want: []float32{2.5, 3, 3.5, 4}, shape: []int{1, 2, 2, 1},
		},
		{
			name: "avg2d same unknown dims", class: "AveragePooling2D", config: `{"name":"p","pool_size":[2,2],"strides":[1,1],"padding":"same"}`,
			inShape: Shape{-1, -1, -1, 1}, xShape: []int{1, 2, 2, 1}, x: []float32{1, 2, 3, 4},
			want: []float32{2.5, 3, 3.5, 4}, shape: []int{1, 2, 2, 1},
		},
		{
			name: "max2d two channels", class: "MaxPooling2D", config: `{"name":"p","pool_size":[1,2]}`,
			inShape: Shape{-1, 1, 2, 2}, xShape: []int{1, 1, 2, 2}, x: []float32{1, 10, 5, 2},
			want: []float32{5, 10}, shape: []int{1, 1, 1, 2},
		},
		{
			name: "max2d channels_first", class: "MaxPooling2D", config: `{"name":"p","pool_size":[2,2],"data_format":"channels_first"}`,
			inShape: Shape{-1, 2, 2, 2}, xShape: []int{1, 2, 2, 2}, x: []float32{1, 4, 3, 2, 8, 5, 6, 7},
			want: []float32{4, 8}, shape: []int{1, 2, 1, 1},
		},
		{
			name: "keras 1 MaxPooling1D", class: "MaxPooling1D", config: `{"name":"p","pool_length":3,"stride":null,"border_mode":"valid"}`,
			inShape: Shape{-1, 6, 1}, xShape: []int{1, 6, 1}, x: []float32{1, 3, 2, 5, 4, 0},
			want: []float32{3, 5}, shape: []int{1, 2, 1},
		},
		{
			name: "keras 1 MaxPooling2D th", class: "MaxPooling2D", config: `{"name":"p","pool_size":[1,2],"strides":[1,1],"border_mode":"valid","dim_ordering":"th"}`,
			inShape: Shape{-1, 1, 1, 3}, xShape: []int{1, 1, 1, 3}, x: []float32{1, 3, 2},
			want: []float32{3, 3}, shape: []int{1, 1, 1, 2},
		},
		{
			name: "max3d", class: "MaxPooling3D", config: `{"name":"p","pool_size":[2,2,2]}`,
			inShape: Shape{-1, 2, 2, 2, 1}, xShape: []int{1, 2, 2, 2, 1}, x: []float32{1, 2, 3, 8, 5, 6, 7, 4},
			want: []float32{8}, shape: []int{1, 1, 1, 1, 1},
		},
		{
			name: "avg3d", class: "AveragePooling3D", config: `{"name":"p","pool_size":2}`,
			inShape: Shape{-1, 2, 2, 2, 1}, xShape: []int{1, 2, 2, 2, 1}, x: []float32{1, 2, 3, 8, 5, 6, 7, 4},
			want: []float32{4.5}, shape: []int{1, 1, 1, 1, 1},
		},
	})
}

func TestGlobalPooling(t *testing.T) {
	convCheck(t, []convCase{
		{
			name: "avg1d", class: "GlobalAveragePooling1D", config: `{"name":"g"}`,
			inShape: Shape{-1, 3, 2}, xShape: []int{1, 3, 2}, x: []float32{1, 10, 2, 20, 3, 60},
			want: []float32{2, 30}, shape: []int{1, 2}, kerasShape: Shape{-1, 2},
		},
		{
			name: "avg1d masked", class: "GlobalAveragePooling1D", config: `{"name":"g"}`,
			inShape: Shape{-1, 3, 2}, xShape: []int{1, 3, 2}, x: []float32{1, 10, 2, 20, 3, 60},
			mask: []bool{true, true, false},
			want: []float32{1.5, 15}, shape: []int{1, 2},
		},
		{
			name: "avg1d channels_first keepdims", class: "GlobalAveragePooling1D", config: `{"name":"g","data_format":"channels_first","keepdims":true}`,
			inShape: Shape{-1, 2, 2}, xShape: []int{1, 2, 2}, x: []float32{1, 3, 10, 30},
			want: []float32{2, 20}, shape: []int{1, 2, 1}, kerasShape: Shape{-1, 2, 1},
		},
		{
			name: "max1d", class: "GlobalMaxPooling1D", config: `{"name":"g"}`,
			inShape: Shape{-1, 3, 2}, xShape: []int{1, 3, 2}, x: []float32{1, 10, 5, 20, 3, -60},
			want: []float32{5, 20}, shape: []int{1, 2},
		},
		{
			name: "max2d channels_first keepdims", class: "GlobalMaxPooling2D", config: `{"name":"g","data_format":"channels_first","keepdims":true}`,
			inShape: Shape{-1, 2, 1, 2}, xShape: []int{1, 2, 1, 2}, x: []float32{1, 5, 7, 3},
			want: []float32{5, 7}, shape: []int{1, 2, 1, 1},
		},
		{
			name: "avg2d", class: "GlobalAveragePooling2D", config: `{"name":"g","data_format":"channels_last"}`,
			inShape: Shape{-1, 2, 1, 2}, xShape: []int{1, 2, 1, 2}, x: []float32{1, 5, 7, 3},
			want: []float32{4, 4}, shape: []int{1, 2},
		},
		{
			name: "avg3d", class: "GlobalAveragePooling3D", config: `{"name":"g"}`,
			inShape: Shape{-1, 2, 1, 1, 1}, xShape: []int{1, 2, 1, 1, 1}, x: []float32{1, 2},
			want: []float32{1.5}, shape: []int{1, 1},
		},
	})
}

func TestAdaptivePooling(t *testing.T) {
	convCheck(t, []convCase{
		{
			// bins [0, 3) and [2, 5)
			name: "avg1d overlapping bins", class: "AdaptiveAveragePooling1D", config: `{"name":"a","output_size":2}`,
			inShape: Shape{-1, 5, 1}, xShape: []int{1, 5, 1}, x: []float32{1, 2, 3, 4, 5},
			want: []float32{2, 4}, shape: []int{1, 2, 1}, kerasShape: Shape{-1, 2, 1},
		},
		{
			name: "max2d", class: "AdaptiveMaxPooling2D", config: `{"name":"a","output_size":[1,2]}`,
			inShape: Shape{-1, 2, 3, 1}, xShape: []int{1, 2, 3, 1}, x: []float32{1, 5, 2, 3, 0, 6},
			want: []float32{5, 6}, shape: []int{1, 1, 2, 1},
		},
		{
			name: "avg2d channels_first", class: "AdaptiveAveragePooling2D", config: `{"name":"a","output_size":1,"data_format":"channels_first"}`,
			inShape: Shape{-1, 1, 2, 2}, xShape: []int{1, 1, 2, 2}, x: []float32{1, 2, 3, 6},
			want: []float32{3}, shape: []int{1, 1, 1, 1},
		},
	})
}
