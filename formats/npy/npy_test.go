package npy

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/ops/tensor"
)

func TestRoundTrip(t *testing.T) {
	cases := []*tensor.Tensor{
		tensor.From(tensor.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		tensor.From(tensor.Shape{}, []int64{-7}),
		tensor.From(tensor.Shape{3}, []bool{true, false, true}),
		tensor.From(tensor.Shape{2}, []string{"ab", "ü"}),
		tensor.From(tensor.Shape{0, 4}, []float64{}),
		tensor.From(tensor.Shape{2}, []uint8{0, 255}),
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := Write(&buf, c); err != nil {
			t.Fatal(err)
		}
		if buf.Len()%64 != 0 && c.DType() != tensor.String {
			// header is padded so data starts 64-byte aligned
			if (buf.Len()-c.Len()*c.DType().Size())%64 != 0 {
				t.Errorf("%v: header not aligned", c)
			}
		}
		got, err := Read(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != c.String() {
			t.Errorf("round trip: got %v, want %v", got, c)
		}
	}
}

// A file written by numpy: np.save(f, np.arange(6, dtype='>i4').reshape(2,3), ) in Fortran order.
func TestFortranBigEndian(t *testing.T) {
	h := "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3), }"
	h += string(bytes.Repeat([]byte(" "), 64-(10+len(h)+1)%64)) + "\n"
	var b bytes.Buffer
	b.Write(magic)
	b.Write([]byte{1, 0, byte(len(h)), 0})
	b.WriteString(h)
	// column-major order of [[0,1,2],[3,4,5]]: 0 3 1 4 2 5
	for _, v := range []byte{0, 3, 1, 4, 2, 5} {
		b.Write([]byte{0, 0, 0, v})
	}
	got, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	want := "int32(2, 3) [0 1 2 3 4 5]"
	if got.String() != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

func TestNpz(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.npz")
	in := map[string]*tensor.Tensor{"x": tensor.From(tensor.Shape{2}, []float32{1, 2})}
	if err := SaveNpz(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := LoadNpz(p)
	if err != nil || out["x"].String() != in["x"].String() {
		t.Fatal(out, err)
	}
}

func TestBadInput(t *testing.T) {
	for _, s := range []string{"", "\x93NUMPY", "\x93NUMPY\x01\x00\xff\xff", "garbage here"} {
		if _, err := Read(bytes.NewReader([]byte(s))); err == nil {
			t.Errorf("%q: expected error", s)
		}
	}
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	Write(&b, tensor.From(tensor.Shape{2, 2}, []float32{1, 2, 3, 4}))
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		Read(bytes.NewReader(data))
	})
}
