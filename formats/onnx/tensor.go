package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/tensor"
	"google.golang.org/protobuf/proto"
)

// ErrUnsupported marks ONNX features kiln does not read (test with errors.Is).
var ErrUnsupported = ops.ErrUnsupported

// DecodeTensor converts a TensorProto into a tensor. baseDir is where
// external data files are looked up (the model's directory); "" forbids
// external data. Every storage form ONNX defines is accepted: raw_data,
// the typed repeated fields (float_data, int32_data, int64_data,
// double_data, uint64_data, string_data) and external files.
func DecodeTensor(tp *onnxpb.TensorProto, baseDir string) (*tensor.Tensor, error) {
	dt := tensor.DType(tp.GetDataType())
	name := tp.GetName()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("onnx: tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
	if !dt.Supported() {
		return nil, fmt.Errorf("onnx: tensor %q: element type %s: %w", name, dataTypeName(tp.GetDataType()), ErrUnsupported)
	}
	if tp.GetSegment() != nil {
		return nil, fmt.Errorf("onnx: tensor %q: segmented tensors: %w", name, ErrUnsupported)
	}
	shape := make(tensor.Shape, len(tp.GetDims()))
	for i, d := range tp.GetDims() {
		if d < 0 || d > tensor.MaxElements {
			return nil, fail("invalid dimension %d in dims %v", d, tp.GetDims())
		}
		shape[i] = int(d)
	}
	t, err := tensor.NewChecked(dt, shape)
	if err != nil {
		return nil, fail("%v", err)
	}
	n := t.Len()
	raw := tp.GetRawData()
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		if raw, err = readExternal(tp, baseDir, dt.PackedBytes(n)); err != nil {
			return nil, fail("%v", err)
		}
	}
	if dt == tensor.String {
		sd := tp.GetStringData()
		if len(sd) != n {
			return nil, fail("has %d strings for shape %v", len(sd), shape)
		}
		s := t.Strings()
		for i, b := range sd {
			s[i] = string(b)
		}
		return t, nil
	}
	if raw != nil || (n == 0) {
		if len(raw) != dt.PackedBytes(n) {
			if n == 0 {
				return t, nil
			}
			return nil, fail("raw_data has %d bytes, want %d for %s%v", len(raw), dt.PackedBytes(n), dt, shape)
		}
		if !tensor.DecodeBytes(t, raw, binary.LittleEndian) {
			lbUnpack(t, raw)
		}
		return t, nil
	}
	if dt.IsLowBit() {
		// int32_data: one int32 per element for the 8-bit types, one packed
		// byte per int32 for the 4- and 2-bit types.
		v := tp.GetInt32Data()
		if want := dt.PackedBytes(n); len(v) != want {
			return nil, fail("int32_data holds %d values, want %d for %s%v", len(v), want, dt, shape)
		}
		packed := make([]byte, len(v))
		for i, x := range v {
			packed[i] = byte(x)
		}
		if !tensor.DecodeBytes(t, packed, binary.LittleEndian) {
			lbUnpack(t, packed)
		}
		return t, nil
	}
	// Typed fields.
	var got int
	switch dt {
	case tensor.Float32:
		got = len(tp.GetFloatData())
		if got == n {
			copy(t.F32(), tp.GetFloatData())
		}
	case tensor.Float64:
		got = len(tp.GetDoubleData())
		if got == n {
			copy(t.F64(), tp.GetDoubleData())
		}
	case tensor.Int64:
		got = len(tp.GetInt64Data())
		if got == n {
			copy(t.I64(), tp.GetInt64Data())
		}
	case tensor.Uint32, tensor.Uint64:
		u := tp.GetUint64Data()
		got = len(u)
		if got == n {
			switch d := t.Data().(type) {
			case []uint32:
				for i, v := range u {
					d[i] = uint32(v)
				}
			case []uint64:
				copy(d, u)
			}
		}
	default: // int32_data carries int32, the 8/16-bit ints, bool, float16, bfloat16.
		v := tp.GetInt32Data()
		got = len(v)
		if got == n {
			switch d := t.Data().(type) {
			case []int32:
				copy(d, v)
			case []int16:
				for i, x := range v {
					d[i] = int16(x)
				}
			case []int8:
				for i, x := range v {
					d[i] = int8(x)
				}
			case []uint16:
				for i, x := range v {
					d[i] = uint16(x)
				}
			case []uint8:
				for i, x := range v {
					d[i] = uint8(x)
				}
			case []bool:
				for i, x := range v {
					d[i] = x != 0
				}
			case []tensor.Half:
				for i, x := range v {
					d[i] = tensor.Half(x)
				}
			case []tensor.BHalf:
				for i, x := range v {
					d[i] = tensor.BHalf(x)
				}
			}
		}
	}
	if got != n {
		return nil, fail("holds %d values for shape %v (%d elements); the data field for %s is missing or short", got, shape, n, dt)
	}
	return t, nil
}

