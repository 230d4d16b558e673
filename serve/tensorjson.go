package serve

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// maxDepth bounds the nesting of tensor data in a request.
const maxDepth = 32

// parseTensorJSON reads a JSON value holding tensor data in its natural
// nested form ([[1, 2], [3, 4]]) or as one scalar, converting every
// element to dt. It returns the tensor with the shape that the nesting
// gives. Lists at one depth must all have the same length (no ragged
// data), and every element must be a value dt can hold: numbers for
// numeric types (integers must be whole and in range), true/false for
// bool, strings or {"b64": ...} objects for strings. Float types also
// accept the NaN, Infinity and -Infinity tokens, as TensorFlow Serving's
// JSON does.
func parseTensorJSON(data []byte, dt tensor.DType) (*tensor.Tensor, error) {
	return parseTensor(data, dt, false)
}

// parseTensorStrict is parseTensorJSON for data that must be plain JSON
// (the Open Inference Protocol's): no NaN or Infinity tokens, numbers in
// JSON's grammar, strings with JSON's escapes only.
func parseTensorStrict(data []byte, dt tensor.DType) (*tensor.Tensor, error) {
	return parseTensor(data, dt, true)
}

func parseTensor(data []byte, dt tensor.DType, strict bool) (*tensor.Tensor, error) {
	b, err := newBuilder(dt)
	if err != nil {
		return nil, err
	}
	p := &tparser{s: data, b: b, strict: strict}
	for i := range p.dims {
		p.dims[i] = -1
	}
	p.skipSpace()
	if err := p.value(0); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected %s after the tensor data", p.near())
	}
	shape := tensor.Shape{}
	if p.seen {
		shape = append(shape, p.dims[:p.leaf]...)
	}
	return tensor.FromSlice(shape, b.data())
}

type tparser struct {
	s    []byte
	i    int
	b    builder
	dims [maxDepth]int // length of the lists at each depth, fixed by the first; -1 before
	leaf int           // depth of the elements, -1 until the first is seen
	seen bool
	// strict: plain JSON only (see parseTensorStrict).
	strict bool
}

func (p *tparser) errorf(format string, args ...any) error {
	return fmt.Errorf("tensor data at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *tparser) near() string {
	if p.i >= len(p.s) {
		return "end of data"
	}
	end := min(p.i+16, len(p.s))
	return strconv.Quote(string(p.s[p.i:end]))
}

func (p *tparser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *tparser) value(depth int) error {
	if p.i >= len(p.s) {
		return p.errorf("unexpected end of data")
	}
	if p.s[p.i] == '[' {
		return p.list(depth)
	}
	if !p.seen {
		p.seen = true
		p.leaf = depth
	} else if p.leaf != depth {
		return p.errorf("element at nesting depth %d, but earlier elements are at depth %d (ragged data)", depth, p.leaf)
	}
	switch c := p.s[p.i]; {
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		return p.wrap(p.b.addString(s))
	case c == '{':
		return p.b64()
	case c == 't' && p.lit("true"):
		return p.wrap(p.b.addBool(true))
	case c == 'f' && p.lit("false"):
		return p.wrap(p.b.addBool(false))
	case c == 'n' && p.lit("null"):
		return p.errorf("null is not a tensor element")
	case p.strict && (c == 'N' || c == 'I' || (c == '-' && p.i+1 < len(p.s) && p.s[p.i+1] == 'I')):
		return p.errorf("malformed JSON: %s is not a JSON value", p.near())
	case c == 'N' && p.lit("NaN"):
		return p.wrap(p.b.addSpecial(math.NaN()))
	case c == 'I' && p.lit("Infinity"):
		return p.wrap(p.b.addSpecial(math.Inf(1)))
	case c == '-' && p.lit("-Infinity"):
		return p.wrap(p.b.addSpecial(math.Inf(-1)))
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		p.i++
		for p.i < len(p.s) {
			c := p.s[p.i]
			if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
				p.i++
				continue
			}
			break
		}
		tok := p.s[start:p.i]
		if p.strict && !jsonNumber(tok) {
			p.i = start
			return p.errorf("malformed JSON: %s is not a JSON number", p.near())
		}
		return p.wrap(p.b.addNumber(unsafe.String(&tok[0], len(tok))))
	}
	return p.errorf("unexpected %s", p.near())
}

