package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// miScalarInt reads a one-element integer tensor.
func miScalarInt(n *graph.Node, t *tensor.Tensor, name string) (int, error) {
	if t == nil || t.Len() != 1 || !t.DType().IsInt() {
		return 0, Errorf(n, "%s must be a single integer, got %v", name, t)
	}
	return int(t.Int64s()[0]), nil
}

// miDFT computes the discrete Fourier transform of one complex signal
// (re, im) of any length into n output bins, zero-padding or truncating
// the input to n samples. inverse uses the positive exponent and divides
// by n.
func miDFT(re, im []float64, n int, inverse bool) ([]float64, []float64) {
	or, oi := make([]float64, n), make([]float64, n)
	sign := -1.0
	if inverse {
		sign = 1
	}
	m := min(len(re), n)
	for k := range n {
		var sr, si float64
		for t := range m {
			// Reduce k*t mod n first so the angle stays accurate.
			a := sign * 2 * math.Pi * float64((k*t)%n) / float64(n)
			c, s := math.Cos(a), math.Sin(a)
			sr += re[t]*c - im[t]*s
			si += re[t]*s + im[t]*c
		}
		if inverse {
			sr /= float64(n)
			si /= float64(n)
		}
		or[k], oi[k] = sr, si
	}
	return or, oi
}

// DFT computes the discrete Fourier transform of a real or complex signal
// along one axis (ONNX DFT-20). input has shape [batch, ..., signal
// dims..., 1 or 2] (real, or real and imaginary parts); dft_length
// (optional int scalar) pads with zeros or truncates the signal; axis
// (optional int scalar input, default -2) is the signal axis and must not
// be the last. Attributes: inverse (0/1; the inverse divides by n) and
// onesided (0/1). A forward onesided transform keeps the n/2+1 unique bins
// of a real signal's spectrum; an inverse onesided transform takes such a
// half spectrum (n = dft_length, else 2*(bins-1)), extends it by Hermitian
// symmetry and returns the real signal with last dimension 1 (irfft), as
// the newest ONNX backend tests expect. The output is [..., bins, ..., 2]
// otherwise. Computed in float64 and rounded to the input's float type.
var DFT = &Def{
	Name: "DFT",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 1 {
			return nil, ic.Errorf("needs input")
		}
		if ic.In[0].Unranked {
			return miTypes(ic.In[0]), nil
		}
		return miTypes(miUnknown(ic.In[0].DType, len(ic.In[0].Shape))), nil
	},
	Kernel: miDFTKernel,
}

func miDFTKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	in = append(in, nil, nil, nil)
	x := in[0]
	if x == nil || !x.DType().IsFloat() {
		return nil, Errorf(n, "input must be a float tensor, got %v", x)
	}
	s := x.Shape()
	r := len(s)
	if r < 2 || (s[r-1] != 1 && s[r-1] != 2) {
		return nil, Errorf(n, "input must have rank >= 2 and last dimension 1 or 2, got %v", s)
	}
	axis := -2
	if in[2] != nil {
		a, err := miScalarInt(n, in[2], "axis")
		if err != nil {
			return nil, err
		}
		axis = a
	}
	if axis < -r || axis >= r {
		return nil, Errorf(n, "axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	if axis == r-1 {
		return nil, Errorf(n, "axis must not be the last (real/imaginary) dimension")
	}
	inverse := n.Attrs.Int("inverse", 0) != 0
	onesided := n.Attrs.Int("onesided", 0) != 0
	length := s[axis]
	if inverse && onesided {
		length = 2 * (s[axis] - 1)
	}
	if in[1] != nil {
		l, err := miScalarInt(n, in[1], "dft_length")
		if err != nil {
			return nil, err
		}
		length = l
	}
	if length < 1 {
		return nil, Errorf(n, "dft_length must be positive, got %d", length)
	}
	bins, comps := length, 2
	switch {
	case inverse && onesided:
		comps = 1
	case onesided:
		bins = length/2 + 1
	}
	outShape := s.Clone()
	outShape[axis] = bins
	outShape[r-1] = comps
	out := miSignalMap(x.Float64s(), s, axis, outShape, func(re, im []float64) ([]float64, []float64) {
		if inverse && onesided {
			fr, fi := make([]float64, length), make([]float64, length)
			for k := range length {
				switch {
				case k < len(re):
					fr[k], fi[k] = re[k], im[k]
				case length-k < len(re):
					fr[k], fi[k] = re[length-k], -im[length-k]
				}
			}
			or, _ := miDFT(fr, fi, length, true)
			return or, nil
		}
		or, oi := miDFT(re, im, length, inverse)
		return or[:bins], oi[:bins]
	})
	return []*tensor.Tensor{tensor.FromFloat64s(x.DType(), outShape, out)}, nil
}

