package tensor

import (
	"math"
	"testing"
)

func TestHalfRoundTrip(t *testing.T) {
	// Every finite binary16 value widens and narrows back to itself.
	for b := 0; b < 1<<16; b++ {
		h := Half(b)
		f := h.Float32()
		if f != f {
			continue
		}
		if g := ToHalf(f); g != h {
			t.Fatalf("half %#04x -> %v -> %#04x", b, f, uint16(g))
		}
	}
	cases := []struct {
		in   float32
		want Half
	}{{1, 0x3c00}, {65504, 0x7bff}, {65520, 0x7c00}, {5.960464477539063e-08, 0x0001}, {2.9802322387695312e-08, 0}, {-2, 0xc000}}
	for _, c := range cases {
		if g := ToHalf(c.in); g != c.want {
			t.Errorf("ToHalf(%v) = %#04x, want %#04x", c.in, uint16(g), uint16(c.want))
		}
	}
}

func TestBHalf(t *testing.T) {
	if g := ToBHalf(1.0); g.Float32() != 1 {
		t.Fatal(g)
	}
	if g := ToBHalf(float32(math.NaN())).Float32(); g == g {
		t.Fatal("NaN lost")
	}
	// 1 + 2^-8 is a tie between 1 and 1+2^-7: ties to even gives 1.
	if g := ToBHalf(1 + 1.0/256).Float32(); g != 1 {
		t.Fatal(g)
	}
}

func TestBroadcast(t *testing.T) {
	s, err := Broadcast(Shape{2, 1, 3}, Shape{4, 1})
	if err != nil || !s.Equal(Shape{2, 4, 3}) {
		t.Fatal(s, err)
	}
	if _, err := Broadcast(Shape{2}, Shape{3}); err == nil {
		t.Fatal("expected error")
	}
	idx := BroadcastIndex(Shape{3}, Shape{2, 3})
	want := []int{0, 1, 2, 0, 1, 2}
	for i := range want {
		if idx[i] != want[i] {
			t.Fatal(idx)
		}
	}
}

func TestNewChecked(t *testing.T) {
	if _, err := NewChecked(Float32, Shape{1 << 20, 1 << 20}); err == nil {
		t.Fatal("huge shape accepted")
	}
	if _, err := NewChecked(Float32, Shape{-1}); err == nil {
		t.Fatal("negative dim accepted")
	}
}
