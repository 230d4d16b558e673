package tensor

import (
	"fmt"
	"math"
	"strings"
)

// Tensor is a dense, contiguous, row-major array. Its data is a Go slice
// whose element type matches the DType:
//
//	Float32 []float32   Float64 []float64   Float16 []Half   BFloat16 []BHalf
//	Int8 []int8  Int16 []int16  Int32 []int32  Int64 []int64
//	Uint8 []uint8  Uint16 []uint16  Uint32 []uint32  Uint64 []uint64
//	Bool []bool  String []string
//	Float8E4M3FN []F8E4M3FN  Float8E4M3FNUZ []F8E4M3FNUZ  Float8E5M2 []F8E5M2
//	Float8E5M2FNUZ []F8E5M2FNUZ  Float4E2M1 []F4E2M1  Float8E8M0 []F8E8M0
//	Uint4 []U4  Int4 []I4  Uint2 []U2  Int2 []I2
//
// A Tensor value may share its data with others (Reshape); kernels treat
// inputs as read-only and write only tensors they created.
type Tensor struct {
	dtype DType
	shape Shape
	data  any
}

// Elem is the set of Go element types a Tensor can hold.
type Elem interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint8 | ~uint16 | ~uint32 | ~uint64 | ~bool | ~string
}

// Numeric is the subset of Go numeric types with native arithmetic (no
// Float16/BFloat16; those are computed in float32).
type Numeric interface {
	float32 | float64 | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
}

// New returns a zero-filled tensor. It panics on an unsupported dtype or a
// negative dimension (programming errors); use NewChecked for untrusted input.
func New(dt DType, shape ...int) *Tensor {
	t, err := NewChecked(dt, Shape(shape))
	if err != nil {
		panic(err)
	}
	return t
}

// MaxElements bounds the size of any tensor created from untrusted input
// (files, requests): 1<<31 elements.
const MaxElements = 1 << 31

// NewChecked is New with errors instead of panics.
func NewChecked(dt DType, shape Shape) (*Tensor, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("tensor: negative dimension in shape %v", shape)
		}
		if d != 0 && n > MaxElements/d {
			return nil, fmt.Errorf("tensor: shape %v has more than %d elements", shape, MaxElements)
		}
		n *= d
	}
	data, err := makeSlice(dt, n)
	if err != nil {
		return nil, err
	}
	return &Tensor{dtype: dt, shape: shape.Clone(), data: data}, nil
}

func makeSlice(dt DType, n int) (any, error) {
	switch dt {
	case Float32:
		return make([]float32, n), nil
	case Float64:
		return make([]float64, n), nil
	case Float16:
		return make([]Half, n), nil
	case BFloat16:
		return make([]BHalf, n), nil
	case Int8:
		return make([]int8, n), nil
	case Int16:
		return make([]int16, n), nil
	case Int32:
		return make([]int32, n), nil
	case Int64:
		return make([]int64, n), nil
	case Uint8:
		return make([]uint8, n), nil
	case Uint16:
		return make([]uint16, n), nil
	case Uint32:
		return make([]uint32, n), nil
	case Uint64:
		return make([]uint64, n), nil
	case Bool:
		return make([]bool, n), nil
	case String:
		return make([]string, n), nil
	case Float8E4M3FN:
		return make([]F8E4M3FN, n), nil
	case Float8E4M3FNUZ:
		return make([]F8E4M3FNUZ, n), nil
	case Float8E5M2:
		return make([]F8E5M2, n), nil
	case Float8E5M2FNUZ:
		return make([]F8E5M2FNUZ, n), nil
	case Float4E2M1:
		return make([]F4E2M1, n), nil
	case Float8E8M0:
		return make([]F8E8M0, n), nil
	case Uint4:
		return make([]U4, n), nil
	case Int4:
		return make([]I4, n), nil
	case Uint2:
		return make([]U2, n), nil
	case Int2:
		return make([]I2, n), nil
	}
	return nil, fmt.Errorf("tensor: unsupported element type %v", dt)
}