func (p *tparser) wrap(err error) error {
	if err != nil {
		return p.errorf("%v", err)
	}
	return nil
}

func (p *tparser) lit(word string) bool {
	if len(p.s)-p.i >= len(word) && string(p.s[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

func (p *tparser) list(depth int) error {
	if depth >= maxDepth {
		return p.errorf("tensor data nested deeper than %d", maxDepth)
	}
	if p.seen && depth >= p.leaf {
		return p.errorf("list at nesting depth %d, but earlier elements are at depth %d (ragged data)", depth, p.leaf)
	}
	p.i++ // [
	p.skipSpace()
	n := 0
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
	} else {
		for {
			p.skipSpace()
			if err := p.value(depth + 1); err != nil {
				return err
			}
			n++
			p.skipSpace()
			if p.i >= len(p.s) {
				return p.errorf("unexpected end of data inside a list")
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == ']' {
				p.i++
				break
			}
			return p.errorf("expected , or ] but found %s", p.near())
		}
	}
	if n == 0 {
		// An empty list ends the nesting here: [] is a zero-length
		// dimension, and the elements are one level down.
		if !p.seen {
			p.seen = true
			p.leaf = depth + 1
		} else if p.leaf != depth+1 {
			return p.errorf("empty list at nesting depth %d, but elements are at depth %d (ragged data)", depth, p.leaf)
		}
	}
	if p.dims[depth] < 0 {
		p.dims[depth] = n
	} else if p.dims[depth] != n {
		return p.errorf("list of %d elements at nesting depth %d, but an earlier one has %d (ragged data)", n, depth, p.dims[depth])
	}
	return nil
}

// jsonNumber reports whether tok is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(tok []byte) bool {
	i := 0
	if i < len(tok) && tok[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(tok) && tok[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(tok) && tok[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(tok)
}

// str reads a JSON string literal.
func (p *tparser) str() (string, error) {
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\':
			escaped = true
			p.i += 2
			continue
		case c == '"':
			p.i++
			raw := p.s[start:p.i]
			if !escaped {
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			var err error
			if p.strict {
				err = json.Unmarshal(raw, &s)
			} else {
				s, err = strconv.Unquote(string(raw))
			}
			if err != nil {
				return "", p.errorf("bad string literal")
			}
			return s, nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		}
		p.i++
	}
	return "", p.errorf("unterminated string")
}

// b64 reads {"b64": "<base64>"}, TensorFlow Serving's encoding of binary
// strings.
func (p *tparser) b64() error {
	p.i++ // {
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return p.errorf("an object in tensor data must be {\"b64\": \"...\"}")
	}
	key, err := p.str()
	if err != nil {
		return err
	}
	p.skipSpace()
	if key != "b64" || p.i >= len(p.s) || p.s[p.i] != ':' {
		return p.errorf("an object in tensor data must be {\"b64\": \"...\"}")
	}
	p.i++
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return p.errorf("the b64 value must be a string")
	}
	v, err := p.str()
	if err != nil {
		return err
	}
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '}' {
		return p.errorf("an object in tensor data must be {\"b64\": \"...\"}")
	}
	p.i++
	dec, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return p.errorf("bad base64: %v", err)
	}
	return p.wrap(p.b.addBytes(dec))
}

// A builder collects elements of one dtype.
type builder interface {
	addNumber(tok string) error
	addSpecial(v float64) error
	addBool(v bool) error
	addString(s string) error
	addBytes(b []byte) error
	data() any
}

var errNotNumber = errors.New("tensor elements must be numbers")

func newBuilder(dt tensor.DType) (builder, error) {
	switch dt {
	case tensor.Float32:
		return &floatB[float32]{bits: 32, conv: func(f float64) float32 { return float32(f) }}, nil
	case tensor.Float64:
		return &floatB[float64]{bits: 64, conv: func(f float64) float64 { return f }}, nil
	case tensor.Float16:
		return &floatB[tensor.Half]{bits: 32, conv: func(f float64) tensor.Half { return tensor.ToHalf(float32(f)) }}, nil
	case tensor.BFloat16:
		return &floatB[tensor.BHalf]{bits: 32, conv: func(f float64) tensor.BHalf { return tensor.ToBHalf(float32(f)) }}, nil
	case tensor.Int8:
		return &intB[int8]{lo: math.MinInt8, hi: math.MaxInt8}, nil
	case tensor.Int16:
		return &intB[int16]{lo: math.MinInt16, hi: math.MaxInt16}, nil
	case tensor.Int32:
		return &intB[int32]{lo: math.MinInt32, hi: math.MaxInt32}, nil
	case tensor.Int64:
		return &intB[int64]{lo: math.MinInt64, hi: math.MaxInt64}, nil
	case tensor.Uint8:
		return &uintB[uint8]{hi: math.MaxUint8}, nil
	case tensor.Uint16:
		return &uintB[uint16]{hi: math.MaxUint16}, nil
	case tensor.Uint32:
		return &uintB[uint32]{hi: math.MaxUint32}, nil
	case tensor.Uint64:
		return &uintB[uint64]{hi: math.MaxUint64}, nil
	case tensor.Bool:
		return &boolB{}, nil
	case tensor.String:
		return &stringB{}, nil
	}
	return nil, fmt.Errorf("tensors of dtype %s cannot be sent as JSON", dt)
}

func (b *boolB) addNumber(string) error     { return errors.New("got a number, want true or false") }
func (b *boolB) addSpecial(float64) error   { return errors.New("got a number, want true or false") }
func (b *boolB) addString(string) error     { return errors.New("got a string, want true or false") }
func (b *boolB) addBytes([]byte) error      { return errors.New("got a b64 object, want true or false") }
func (b *stringB) addNumber(string) error   { return errors.New("got a number, want a string") }
func (b *stringB) addSpecial(float64) error { return errors.New("got a number, want a string") }
func (b *stringB) addBool(bool) error       { return errors.New("got a boolean, want a string") }
func (b *floatB[T]) addBool(bool) error     { return errors.New("got a boolean, want a number") }
func (b *floatB[T]) addString(string) error { return errNotNumber }
func (b *floatB[T]) addBytes([]byte) error  { return errNotNumber }
func (b *intB[T]) addBool(bool) error       { return errors.New("got a boolean, want an integer") }
func (b *intB[T]) addString(string) error   { return errNotNumber }
func (b *intB[T]) addBytes([]byte) error    { return errNotNumber }
func (b *intB[T]) addSpecial(float64) error {
	return errors.New("got NaN or Infinity, want an integer")
}
func (b *uintB[T]) addBool(bool) error     { return errors.New("got a boolean, want an integer") }
func (b *uintB[T]) addString(string) error { return errNotNumber }
func (b *uintB[T]) addBytes([]byte) error  { return errNotNumber }
func (b *uintB[T]) addSpecial(float64) error {
	return errors.New("got NaN or Infinity, want an integer")
}

type floatB[T any] struct {
	bits int
	conv func(float64) T
	v    []T
}

func (b *floatB[T]) addNumber(tok string) error {
	f, err := strconv.ParseFloat(tok, b.bits)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return fmt.Errorf("number %s is out of range", tok)
		}
		return fmt.Errorf("bad number %q", tok)
	}
	b.v = append(b.v, b.conv(f))
	return nil
}