// miSignalMap applies f to every 1-D complex signal of x (shape s, last
// dimension 1 or 2) along axis and assembles the results into a tensor of
// shape os, whose last dimension says whether f's imaginary part is kept.
func miSignalMap(x []float64, s tensor.Shape, axis int, os tensor.Shape, f func(re, im []float64) ([]float64, []float64)) []float64 {
	r := len(s)
	inC, outC := s[r-1], os[r-1]
	inner := 1
	for d := axis + 1; d < r-1; d++ {
		inner *= s[d]
	}
	outer := 1
	for d := range axis {
		outer *= s[d]
	}
	inL, outL := s[axis], os[axis]
	out := make([]float64, os.Size())
	re, im := make([]float64, inL), make([]float64, inL)
	for o := range outer {
		for q := range inner {
			for t := range inL {
				base := ((o*inL+t)*inner + q) * inC
				re[t] = x[base]
				im[t] = 0
				if inC == 2 {
					im[t] = x[base+1]
				}
			}
			yr, yi := f(re, im)
			for t := range outL {
				base := ((o*outL+t)*inner + q) * outC
				out[base] = yr[t]
				if outC == 2 {
					out[base+1] = yi[t]
				}
			}
		}
	}
	return out
}

// STFT computes the short-time Fourier transform (ONNX STFT-17). Inputs:
// signal [batch, length, 1 or 2], frame_step (int scalar), optional window
// [frame_length], optional frame_length (int scalar; defaults to the
// window's length). Each frame of frame_length samples starting every
// frame_step samples is multiplied by the window and transformed. Attribute
// onesided (default 1) keeps frame_length/2+1 bins. Output: [batch, frames,
// bins, 2] with frames = (length - frame_length)/frame_step + 1.
var STFT = &Def{
	Name: "STFT",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 1 {
			return nil, ic.Errorf("needs input signal")
		}
		t := miUnknown(ic.In[0].DType, 4)
		t.Shape[3] = 2
		if !ic.In[0].Unranked && len(ic.In[0].Shape) > 0 {
			t.Shape[0] = ic.In[0].Shape[0]
		}
		return miTypes(t), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		in = append(in, nil, nil, nil)
		x := in[0]
		if x == nil || !x.DType().IsFloat() {
			return nil, Errorf(n, "signal must be a float tensor, got %v", x)
		}
		s := x.Shape()
		if len(s) != 3 || (s[2] != 1 && s[2] != 2) {
			return nil, Errorf(n, "signal must be [batch, length, 1 or 2], got %v", s)
		}
		step, err := miScalarInt(n, in[1], "frame_step")
		if err != nil {
			return nil, err
		}
		var win []float64
		flen := -1
		if in[2] != nil {
			if in[2].Rank() != 1 || !in[2].DType().IsFloat() {
				return nil, Errorf(n, "window must be a 1-D float tensor, got %v", in[2])
			}
			win = in[2].Float64s()
			flen = len(win)
		}
		if in[3] != nil {
			fl, err := miScalarInt(n, in[3], "frame_length")
			if err != nil {
				return nil, err
			}
			if win != nil && fl != len(win) {
				return nil, Errorf(n, "frame_length %d differs from the window's length %d", fl, len(win))
			}
			flen = fl
		}
		if flen < 1 || flen > s[1] || step < 1 {
			return nil, Errorf(n, "need 1 <= frame_length (%d) <= signal length (%d) and frame_step (%d) >= 1", flen, s[1], step)
		}
		onesided := n.Attrs.Int("onesided", 1) != 0
		bins := flen
		if onesided {
			bins = flen/2 + 1
		}
		frames := (s[1]-flen)/step + 1
		xv := x.Float64s()
		out := make([]float64, s[0]*frames*bins*2)
		re, im := make([]float64, flen), make([]float64, flen)
		for b := range s[0] {
			for f := range frames {
				for t := range flen {
					base := (b*s[1] + f*step + t) * s[2]
					re[t], im[t] = xv[base], 0
					if s[2] == 2 {
						im[t] = xv[base+1]
					}
					if win != nil {
						re[t] *= win[t]
						im[t] *= win[t]
					}
				}
				yr, yi := miDFT(re, im, flen, false)
				for k := range bins {
					o := ((b*frames+f)*bins + k) * 2
					out[o], out[o+1] = yr[k], yi[k]
				}
			}
		}
		return []*tensor.Tensor{tensor.FromFloat64s(x.DType(), tensor.Shape{s[0], frames, bins, 2}, out)}, nil
	},
}