// DTypeOf returns the DType that a slice of this Go type holds, or Undefined.
func DTypeOf(data any) DType {
	switch data.(type) {
	case []float32:
		return Float32
	case []float64:
		return Float64
	case []Half:
		return Float16
	case []BHalf:
		return BFloat16
	case []int8:
		return Int8
	case []int16:
		return Int16
	case []int32:
		return Int32
	case []int64:
		return Int64
	case []uint8:
		return Uint8
	case []uint16:
		return Uint16
	case []uint32:
		return Uint32
	case []uint64:
		return Uint64
	case []bool:
		return Bool
	case []string:
		return String
	case []F8E4M3FN:
		return Float8E4M3FN
	case []F8E4M3FNUZ:
		return Float8E4M3FNUZ
	case []F8E5M2:
		return Float8E5M2
	case []F8E5M2FNUZ:
		return Float8E5M2FNUZ
	case []F4E2M1:
		return Float4E2M1
	case []F8E8M0:
		return Float8E8M0
	case []U4:
		return Uint4
	case []I4:
		return Int4
	case []U2:
		return Uint2
	case []I2:
		return Int2
	}
	return Undefined
}

// FromSlice wraps data (not copied) as a tensor of the given shape. The
// dtype follows the slice's element type. It returns an error if the slice
// type is not a tensor type or its length does not match the shape.
func FromSlice(shape Shape, data any) (*Tensor, error) {
	dt := DTypeOf(data)
	if dt == Undefined {
		return nil, fmt.Errorf("tensor: %T is not a tensor element slice", data)
	}
	if n := sliceLen(data); n != shape.Size() {
		return nil, fmt.Errorf("tensor: %d elements do not fill shape %v (%d)", n, shape, shape.Size())
	}
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("tensor: negative dimension in shape %v", shape)
		}
	}
	return &Tensor{dtype: dt, shape: shape.Clone(), data: data}, nil
}

// Must is FromSlice that panics on error; for tests and literals.
func Must(shape Shape, data any) *Tensor {
	t, err := FromSlice(shape, data)
	if err != nil {
		panic(err)
	}
	return t
}

// From wraps a typed slice (not copied).
func From[T Elem](shape Shape, data []T) *Tensor { return Must(shape, any(data)) }

// Scalar returns a rank-0 tensor holding v (one of the Elem types or Float16/BFloat16).
func Scalar(v any) *Tensor {
	switch x := v.(type) {
	case float32:
		return Must(nil, []float32{x})
	case float64:
		return Must(nil, []float64{x})
	case Half:
		return Must(nil, []Half{x})
	case BHalf:
		return Must(nil, []BHalf{x})
	case int8:
		return Must(nil, []int8{x})
	case int16:
		return Must(nil, []int16{x})
	case int32:
		return Must(nil, []int32{x})
	case int64:
		return Must(nil, []int64{x})
	case int:
		return Must(nil, []int64{int64(x)})
	case uint8:
		return Must(nil, []uint8{x})
	case uint16:
		return Must(nil, []uint16{x})
	case uint32:
		return Must(nil, []uint32{x})
	case uint64:
		return Must(nil, []uint64{x})
	case bool:
		return Must(nil, []bool{x})
	case string:
		return Must(nil, []string{x})
	case F8E4M3FN:
		return Must(nil, []F8E4M3FN{x})
	case F8E4M3FNUZ:
		return Must(nil, []F8E4M3FNUZ{x})
	case F8E5M2:
		return Must(nil, []F8E5M2{x})
	case F8E5M2FNUZ:
		return Must(nil, []F8E5M2FNUZ{x})
	case F4E2M1:
		return Must(nil, []F4E2M1{x})
	case F8E8M0:
		return Must(nil, []F8E8M0{x})
	case U4:
		return Must(nil, []U4{x})
	case I4:
		return Must(nil, []I4{x})
	case U2:
		return Must(nil, []U2{x})
	case I2:
		return Must(nil, []I2{x})
	}
	panic(fmt.Sprintf("tensor: Scalar of unsupported type %T", v))
}

