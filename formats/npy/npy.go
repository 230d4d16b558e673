// Package npy reads and writes NumPy .npy arrays and .npz archives, the
// tensor file formats of kiln's command-line tools. Supported: format
// versions 1.0-3.0, little- and big-endian numeric dtypes, bool, fixed-width
// unicode strings ('<U'), C order (Fortran order is transposed on read).
package npy

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kiln-ml/kiln/ops/tensor"
)

var magic = []byte("\x93NUMPY")

// MaxHeader bounds the header length accepted (NumPy itself limits it too).
const MaxHeader = 1 << 16

var descrs = map[string]tensor.DType{
	"f4": tensor.Float32, "f8": tensor.Float64, "f2": tensor.Float16,
	"i1": tensor.Int8, "i2": tensor.Int16, "i4": tensor.Int32, "i8": tensor.Int64,
	"u1": tensor.Uint8, "u2": tensor.Uint16, "u4": tensor.Uint32, "u8": tensor.Uint64,
	"b1": tensor.Bool,
}

// Read decodes one .npy stream.
func Read(r io.Reader) (*tensor.Tensor, error) {
	br := bufio.NewReader(r)
	head := make([]byte, 8)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, fmt.Errorf("npy: reading header: %w", err)
	}
	if !bytes.Equal(head[:6], magic) {
		return nil, errors.New("npy: not a .npy file (bad magic)")
	}
	var hlen int
	switch head[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("npy: reading header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("npy: reading header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("npy: format version %d.%d is not supported", head[6], head[7])
	}
	if hlen > MaxHeader {
		return nil, fmt.Errorf("npy: header of %d bytes is too long", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("npy: reading header: %w", err)
	}
	descr, fortran, shape, err := parseHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	if len(descr) < 2 {
		return nil, fmt.Errorf("npy: bad dtype %q", descr)
	}
	order := binary.ByteOrder(binary.LittleEndian)
	switch descr[0] {
	case '>':
		order = binary.BigEndian
	case '<', '|', '=':
	default:
		descr = "|" + descr
	}
	code := descr[1:]
	if code[0] == 'U' {
		width, err := strconv.Atoi(code[1:])
		if err != nil || width < 0 || width > 1<<20 {
			return nil, fmt.Errorf("npy: bad string dtype %q", descr)
		}
		return readStrings(br, order, width, shape, fortran)
	}
	dt, ok := descrs[code]
	if !ok {
		return nil, fmt.Errorf("npy: dtype %q is not supported (want a numeric, bool or unicode dtype)", descr)
	}
	t, err := tensor.NewChecked(dt, shape)
	if err != nil {
		return nil, fmt.Errorf("npy: %v", err)
	}
	raw := make([]byte, t.Len()*dt.Size())
	if _, err := io.ReadFull(br, raw); err != nil {
		return nil, fmt.Errorf("npy: data shorter than shape %v needs: %w", shape, err)
	}
	tensor.DecodeBytes(t, raw, order)
	if fortran {
		t = fromFortran(t)
	}
	return t, nil
}

var (
	reDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	reFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	reShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

func parseHeader(h string) (descr string, fortran bool, shape tensor.Shape, err error) {
	m := reDescr.FindStringSubmatch(h)
	if m == nil {
		return "", false, nil, fmt.Errorf("npy: header has no 'descr': %q", h)
	}
	descr = m[1]
	if m := reFortran.FindStringSubmatch(h); m != nil {
		fortran = m[1] == "True"
	}
	m = reShape.FindStringSubmatch(h)
	if m == nil {
		return "", false, nil, fmt.Errorf("npy: header has no 'shape': %q", h)
	}
	shape = tensor.Shape{}
	for _, part := range strings.Split(m[1], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		part = strings.TrimSuffix(part, "L")
		d, e := strconv.Atoi(part)
		if e != nil || d < 0 {
			return "", false, nil, fmt.Errorf("npy: bad shape (%s)", m[1])
		}
		shape = append(shape, d)
	}
	return descr, fortran, shape, nil
}

func readStrings(r io.Reader, o binary.ByteOrder, width int, shape tensor.Shape, fortran bool) (*tensor.Tensor, error) {
	t, err := tensor.NewChecked(tensor.String, shape)
	if err != nil {
		return nil, fmt.Errorf("npy: %v", err)
	}
	if int64(t.Len())*int64(width)*4 > 1<<31 {
		return nil, errors.New("npy: string array too large")
	}
	buf := make([]byte, width*4)
	s := t.Strings()
	for i := range s {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("npy: data shorter than shape %v needs: %w", shape, err)
		}
		var b strings.Builder
		for j := 0; j < width; j++ {
			c := o.Uint32(buf[4*j:])
			if c == 0 {
				break
			}
			b.WriteRune(rune(c))
		}
		s[i] = b.String()
	}
	if fortran {
		t = fromFortran(t)
	}
	return t, nil
}

// fromFortran reorders a column-major array into row-major order.
func fromFortran(t *tensor.Tensor) *tensor.Tensor {
	shape := t.Shape()
	if len(shape) < 2 {
		return t
	}
	rev := make(tensor.Shape, len(shape))
	for i := range shape {
		rev[i] = shape[len(shape)-1-i]
	}
	out := tensor.New(t.DType(), shape...)
	// Element at row-major index of shape (i0..in) is at column-major index
	// computed with reversed strides.
	n := t.Len()
	ctr := make([]int, len(shape))
	colStr := make([]int, len(shape))
	acc := 1
	for i := range shape {
		colStr[i] = acc
		acc *= shape[i]
	}
	src := reflectCopy(t, out)
	for i := 0; i < n; i++ {
		off := 0
		for d := range shape {
			off += ctr[d] * colStr[d]
		}
		src(i, off)
		for d := len(shape) - 1; d >= 0; d-- {
			ctr[d]++
			if ctr[d] < shape[d] {
				break
			}
			ctr[d] = 0
		}
	}
	return out
}

func reflectCopy(src, dst *tensor.Tensor) func(di, si int) {
	switch d := dst.Data().(type) {
	case []float32:
		s := src.F32()
		return func(di, si int) { d[di] = s[si] }
	case []float64:
		s := src.F64()
		return func(di, si int) { d[di] = s[si] }
	case []int64:
		s := src.I64()
		return func(di, si int) { d[di] = s[si] }
	case []string:
		s := src.Strings()
		return func(di, si int) { d[di] = s[si] }
	}
	// Other types through float64 (exact for every type of 32 bits or less).
	vals := src.Float64s()
	tmp := dst
	return func(di, si int) {
		one := tensor.FromFloat64s(tmp.DType(), tensor.Shape{1}, []float64{vals[si]})
		copyOne(tmp, di, one)
	}
}

func copyOne(dst *tensor.Tensor, i int, one *tensor.Tensor) {
	switch d := dst.Data().(type) {
	case []tensor.Half:
		d[i] = one.Data().([]tensor.Half)[0]
	case []int8:
		d[i] = one.Data().([]int8)[0]
	case []int16:
		d[i] = one.Data().([]int16)[0]
	case []int32:
		d[i] = one.Data().([]int32)[0]
	case []uint8:
		d[i] = one.Data().([]uint8)[0]
	case []uint16:
		d[i] = one.Data().([]uint16)[0]
	case []uint32:
		d[i] = one.Data().([]uint32)[0]
	case []uint64:
		d[i] = one.Data().([]uint64)[0]
	case []bool:
		d[i] = one.Data().([]bool)[0]
	}
}

// Write encodes t as a version 1.0 .npy stream. BFloat16 is written as
// float32 (NumPy has no bfloat16).
func Write(w io.Writer, t *tensor.Tensor) error {
	if t.DType() == tensor.BFloat16 {
		f := make([]float32, t.Len())
		for i, v := range t.Data().([]tensor.BHalf) {
			f[i] = v.Float32()
		}
		t = tensor.Must(t.Shape(), f)
	}
	var descr string
	width := 0
	if t.DType() == tensor.String {
		for _, s := range t.Strings() {
			if n := utf8.RuneCountInString(s); n > width {
				width = n
			}
		}
		if width == 0 {
			width = 1
		}
		descr = fmt.Sprintf("<U%d", width)
	} else {
		for code, dt := range descrs {
			if dt == t.DType() {
				descr = "<" + code
				if dt.Size() == 1 {
					descr = "|" + code
				}
			}
		}
		if descr == "" {
			return fmt.Errorf("npy: cannot write %s tensors", t.DType())
		}
	}
	shape := make([]string, len(t.Shape()))
	for i, d := range t.Shape() {
		shape[i] = strconv.Itoa(d)
	}
	sh := strings.Join(shape, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, sh)
	pad := 64 - (10+len(h)+1)%64
	if pad == 64 {
		pad = 0
	}
	h += strings.Repeat(" ", pad) + "\n"
	bw := bufio.NewWriter(w)
	bw.Write(magic)
	bw.Write([]byte{1, 0})
	binary.Write(bw, binary.LittleEndian, uint16(len(h)))
	bw.WriteString(h)
	if t.DType() == tensor.String {
		buf := make([]byte, 4*width)
		for _, s := range t.Strings() {
			clear(buf)
			j := 0
			for _, r := range s {
				binary.LittleEndian.PutUint32(buf[4*j:], uint32(r))
				j++
			}
			bw.Write(buf)
		}
		return bw.Flush()
	}
	bw.Write(tensor.EncodeBytes(t, binary.LittleEndian))
	return bw.Flush()
}

// Load reads a .npy file.
func Load(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	t, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return t, nil
}

// Save writes a .npy file.
func Save(path string, t *tensor.Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if err := Write(f, t); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// MaxNpzEntry bounds one decompressed .npz member (zip-bomb guard): 4 GiB.
const MaxNpzEntry = 4 << 30

// LoadNpz reads every array of an .npz archive, keyed by name without ".npy".
func LoadNpz(path string) (map[string]*tensor.Tensor, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %s: %w", path, err)
	}
	defer zr.Close()
	out := map[string]*tensor.Tensor{}
	for _, f := range zr.File {
		if f.UncompressedSize64 > MaxNpzEntry {
			return nil, fmt.Errorf("npy: %s: member %s is too large", path, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("npy: %s: %w", path, err)
		}
		t, err := Read(io.LimitReader(rc, MaxNpzEntry))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%w (member %s of %s)", err, f.Name, path)
		}
		out[strings.TrimSuffix(f.Name, ".npy")] = t
	}
	return out, nil
}

// SaveNpz writes arrays into an uncompressed .npz archive (names sorted).
func SaveNpz(path string, arrays map[string]*tensor.Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	zw := zip.NewWriter(f)
	names := make([]string, 0, len(arrays))
	for k := range arrays {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: k + ".npy", Method: zip.Store})
		if err != nil {
			f.Close()
			return fmt.Errorf("npy: %w", err)
		}
		if err := Write(w, arrays[k]); err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("npy: %w", err)
	}
	return f.Close()
}