func (b *floatB[T]) addSpecial(f float64) error { b.v = append(b.v, b.conv(f)); return nil }
func (b *floatB[T]) data() any                  { return nonNil(b.v) }

type intB[T int8 | int16 | int32 | int64] struct {
	lo, hi int64
	v      []T
}

func (b *intB[T]) addNumber(tok string) error {
	n, err := strconv.ParseInt(tok, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(tok, 64)
		if ferr != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return fmt.Errorf("%s is not an integer in range", tok)
		}
		n = int64(f)
	}
	if n < b.lo || n > b.hi {
		return fmt.Errorf("%s is out of range [%d, %d]", tok, b.lo, b.hi)
	}
	b.v = append(b.v, T(n))
	return nil
}

func (b *intB[T]) data() any { return nonNil(b.v) }

type uintB[T uint8 | uint16 | uint32 | uint64] struct {
	hi uint64
	v  []T
}

func (b *uintB[T]) addNumber(tok string) error {
	n, err := strconv.ParseUint(tok, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(tok, 64)
		if ferr != nil || f != math.Trunc(f) || f < 0 || f >= math.MaxUint64 {
			return fmt.Errorf("%s is not a non-negative integer in range", tok)
		}
		n = uint64(f)
	}
	if n > b.hi {
		return fmt.Errorf("%s is out of range [0, %d]", tok, b.hi)
	}
	b.v = append(b.v, T(n))
	return nil
}