// miWindowDef builds a window-function op: out[k] = f(2*pi*k/N) for k in
// [0, size), with N = size when periodic (the default) and size-1
// otherwise.
func miWindowDef(name string, f func(a float64) float64) *Def {
	return &Def{
		Name: name,
		Infer: func(ic *InferContext) ([]graph.Type, error) {
			dt := tensor.DType(ic.Node.Attrs.Int("output_datatype", int64(tensor.Float32)))
			size := -1
			if c := ic.Const(0); c != nil && c.Len() == 1 {
				size = int(c.Int64s()[0])
			}
			return miTypes(graph.TensorType(dt, size)), nil
		},
		Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if len(in) < 1 {
				return nil, Errorf(n, "needs input size")
			}
			size, err := miScalarInt(n, in[0], "size")
			if err != nil {
				return nil, err
			}
			if size < 0 {
				return nil, Errorf(n, "size must be non-negative, got %d", size)
			}
			dt := tensor.DType(n.Attrs.Int("output_datatype", int64(tensor.Float32)))
			if !dt.IsNumeric() {
				return nil, Errorf(n, "output_datatype %v is not numeric", dt)
			}
			N := float64(size)
			if n.Attrs.Int("periodic", 1) == 0 {
				N = float64(size - 1)
			}
			out := make([]float64, size)
			for k := range out {
				out[k] = f(2 * math.Pi * float64(k) / N)
			}
			return []*tensor.Tensor{tensor.FromFloat64s(dt, tensor.Shape{size}, out)}, nil
		},
	}
}

// HannWindow is the Hann window 0.5 - 0.5*cos(2*pi*k/N) (ONNX HannWindow-17).
// Input: size (int scalar). Attributes: periodic (default 1: N = size, else
// size-1), output_datatype (default float32).
var HannWindow = miWindowDef("HannWindow", func(a float64) float64 { return 0.5 - 0.5*math.Cos(a) })

// HammingWindow is the Hamming window alpha - beta*cos(2*pi*k/N) with
// alpha = 25/46 and beta = 1 - alpha (ONNX HammingWindow-17). Attributes as
// HannWindow.
var HammingWindow = miWindowDef("HammingWindow", func(a float64) float64 {
	const alpha = 25.0 / 46.0
	return alpha - (1-alpha)*math.Cos(a)
})

// BlackmanWindow is the Blackman window 0.42 - 0.5*cos(2*pi*k/N) +
// 0.08*cos(4*pi*k/N) (ONNX BlackmanWindow-17). Attributes as HannWindow.
var BlackmanWindow = miWindowDef("BlackmanWindow", func(a float64) float64 {
	return 0.42 - 0.5*math.Cos(a) + 0.08*math.Cos(2*a)
})

