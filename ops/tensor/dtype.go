// Package tensor holds kiln's dense tensor type: an element type, a row-major
// shape and a typed Go slice. It imports only the standard library.
package tensor

import "fmt"

// DType is an element type. The numbering follows ONNX's TensorProto.DataType
// so that importers can convert with a plain cast; Undefined is 0.
type DType uint8

// Element types. Float32 is the fast path; the others exist because real
// model files carry them.
const (
	Undefined  DType = 0
	Float32    DType = 1
	Uint8      DType = 2
	Int8       DType = 3
	Uint16     DType = 4
	Int16      DType = 5
	Int32      DType = 6
	Int64      DType = 7
	String     DType = 8
	Bool       DType = 9
	Float16    DType = 10
	Float64    DType = 11
	Uint32     DType = 12
	Uint64     DType = 13
	Complex64  DType = 14
	Complex128 DType = 15
	BFloat16   DType = 16

	// Low-precision types (see lowbit.go): one element per byte in memory.
	Float8E4M3FN   DType = 17
	Float8E4M3FNUZ DType = 18
	Float8E5M2     DType = 19
	Float8E5M2FNUZ DType = 20
	Uint4          DType = 21
	Int4           DType = 22
	Float4E2M1     DType = 23
	Float8E8M0     DType = 24
	Uint2          DType = 25
	Int2           DType = 26
)

var dtypeNames = map[DType]string{
	Undefined: "undefined", Float32: "float32", Uint8: "uint8", Int8: "int8",
	Uint16: "uint16", Int16: "int16", Int32: "int32", Int64: "int64",
	String: "string", Bool: "bool", Float16: "float16", Float64: "float64",
	Uint32: "uint32", Uint64: "uint64", Complex64: "complex64",
	Complex128: "complex128", BFloat16: "bfloat16",
	Float8E4M3FN: "float8e4m3fn", Float8E4M3FNUZ: "float8e4m3fnuz",
	Float8E5M2: "float8e5m2", Float8E5M2FNUZ: "float8e5m2fnuz",
	Uint4: "uint4", Int4: "int4", Float4E2M1: "float4e2m1",
	Float8E8M0: "float8e8m0", Uint2: "uint2", Int2: "int2",
}

// String returns the numpy-style name of the type ("float32", "int64", ...).
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// ParseDType is the inverse of DType.String.
func ParseDType(s string) (DType, bool) {
	for d, n := range dtypeNames {
		if n == s && d != Undefined {
			return d, true
		}
	}
	return Undefined, false
}

// Supported reports whether tensors of this type can be created.
func (d DType) Supported() bool {
	switch d {
	case Float32, Uint8, Int8, Uint16, Int16, Int32, Int64, String, Bool,
		Float16, Float64, Uint32, Uint64, BFloat16:
		return true
	}
	return d.IsLowBit()
}

// Size is the number of bytes per element in memory (0 for String).
func (d DType) Size() int {
	if d.IsLowBit() {
		return 1
	}
	switch d {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float32, Int32, Uint32:
		return 4
	case Float64, Int64, Uint64, Complex64:
		return 8
	case Complex128:
		return 16
	}
	return 0
}

// IsFloat reports whether d is a floating-point type that kernels compute
// on: float16, bfloat16, float32 or float64. The float8 and float4 storage
// formats are not included (see IsLowFloat); kernels that accept them say so.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// IsInt reports whether d is a signed or unsigned integer type of 8 bits or
// more (see IsLowInt for the 4- and 2-bit ones).
func (d DType) IsInt() bool { return d.IsSigned() || d.IsUnsigned() }

// IsSigned reports whether d is a signed integer type.
func (d DType) IsSigned() bool { return d == Int8 || d == Int16 || d == Int32 || d == Int64 }

// IsUnsigned reports whether d is an unsigned integer type.
func (d DType) IsUnsigned() bool {
	return d == Uint8 || d == Uint16 || d == Uint32 || d == Uint64
}

// IsNumeric reports whether d is a float or integer type.
func (d DType) IsNumeric() bool { return d.IsFloat() || d.IsInt() }

// IsLowFloat reports whether d is one of the float8 types (e4m3fn, e4m3fnuz,
// e5m2, e5m2fnuz, e8m0) or float4e2m1.
func (d DType) IsLowFloat() bool {
	switch d {
	case Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float4E2M1, Float8E8M0:
		return true
	}
	return false
}

// IsLowInt reports whether d is int4, uint4, int2 or uint2.
func (d DType) IsLowInt() bool {
	return d == Int4 || d == Uint4 || d == Int2 || d == Uint2
}

// IsLowBit reports whether d is one of the low-precision types (IsLowFloat
// or IsLowInt).
func (d DType) IsLowBit() bool { return d.IsLowFloat() || d.IsLowInt() }

// Bits is the number of bits per element in serialized form: 4 for int4,
// uint4 and float4e2m1, 2 for int2 and uint2 (files pack them), otherwise
// 8*Size().
func (d DType) Bits() int {
	switch d {
	case Int4, Uint4, Float4E2M1:
		return 4
	case Int2, Uint2:
		return 2
	}
	return 8 * d.Size()
}

// PackedBytes is the number of bytes n elements of d take in serialized
// form, with the 4- and 2-bit types packed and padded to a whole byte.
func (d DType) PackedBytes(n int) int {
	switch d.Bits() {
	case 4:
		return (n + 1) / 2
	case 2:
		return (n + 3) / 4
	}
	return n * d.Size()
}