func sliceLen(data any) int {
	switch s := data.(type) {
	case []float32:
		return len(s)
	case []float64:
		return len(s)
	case []Half:
		return len(s)
	case []BHalf:
		return len(s)
	case []int8:
		return len(s)
	case []int16:
		return len(s)
	case []int32:
		return len(s)
	case []int64:
		return len(s)
	case []uint8:
		return len(s)
	case []uint16:
		return len(s)
	case []uint32:
		return len(s)
	case []uint64:
		return len(s)
	case []bool:
		return len(s)
	case []string:
		return len(s)
	case []F8E4M3FN:
		return len(s)
	case []F8E4M3FNUZ:
		return len(s)
	case []F8E5M2:
		return len(s)
	case []F8E5M2FNUZ:
		return len(s)
	case []F4E2M1:
		return len(s)
	case []F8E8M0:
		return len(s)
	case []U4:
		return len(s)
	case []I4:
		return len(s)
	case []U2:
		return len(s)
	case []I2:
		return len(s)
	}
	return -1
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns the shape. Callers must not modify it.
func (t *Tensor) Shape() Shape { return t.shape }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len is the number of elements.
func (t *Tensor) Len() int { return t.shape.Size() }

// Data returns the backing slice (see Tensor for its Go type).
func (t *Tensor) Data() any { return t.data }

// F32 returns the backing []float32; it panics if the dtype is not Float32.
func (t *Tensor) F32() []float32 { return t.data.([]float32) }

// F64 returns the backing []float64.
func (t *Tensor) F64() []float64 { return t.data.([]float64) }

// I64 returns the backing []int64.
func (t *Tensor) I64() []int64 { return t.data.([]int64) }

// I32 returns the backing []int32.
func (t *Tensor) I32() []int32 { return t.data.([]int32) }

// U8 returns the backing []uint8.
func (t *Tensor) U8() []uint8 { return t.data.([]uint8) }

// Bools returns the backing []bool.
func (t *Tensor) Bools() []bool { return t.data.([]bool) }

// Strings returns the backing []string.
func (t *Tensor) Strings() []string { return t.data.([]string) }

// Reshape returns a tensor sharing t's data with a new shape of equal size.
func (t *Tensor) Reshape(shape Shape) (*Tensor, error) {
	if shape.Size() != t.shape.Size() {
		return nil, fmt.Errorf("tensor: cannot reshape %v (%d elements) to %v", t.shape, t.shape.Size(), shape)
	}
	return &Tensor{dtype: t.dtype, shape: shape.Clone(), data: t.data}, nil
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c, _ := NewChecked(t.dtype, t.shape)
	copySlice(c.data, t.data)
	return c
}

// CopyFrom copies src's elements into t; dtypes and sizes must match.
func (t *Tensor) CopyFrom(src *Tensor) {
	copySlice(t.data, src.data)
}

func copySlice(dst, src any) {
	switch d := dst.(type) {
	case []float32:
		copy(d, src.([]float32))
	case []float64:
		copy(d, src.([]float64))
	case []Half:
		copy(d, src.([]Half))
	case []BHalf:
		copy(d, src.([]BHalf))
	case []int8:
		copy(d, src.([]int8))
	case []int16:
		copy(d, src.([]int16))
	case []int32:
		copy(d, src.([]int32))
	case []int64:
		copy(d, src.([]int64))
	case []uint8:
		copy(d, src.([]uint8))
	case []uint16:
		copy(d, src.([]uint16))
	case []uint32:
		copy(d, src.([]uint32))
	case []uint64:
		copy(d, src.([]uint64))
	case []bool:
		copy(d, src.([]bool))
	case []string:
		copy(d, src.([]string))
	case []F8E4M3FN:
		copy(d, src.([]F8E4M3FN))
	case []F8E4M3FNUZ:
		copy(d, src.([]F8E4M3FNUZ))
	case []F8E5M2:
		copy(d, src.([]F8E5M2))
	case []F8E5M2FNUZ:
		copy(d, src.([]F8E5M2FNUZ))
	case []F4E2M1:
		copy(d, src.([]F4E2M1))
	case []F8E8M0:
		copy(d, src.([]F8E8M0))
	case []U4:
		copy(d, src.([]U4))
	case []I4:
		copy(d, src.([]I4))
	case []U2:
		copy(d, src.([]U2))
	case []I2:
		copy(d, src.([]I2))
	}
}

// Float64s returns the elements converted to float64 (a new slice). Bools
// give 0/1; strings panic. Int64 values beyond 2^53 lose precision.
func (t *Tensor) Float64s() []float64 {
	out := make([]float64, t.Len())
	switch s := t.data.(type) {
	case []float32:
		for i, v := range s {
			out[i] = float64(v)
		}
	case []float64:
		copy(out, s)
	case []Half:
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
	case []BHalf:
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
	case []int8:
		conv(out, s)
	case []int16:
		conv(out, s)
	case []int32:
		conv(out, s)
	case []int64:
		conv(out, s)
	case []uint8:
		conv(out, s)
	case []uint16:
		conv(out, s)
	case []uint32:
		conv(out, s)
	case []uint64:
		conv(out, s)
	case []bool:
		for i, v := range s {
			if v {
				out[i] = 1
			}
		}
	case []F8E4M3FN:
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
	case []F8E4M3FNUZ:
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
	case []F8E5M2:
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
	case []F8E5M2FNUZ:
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
	case []F4E2M1:
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
	case []F8E8M0:
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
	case []U4:
		for i, v := range s {
			out[i] = float64(v)
		}
	case []I4:
		for i, v := range s {
			out[i] = float64(v)
		}
	case []U2:
		for i, v := range s {
			out[i] = float64(v)
		}
	case []I2:
		for i, v := range s {
			out[i] = float64(v)
		}
	default:
		panic(fmt.Sprintf("tensor: Float64s on %v tensor", t.dtype))
	}
	return out
}

func conv[D, S Numeric](dst []D, src []S) {
	for i, v := range src {
		dst[i] = D(v)
	}
}

// Int64s returns the elements converted to int64 (a new slice); floats are
// truncated toward zero. Used for index and shape tensors.
func (t *Tensor) Int64s() []int64 {
	out := make([]int64, t.Len())
	switch s := t.data.(type) {
	case []int64:
		copy(out, s)
	case []int32:
		conv(out, s)
	case []int16:
		conv(out, s)
	case []int8:
		conv(out, s)
	case []uint8:
		conv(out, s)
	case []uint16:
		conv(out, s)
	case []uint32:
		conv(out, s)
	case []uint64:
		conv(out, s)
	case []bool:
		for i, v := range s {
			if v {
				out[i] = 1
			}
		}
	case []U4:
		for i, v := range s {
			out[i] = int64(v)
		}
	case []I4:
		for i, v := range s {
			out[i] = int64(v)
		}
	case []U2:
		for i, v := range s {
			out[i] = int64(v)
		}
	case []I2:
		for i, v := range s {
			out[i] = int64(v)
		}
	default:
		for i, v := range t.Float64s() {
			out[i] = int64(v)
		}
	}
	return out
}

// FromFloat64s builds a tensor of type dt from float64 values: floats are
// rounded to the nearest representable value, integers are converted with
// Go's conversion after truncation toward zero (no saturation), bools are
// v != 0. Used by reference kernels that compute in float64. The float8 and
// float4 types saturate and float8e8m0 rounds up, as ONNX Cast does by
// default; the 4- and 2-bit integers wrap.
func FromFloat64s(dt DType, shape Shape, vals []float64) *Tensor {
	if d := lbFromFloat64s(dt, vals, true, E8M0Up); d != nil {
		return Must(shape, d)
	}
	t := New(dt, shape...)
	switch d := t.data.(type) {
	case []float32:
		conv(d, vals)
	case []float64:
		copy(d, vals)
	case []Half:
		for i, v := range vals {
			d[i] = ToHalf(float32(v))
		}
	case []BHalf:
		for i, v := range vals {
			d[i] = ToBHalf(float32(v))
		}
	case []int8:
		for i, v := range vals {
			d[i] = int8(int64(v))
		}
	case []int16:
		for i, v := range vals {
			d[i] = int16(int64(v))
		}
	case []int32:
		for i, v := range vals {
			d[i] = int32(int64(v))
		}
	case []int64:
		for i, v := range vals {
			d[i] = int64(v)
		}
	case []uint8:
		for i, v := range vals {
			d[i] = uint8(int64(v))
		}
	case []uint16:
		for i, v := range vals {
			d[i] = uint16(int64(v))
		}
	case []uint32:
		for i, v := range vals {
			d[i] = uint32(int64(v))
		}
	case []uint64:
		for i, v := range vals {
			if v >= 1<<63 {
				d[i] = uint64(v)
			} else {
				d[i] = uint64(int64(v))
			}
		}
	case []bool:
		for i, v := range vals {
			d[i] = v != 0
		}
	default:
		panic(fmt.Sprintf("tensor: FromFloat64s to %v", dt))
	}
	return t
}

// FromInt64s builds an Int64 tensor (values copied).
func FromInt64s(shape Shape, vals []int64) *Tensor {
	c := make([]int64, len(vals))
	copy(c, vals)
	return Must(shape, c)
}

// At returns element i (flat index) as a float64; for printing and tests.
func (t *Tensor) At(i int) float64 {
	switch s := t.data.(type) {
	case []float32:
		return float64(s[i])
	case []float64:
		return s[i]
	case []Half:
		return float64(s[i].Float32())
	case []BHalf:
		return float64(s[i].Float32())
	case []int8:
		return float64(s[i])
	case []int16:
		return float64(s[i])
	case []int32:
		return float64(s[i])
	case []int64:
		return float64(s[i])
	case []uint8:
		return float64(s[i])
	case []uint16:
		return float64(s[i])
	case []uint32:
		return float64(s[i])
	case []uint64:
		return float64(s[i])
	case []bool:
		if s[i] {
			return 1
		}
		return 0
	case []F8E4M3FN:
		return float64(s[i].Float32())
	case []F8E4M3FNUZ:
		return float64(s[i].Float32())
	case []F8E5M2:
		return float64(s[i].Float32())
	case []F8E5M2FNUZ:
		return float64(s[i].Float32())
	case []F4E2M1:
		return float64(s[i].Float32())
	case []F8E8M0:
		return float64(s[i].Float32())
	case []U4:
		return float64(s[i])
	case []I4:
		return float64(s[i])
	case []U2:
		return float64(s[i])
	case []I2:
		return float64(s[i])
	}
	return math.NaN()
}

// Format returns element i formatted for humans.
func (t *Tensor) Format(i int) string {
	switch s := t.data.(type) {
	case []string:
		return fmt.Sprintf("%q", s[i])
	case []bool:
		return fmt.Sprint(s[i])
	case []int8, []int16, []int32, []int64, []uint8, []uint16, []uint32, []uint64, []U4, []I4, []U2, []I2:
		return fmt.Sprint(int64(t.At(i)))
	}
	return fmt.Sprintf("%.6g", t.At(i))
}

// String summarises the tensor: dtype, shape and up to 8 leading values.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v%v [", t.dtype, t.shape)
	n := t.Len()
	for i := 0; i < n && i < 8; i++ {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(t.Format(i))
	}
	if n > 8 {
		b.WriteString(" ...")
	}
	b.WriteString("]")
	return b.String()
}