// MelWeightMatrix builds the [dft_length/2+1, num_mel_bins] matrix of
// triangular mel filters (ONNX MelWeightMatrix-17). Inputs: num_mel_bins,
// dft_length, sample_rate (int scalars), lower_edge_hertz,
// upper_edge_hertz (float scalars). Band edges are spaced evenly in mel
// (mel = 2595*log10(1 + hz/700)) with step (high-low)/(num_mel_bins+2) as
// in the ONNX reference, mapped to spectrogram bins floor((dft_length+1)*hz
// / sample_rate); filter i rises linearly from edge i to edge i+1 and falls
// to edge i+2. Attribute output_datatype (default float32).
var MelWeightMatrix = &Def{
	Name: "MelWeightMatrix",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		dt := tensor.DType(ic.Node.Attrs.Int("output_datatype", int64(tensor.Float32)))
		return miTypes(miUnknown(dt, 2)), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 5 {
			return nil, Errorf(n, "needs 5 inputs")
		}
		mel, err := miScalarInt(n, in[0], "num_mel_bins")
		if err != nil {
			return nil, err
		}
		dft, err := miScalarInt(n, in[1], "dft_length")
		if err != nil {
			return nil, err
		}
		rate, err := miScalarInt(n, in[2], "sample_rate")
		if err != nil {
			return nil, err
		}
		for i, name := range []string{"lower_edge_hertz", "upper_edge_hertz"} {
			if t := in[3+i]; t == nil || t.Len() != 1 || !t.DType().IsFloat() {
				return nil, Errorf(n, "%s must be a float scalar", name)
			}
		}
		if mel < 1 || dft < 1 || rate < 1 {
			return nil, Errorf(n, "num_mel_bins, dft_length and sample_rate must be positive")
		}
		lo, hi := float32(in[3].At(0)), float32(in[4].At(0))
		toMel := func(hz float32) float32 {
			return 2595 * float32(math.Log10(float64(1+hz/700)))
		}
		lowMel, highMel := toMel(lo), toMel(hi)
		step := (highMel - lowMel) / float32(mel+2)
		specBins := dft/2 + 1
		edges := make([]int, mel+2)
		for i := range edges {
			m := float64(i)*float64(step) + float64(lowMel)
			hz := 700 * (math.Pow(10, m/2595) - 1)
			edges[i] = int(math.Floor(float64(dft+1) * hz / float64(rate)))
		}
		out := make([]float64, specBins*mel)
		set := func(j, i int, v float64) error {
			if j < 0 || j >= specBins {
				return Errorf(n, "mel band edges fall outside the %d spectrogram bins; check the edge frequencies against sample_rate", specBins)
			}
			out[j*mel+i] = v
			return nil
		}
		for i := range mel {
			l, c, h := edges[i], edges[i+1], edges[i+2]
			if c == l {
				if err := set(c, i, 1); err != nil {
					return nil, err
				}
			} else {
				for j := l; j <= c; j++ {
					if err := set(j, i, float64(j-l)/float64(c-l)); err != nil {
						return nil, err
					}
				}
			}
			for j := c; j < h; j++ {
				if err := set(j, i, float64(h-j)/float64(h-c)); err != nil {
					return nil, err
				}
			}
		}
		dt := tensor.DType(n.Attrs.Int("output_datatype", int64(tensor.Float32)))
		if !dt.IsNumeric() {
			return nil, Errorf(n, "output_datatype %v is not numeric", dt)
		}
		return []*tensor.Tensor{tensor.FromFloat64s(dt, tensor.Shape{specBins, mel}, out)}, nil
	},
}

func init() {
	Register(DFT)
	Register(STFT)
	Register(HannWindow)
	Register(HammingWindow)
	Register(BlackmanWindow)
	Register(MelWeightMatrix)
}