// lbUnpack fills a low-precision tensor from its serialized bytes: one byte
// per element for the 8-bit float types; two elements per byte for the
// 4-bit types and four for the 2-bit types, first element in the lowest
// bits. The signed 4- and 2-bit integers are sign-extended.
func lbUnpack(t *tensor.Tensor, raw []byte) {
	nib := func(i int) uint8 { return raw[i/2] >> (4 * (i % 2)) & 0xf }
	crumb := func(i int) uint8 { return raw[i/4] >> (2 * (i % 4)) & 0x3 }
	switch d := t.Data().(type) {
	case []tensor.F8E4M3FN:
		for i := range d {
			d[i] = tensor.F8E4M3FN(raw[i])
		}
	case []tensor.F8E4M3FNUZ:
		for i := range d {
			d[i] = tensor.F8E4M3FNUZ(raw[i])
		}
	case []tensor.F8E5M2:
		for i := range d {
			d[i] = tensor.F8E5M2(raw[i])
		}
	case []tensor.F8E5M2FNUZ:
		for i := range d {
			d[i] = tensor.F8E5M2FNUZ(raw[i])
		}
	case []tensor.F8E8M0:
		for i := range d {
			d[i] = tensor.F8E8M0(raw[i])
		}
	case []tensor.F4E2M1:
		for i := range d {
			d[i] = tensor.F4E2M1(nib(i))
		}
	case []tensor.U4:
		for i := range d {
			d[i] = tensor.U4(nib(i))
		}
	case []tensor.I4:
		for i := range d {
			d[i] = tensor.ToI4(int64(nib(i)))
		}
	case []tensor.U2:
		for i := range d {
			d[i] = tensor.U2(crumb(i))
		}
	case []tensor.I2:
		for i := range d {
			d[i] = tensor.ToI2(int64(crumb(i)))
		}
	}
}

// lbPack is the inverse of lbUnpack; padding bits are zero.
func lbPack(t *tensor.Tensor) []byte {
	buf := make([]byte, t.DType().PackedBytes(t.Len()))
	put4 := func(i int, v uint8) { buf[i/2] |= (v & 0xf) << (4 * (i % 2)) }
	put2 := func(i int, v uint8) { buf[i/4] |= (v & 0x3) << (2 * (i % 4)) }
	switch d := t.Data().(type) {
	case []tensor.F8E4M3FN:
		for i, v := range d {
			buf[i] = byte(v)
		}
	case []tensor.F8E4M3FNUZ:
		for i, v := range d {
			buf[i] = byte(v)
		}
	case []tensor.F8E5M2:
		for i, v := range d {
			buf[i] = byte(v)
		}
	case []tensor.F8E5M2FNUZ:
		for i, v := range d {
			buf[i] = byte(v)
		}
	case []tensor.F8E8M0:
		for i, v := range d {
			buf[i] = byte(v)
		}
	case []tensor.F4E2M1:
		for i, v := range d {
			put4(i, uint8(v))
		}
	case []tensor.U4:
		for i, v := range d {
			put4(i, uint8(v))
		}
	case []tensor.I4:
		for i, v := range d {
			put4(i, uint8(v))
		}
	case []tensor.U2:
		for i, v := range d {
			put2(i, uint8(v))
		}
	case []tensor.I2:
		for i, v := range d {
			put2(i, uint8(v))
		}
	}
	return buf
}

// readExternal reads a tensor's bytes from a file beside the model, as
// described by the external_data entries location, offset and length.
func readExternal(tp *onnxpb.TensorProto, baseDir string, want int) ([]byte, error) {
	if baseDir == "" {
		return nil, errors.New("uses external data, but the model was not loaded from a file")
	}
	var loc string
	offset, length := int64(0), int64(-1)
	for _, kv := range tp.GetExternalData() {
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("bad external data offset %q", kv.GetValue())
			}
			offset = v
		case "length":
			v, err := strconv.ParseInt(kv.GetValue(), 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("bad external data length %q", kv.GetValue())
			}
			length = v
		}
	}
	if loc == "" {
		return nil, errors.New("external data has no location")
	}
	clean := filepath.Clean(filepath.FromSlash(loc))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("external data location %q leaves the model's directory", loc)
	}
	f, err := os.Open(filepath.Join(baseDir, clean))
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	if length < 0 {
		length = int64(want)
	}
	if length != int64(want) {
		return nil, fmt.Errorf("external data length %d, want %d bytes", length, want)
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil && !(errors.Is(err, io.EOF) && length == 0) {
		return nil, fmt.Errorf("external data %s at offset %d: %w", loc, offset, err)
	}
	return buf, nil
}

func dataTypeName(dt int32) string {
	if s, ok := onnxpb.TensorProto_DataType_name[dt]; ok {
		return strings.ToLower(s)
	}
	return fmt.Sprintf("data type %d", dt)
}

// EncodeTensor converts a tensor into a TensorProto with raw_data (strings
// use string_data).
func EncodeTensor(name string, t *tensor.Tensor) *onnxpb.TensorProto {
	tp := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(t.DType()))}
	for _, d := range t.Shape() {
		tp.Dims = append(tp.Dims, int64(d))
	}
	if t.DType() == tensor.String {
		for _, s := range t.Strings() {
			tp.StringData = append(tp.StringData, []byte(s))
		}
		return tp
	}
	tp.RawData = encodeRaw(t)
	return tp
}

func encodeRaw(t *tensor.Tensor) []byte {
	if t.DType().IsLowBit() {
		return lbPack(t)
	}
	return tensor.EncodeBytes(t, binary.LittleEndian)
}