func (b *uintB[T]) data() any { return nonNil(b.v) }

type boolB struct{ v []bool }

func (b *boolB) addBool(v bool) error { b.v = append(b.v, v); return nil }
func (b *boolB) data() any            { return nonNil(b.v) }

type stringB struct{ v []string }

func (b *stringB) addString(s string) error { b.v = append(b.v, s); return nil }
func (b *stringB) addBytes(p []byte) error  { b.v = append(b.v, string(p)); return nil }
func (b *stringB) data() any                { return nonNil(b.v) }

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// appendTensorJSON writes t's elements as JSON: flat (one list in
// row-major order) or nested to t's shape. Non-finite floats are written
// as NaN, Infinity and -Infinity, the tokens TensorFlow Serving documents.
func appendTensorJSON(buf []byte, t *tensor.Tensor, nested bool) []byte {
	shape := t.Shape()
	if !nested {
		shape = tensor.Shape{t.Len()}
	}
	if len(shape) == 0 {
		return appendElem(buf, t, 0)
	}
	idx := 0
	return appendNested(buf, t, shape, &idx)
}

func appendNested(buf []byte, t *tensor.Tensor, shape tensor.Shape, idx *int) []byte {
	buf = append(buf, '[')
	for i := 0; i < shape[0]; i++ {
		if i > 0 {
			buf = append(buf, ',')
		}
		if len(shape) == 1 {
			buf = appendElem(buf, t, *idx)
			*idx++
		} else {
			buf = appendNested(buf, t, shape[1:], idx)
		}
	}
	return append(buf, ']')
}

func appendElem(buf []byte, t *tensor.Tensor, i int) []byte {
	switch d := t.Data().(type) {
	case []float32:
		return appendFloat(buf, float64(d[i]), 32)
	case []float64:
		return appendFloat(buf, d[i], 64)
	case []tensor.Half:
		return appendFloat(buf, float64(d[i].Float32()), 32)
	case []tensor.BHalf:
		return appendFloat(buf, float64(d[i].Float32()), 32)
	case []int8:
		return strconv.AppendInt(buf, int64(d[i]), 10)
	case []int16:
		return strconv.AppendInt(buf, int64(d[i]), 10)
	case []int32:
		return strconv.AppendInt(buf, int64(d[i]), 10)
	case []int64:
		return strconv.AppendInt(buf, d[i], 10)
	case []uint8:
		return strconv.AppendUint(buf, uint64(d[i]), 10)
	case []uint16:
		return strconv.AppendUint(buf, uint64(d[i]), 10)
	case []uint32:
		return strconv.AppendUint(buf, uint64(d[i]), 10)
	case []uint64:
		return strconv.AppendUint(buf, d[i], 10)
	case []bool:
		return strconv.AppendBool(buf, d[i])
	case []string:
		q, _ := json.Marshal(d[i])
		return append(buf, q...)
	}
	return appendFloat(buf, t.At(i), 64)
}

func appendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	return strconv.AppendFloat(buf, f, 'g', -1, bits)
}