// Prefix returns a tensor of the given shape over the first shape.Size()
// elements of t's data (shared, not copied).
func (t *Tensor) Prefix(shape Shape) (*Tensor, error) {
	n := shape.Size()
	if n > t.Len() || n < 0 {
		return nil, fmt.Errorf("tensor: prefix %v of %v tensor with %d elements", shape, t.dtype, t.Len())
	}
	var d any
	switch s := t.data.(type) {
	case []float32:
		d = s[:n:n]
	case []float64:
		d = s[:n:n]
	case []Half:
		d = s[:n:n]
	case []BHalf:
		d = s[:n:n]
	case []int8:
		d = s[:n:n]
	case []int16:
		d = s[:n:n]
	case []int32:
		d = s[:n:n]
	case []int64:
		d = s[:n:n]
	case []uint8:
		d = s[:n:n]
	case []uint16:
		d = s[:n:n]
	case []uint32:
		d = s[:n:n]
	case []uint64:
		d = s[:n:n]
	case []bool:
		d = s[:n:n]
	case []string:
		d = s[:n:n]
	case []F8E4M3FN:
		d = s[:n:n]
	case []F8E4M3FNUZ:
		d = s[:n:n]
	case []F8E5M2:
		d = s[:n:n]
	case []F8E5M2FNUZ:
		d = s[:n:n]
	case []F4E2M1:
		d = s[:n:n]
	case []F8E8M0:
		d = s[:n:n]
	case []U4:
		d = s[:n:n]
	case []I4:
		d = s[:n:n]
	case []U2:
		d = s[:n:n]
	case []I2:
		d = s[:n:n]
	default:
		return nil, fmt.Errorf("tensor: Prefix of %T", s)
	}
	return FromSlice(shape, d)
}
