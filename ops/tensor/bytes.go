package tensor

import (
	"encoding/binary"
	"math"
)

// DecodeBytes fills t from raw, fixed-width elements in the given byte
// order (bool: one byte each, nonzero is true; Half/BHalf: their bit
// patterns). raw must hold t.Len()*t.DType().Size() bytes. It reports false,
// leaving t unchanged, for types without a one-to-one byte layout (strings,
// the packed low-precision types).
func DecodeBytes(t *Tensor, raw []byte, o binary.ByteOrder) bool {
	switch d := t.data.(type) {
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(o.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(o.Uint64(raw[8*i:]))
		}
	case []Half:
		for i := range d {
			d[i] = Half(o.Uint16(raw[2*i:]))
		}
	case []BHalf:
		for i := range d {
			d[i] = BHalf(o.Uint16(raw[2*i:]))
		}
	case []int8:
		for i := range d {
			d[i] = int8(raw[i])
		}
	case []uint8:
		copy(d, raw)
	case []bool:
		for i := range d {
			d[i] = raw[i] != 0
		}
	case []int16:
		for i := range d {
			d[i] = int16(o.Uint16(raw[2*i:]))
		}
	case []uint16:
		for i := range d {
			d[i] = o.Uint16(raw[2*i:])
		}
	case []int32:
		for i := range d {
			d[i] = int32(o.Uint32(raw[4*i:]))
		}
	case []uint32:
		for i := range d {
			d[i] = o.Uint32(raw[4*i:])
		}
	case []int64:
		for i := range d {
			d[i] = int64(o.Uint64(raw[8*i:]))
		}
	case []uint64:
		for i := range d {
			d[i] = o.Uint64(raw[8*i:])
		}
	default:
		return false
	}
	return true
}

// EncodeBytes is the inverse of DecodeBytes: t's elements as fixed-width
// bytes in the given order, or nil for types DecodeBytes does not handle.
func EncodeBytes(t *Tensor, o binary.ByteOrder) []byte {
	buf := make([]byte, t.Len()*t.dtype.Size())
	switch d := t.data.(type) {
	case []float32:
		for i, v := range d {
			o.PutUint32(buf[4*i:], math.Float32bits(v))
		}
	case []float64:
		for i, v := range d {
			o.PutUint64(buf[8*i:], math.Float64bits(v))
		}
	case []Half:
		for i, v := range d {
			o.PutUint16(buf[2*i:], uint16(v))
		}
	case []BHalf:
		for i, v := range d {
			o.PutUint16(buf[2*i:], uint16(v))
		}
	case []int8:
		for i, v := range d {
			buf[i] = byte(v)
		}
	case []uint8:
		copy(buf, d)
	case []bool:
		for i, v := range d {
			if v {
				buf[i] = 1
			}
		}
	case []int16:
		for i, v := range d {
			o.PutUint16(buf[2*i:], uint16(v))
		}
	case []uint16:
		for i, v := range d {
			o.PutUint16(buf[2*i:], v)
		}
	case []int32:
		for i, v := range d {
			o.PutUint32(buf[4*i:], uint32(v))
		}
	case []uint32:
		for i, v := range d {
			o.PutUint32(buf[4*i:], v)
		}
	case []int64:
		for i, v := range d {
			o.PutUint64(buf[8*i:], uint64(v))
		}
	case []uint64:
		for i, v := range d {
			o.PutUint64(buf[8*i:], v)
		}
	default:
		return nil
	}
	return buf
}
