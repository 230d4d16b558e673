package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// miShifted returns t's elements as int32 minus a zero point. zp may be
// nil (no shift), one element (per-tensor), or have length size where
// element i uses zero point (i/div)%size (per-row or per-column).
func miShifted(n *graph.Node, name string, t, zp *tensor.Tensor, div, size int) ([]int32, error) {
	if !(t.DType() == tensor.Int8 || t.DType() == tensor.Uint8) {
		return nil, Errorf(n, "%s must be int8 or uint8, got %v", name, t.DType())
	}
	v := t.Int64s()
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	if zp == nil {
		return out, nil
	}
	if zp.DType() != t.DType() {
		return nil, Errorf(n, "%s zero point type %v differs from %v", name, zp.DType(), t.DType())
	}
	z := zp.Int64s()
	switch {
	case len(z) == 1:
		for i := range out {
			out[i] -= int32(z[0])
		}
	case len(z) == size && div > 0:
		for i := range out {
			out[i] -= int32(z[(i/div)%size])
		}
	default:
		return nil, Errorf(n, "%s zero point has %d elements, want 1 or %d", name, len(z), size)
	}
	return out, nil
}

// miMatDims returns the matrix dimensions (rows, cols) of a matmul operand,
// treating a 1-D operand as a row (first) or column (second) vector.
func miMatDims(s tensor.Shape, first bool) (int, int) {
	switch {
	case len(s) >= 2:
		return s[len(s)-2], s[len(s)-1]
	case len(s) == 1 && first:
		return 1, s[0]
	case len(s) == 1:
		return s[0], 1
	}
	return 1, 1
}

// miMatMulInt32 multiplies int32 operands with numpy matmul semantics
// (batch dimensions broadcast; 1-D operands promoted and the promoted
// dimension dropped). The int32 accumulator wraps as the ONNX reference's does.
func miMatMulInt32(n *graph.Node, a []int32, as tensor.Shape, b []int32, bs tensor.Shape) ([]int32, tensor.Shape, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, nil, Errorf(n, "matmul operands must have rank >= 1, got %v and %v", as, bs)
	}
	m, k := miMatDims(as, true)
	k2, nn := miMatDims(bs, false)
	if k != k2 {
		return nil, nil, Errorf(n, "matmul inner dimensions differ: %v and %v", as, bs)
	}
	var ab, bb tensor.Shape
	if len(as) > 2 {
		ab = as[:len(as)-2]
	}
	if len(bs) > 2 {
		bb = bs[:len(bs)-2]
	}
	batch, err := tensor.Broadcast(ab, bb)
	if err != nil {
		return nil, nil, Errorf(n, "matmul batch dimensions: %v", err)
	}
	ai := tensor.BroadcastIndex(ab, batch)
	bi := tensor.BroadcastIndex(bb, batch)
	out := make([]int32, len(ai)*m*nn)
	for p := range ai {
		ao, bo, oo := ai[p]*m*k, bi[p]*k*nn, p*m*nn
		for i := range m {
			for j := range nn {
				var acc int32
				for q := range k {
					acc += a[ao+i*k+q] * b[bo+q*nn+j]
				}
				out[oo+i*nn+j] = acc
			}
		}
	}
	shape := batch.Clone()
	if len(as) >= 2 {
		shape = append(shape, m)
	}
	if len(bs) >= 2 {
		shape = append(shape, nn)
	}
	return out, shape, nil
}

// MatMulInteger computes (A - a_zero_point) x (B - b_zero_point) in int32
// with numpy matmul semantics (ONNX MatMulInteger-10). A and B are int8 or
// uint8; a_zero_point is per-tensor or per-row (length M), b_zero_point
// per-tensor or per-column (length N).
var MatMulInteger = &Def{
	Name: "MatMulInteger",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		return miTypes(miMatMulType(tensor.Int32, ic)), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		in = append(in, nil, nil)
		if in[0] == nil || in[1] == nil {
			return nil, Errorf(n, "needs inputs A and B")
		}
		a, b, err := miMatMulOperands(n, in[0], in[2], in[1], in[3])
		if err != nil {
			return nil, err
		}
		y, shape, err := miMatMulInt32(n, a, in[0].Shape(), b, in[1].Shape())
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{tensor.From(shape, y)}, nil
	},
}

func miMatMulOperands(n *graph.Node, a, azp, b, bzp *tensor.Tensor) ([]int32, []int32, error) {
	m, k := miMatDims(a.Shape(), true)
	_, nn := miMatDims(b.Shape(), false)
	av, err := miShifted(n, "A", a, azp, k, m)
	if err != nil {
		return nil, nil, err
	}
	bv, err := miShifted(n, "B", b, bzp, 1, nn)
	return av, bv, err
}

// miMatMulType infers a matmul output type from inputs 0 and the B input
// at index bi (3 for QLinearMatMul, 1 otherwise).
func miMatMulType(dt tensor.DType, ic *InferContext) graph.Type {
	bi := 1
	if ic.Node.Op == "QLinearMatMul" {
		bi = 3
	}
	if len(ic.In) <= bi || ic.In[0].Unranked || ic.In[bi].Unranked {
		return graph.UnrankedType(dt)
	}
	as, bs := ic.In[0].Shape, ic.In[bi].Shape
	r := max(len(as), len(bs))
	if len(as) == 1 {
		r--
	}
	if len(bs) == 1 {
		r--
	}
	t := miUnknown(dt, max(r, 0))
	if len(t.Shape) > 0 && len(bs) >= 2 {
		t.Shape[len(t.Shape)-1] = bs[len(bs)-1]
		if len(as) >= 2 && len(t.Shape) >= 2 {
			t.Shape[len(t.Shape)-2] = as[len(as)-2]
		}
	}
	return t
}

// miRequantize maps int32 accumulators to the output type:
// y = saturate(round(acc * mult(j)) + y_zero_point), rounding half to even,
// where mult(j) = a_scale*b_scale/y_scale is computed in the scales' float
// type and applied in float64, as the ONNX reference does.
func miRequantize(n *graph.Node, acc []int32, shape tensor.Shape, aScale, bScale, yScale *tensor.Tensor, aIdx, bIdx func(int) int, yzp *tensor.Tensor, dt tensor.DType) (*tensor.Tensor, error) {
	if !aScale.DType().IsFloat() || !bScale.DType().IsFloat() || !yScale.DType().IsFloat() || yScale.Len() != 1 {
		return nil, Errorf(n, "scales must be float tensors and y_scale a single value")
	}
	sdt := miPromote(miPromote(aScale.DType(), bScale.DType()), yScale.DType())
	as, bs, ys := aScale.Float64s(), bScale.Float64s(), yScale.Float64s()[0]
	var z float64
	if yzp != nil {
		if yzp.Len() != 1 {
			return nil, Errorf(n, "y_zero_point must be a single value, got shape %v", yzp.Shape())
		}
		dt = yzp.DType()
		z = yzp.Float64s()[0]
	}
	lo, hi, ok := miIntRange(dt)
	if !ok {
		return nil, Errorf(n, "output type %v is not int8 or uint8", dt)
	}
	out := make([]float64, len(acc))
	for i, v := range acc {
		ai, bi := 0, 0
		if len(as) > 1 {
			ai = aIdx(i)
		}
		if len(bs) > 1 {
			bi = bIdx(i)
		}
		mult := miRoundTo(sdt, miRoundTo(sdt, as[ai]*bs[bi])/ys)
		out[i] = miSaturate(math.RoundToEven(float64(v)*mult)+z, lo, hi)
	}
	return tensor.FromFloat64s(dt, shape, out), nil
}

// QLinearMatMul multiplies quantized matrices and requantizes the result
// (ONNX QLinearMatMul-21): acc = (a - a_zero_point) x (b - b_zero_point) in
// int32, y = saturate(round(acc * a_scale * b_scale / y_scale) +
// y_zero_point). a's scale and zero point are per-tensor or per-row, b's
// per-tensor or per-column; y's are per-tensor. Scales may be float32,
// float16 or bfloat16.
var QLinearMatMul = &Def{
	Name: "QLinearMatMul",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		dt := tensor.Uint8
		if len(ic.In) > 7 && ic.Has(7) {
			dt = ic.In[7].DType
		} else if len(ic.In) > 0 {
			dt = ic.In[0].DType
		}
		return miTypes(miMatMulType(dt, ic)), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 8 {
			in = append(in, make([]*tensor.Tensor, 8-len(in))...)
		}
		if in[0] == nil || in[1] == nil || in[3] == nil || in[4] == nil || in[6] == nil {
			return nil, Errorf(n, "needs inputs a, a_scale, b, b_scale and y_scale")
		}
		a, b := in[0], in[3]
		av, bv, err := miMatMulOperands(n, a, in[2], b, in[5])
		if err != nil {
			return nil, err
		}
		acc, shape, err := miMatMulInt32(n, av, a.Shape(), bv, b.Shape())
		if err != nil {
			return nil, err
		}
		m, _ := miMatDims(a.Shape(), true)
		_, nn := miMatDims(b.Shape(), false)
		if k := in[1].Len(); k != 1 && k != m {
			return nil, Errorf(n, "a_scale has %d elements, want 1 or %d", k, m)
		}
		if k := in[4].Len(); k != 1 && k != nn {
			return nil, Errorf(n, "b_scale has %d elements, want 1 or %d", k, nn)
		}
		y, err := miRequantize(n, acc, shape, in[1], in[4], in[6],
			func(i int) int { return (i / nn) % m },
			func(i int) int { return i % nn },
			in[7], a.DType())
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{y}, nil
	},
}

// miConvGeom is the geometry of an N-D convolution.
type miConvGeom struct {
	batch, inC, outC, group int
	in, kern, out           []int
	strides, dil, padBegin  []int
}

// miConvSetup reads Conv-style attributes (auto_pad, dilations, group,
// kernel_shape, pads, strides) for input shape xs and weight shape ws.
func miConvSetup(n *graph.Node, xs, ws tensor.Shape) (*miConvGeom, error) {
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, Errorf(n, "x must be [N, C, D1, ...] and w of the same rank, got %v and %v", xs, ws)
	}
	k := len(xs) - 2
	g := &miConvGeom{batch: xs[0], inC: xs[1], outC: ws[0], group: int(n.Attrs.Int("group", 1))}
	if g.group <= 0 || g.inC%g.group != 0 || g.outC%g.group != 0 || ws[1]*g.group != g.inC {
		return nil, Errorf(n, "group %d does not fit x channels %d and w %v", g.group, g.inC, ws)
	}
	g.in = append([]int(nil), xs[2:]...)
	g.kern = append([]int(nil), ws[2:]...)
	if ks := n.Attrs.Ints("kernel_shape"); ks != nil {
		if len(ks) != k {
			return nil, Errorf(n, "kernel_shape %v has wrong length for %d spatial dims", ks, k)
		}
		for i, v := range ks {
			if int(v) != g.kern[i] {
				return nil, Errorf(n, "kernel_shape %v does not match w %v", ks, ws)
			}
		}
	}
	ints := func(name string, def int) ([]int, error) {
		v := n.Attrs.Ints(name)
		out := make([]int, k)
		for i := range out {
			out[i] = def
		}
		if v == nil {
			return out, nil
		}
		if len(v) != k {
			return nil, Errorf(n, "%s %v needs %d values", name, v, k)
		}
		for i, x := range v {
			if x < 1 {
				return nil, Errorf(n, "%s %v must be positive", name, v)
			}
			out[i] = int(x)
		}
		return out, nil
	}
	var err error
	if g.strides, err = ints("strides", 1); err != nil {
		return nil, err
	}
	if g.dil, err = ints("dilations", 1); err != nil {
		return nil, err
	}
	pads := make([]int, 2*k)
	if p := n.Attrs.Ints("pads"); p != nil {
		if len(p) != 2*k {
			return nil, Errorf(n, "pads %v needs %d values", p, 2*k)
		}
		for i, v := range p {
			if v < 0 {
				return nil, Errorf(n, "pads %v must be non-negative", p)
			}
			pads[i] = int(v)
		}
	}
	g.padBegin = make([]int, k)
	g.out = make([]int, k)
	ap := n.Attrs.String("auto_pad", "NOTSET")
	for i := range k {
		ek := (g.kern[i]-1)*g.dil[i] + 1
		switch ap {
		case "NOTSET", "":
			g.padBegin[i] = pads[i]
			g.out[i] = (g.in[i]+pads[i]+pads[i+k]-ek)/g.strides[i] + 1
		case "VALID":
			g.out[i] = (g.in[i]-ek)/g.strides[i] + 1
		case "SAME_UPPER", "SAME_LOWER":
			g.out[i] = (g.in[i] + g.strides[i] - 1) / g.strides[i]
			total := max(0, (g.out[i]-1)*g.strides[i]+ek-g.in[i])
			g.padBegin[i] = total / 2
			if ap == "SAME_LOWER" {
				g.padBegin[i] = total - total/2
			}
		default:
			return nil, Errorf(n, "auto_pad %q is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", ap)
		}
		if g.out[i] < 0 {
			g.out[i] = 0
		}
	}
	return g, nil
}

// outShape returns [N, M, out...].
func (g *miConvGeom) outShape() tensor.Shape {
	return append(tensor.Shape{g.batch, g.outC}, g.out...)
}

// miConvInt32 convolves int32 data (already shifted by zero points, so
// padding contributes 0) and adds an optional per-channel bias.
func miConvInt32(g *miConvGeom, x, w, bias []int32) []int32 {
	k := len(g.in)
	inSp, kSp, outSp := tensor.Shape(g.in).Size(), tensor.Shape(g.kern).Size(), tensor.Shape(g.out).Size()
	cpg, mpg := g.inC/g.group, g.outC/g.group
	// Kernel offsets per spatial dimension for each flat kernel position.
	kOff := make([][]int, kSp)
	for p := range kOff {
		kOff[p] = make([]int, k)
		r := p
		for d := k - 1; d >= 0; d-- {
			kOff[p][d] = (r % g.kern[d]) * g.dil[d]
			r /= g.kern[d]
		}
	}
	inStr := tensor.Shape(g.in).Strides()
	out := make([]int32, g.batch*g.outC*outSp)
	oc := make([]int, k)
	for b := range g.batch {
		for m := range g.outC {
			grp := m / mpg
			for o := range outSp {
				r := o
				for d := k - 1; d >= 0; d-- {
					oc[d] = (r%g.out[d])*g.strides[d] - g.padBegin[d]
					r /= g.out[d]
				}
				var acc int32
				if bias != nil {
					acc = bias[m]
				}
				for p := range kSp {
					off, ok := 0, true
					for d := range k {
						c := oc[d] + kOff[p][d]
						if c < 0 || c >= g.in[d] {
							ok = false
							break
						}
						off += c * inStr[d]
					}
					if !ok {
						continue
					}
					for c := range cpg {
						xi := (b*g.inC+grp*cpg+c)*inSp + off
						wi := (m*cpg+c)*kSp + p
						acc += x[xi] * w[wi]
					}
				}
				out[(b*g.outC+m)*outSp+o] = acc
			}
		}
	}
	return out
}

// miConvType infers a conv output type [N, M, ?...].
func miConvType(dt tensor.DType, ic *InferContext, wi int) graph.Type {
	if len(ic.In) <= wi || ic.In[0].Unranked {
		return graph.UnrankedType(dt)
	}
	t := miUnknown(dt, len(ic.In[0].Shape))
	if len(t.Shape) > 0 {
		t.Shape[0] = ic.In[0].Shape[0]
	}
	if !ic.In[wi].Unranked && len(ic.In[wi].Shape) > 0 && len(t.Shape) > 1 {
		t.Shape[1] = ic.In[wi].Shape[0]
	}
	return t
}

// ConvInteger convolves (x - x_zero_point) with (w - w_zero_point) in int32
// (ONNX ConvInteger-10). Attributes as Conv: auto_pad, dilations, group,
// kernel_shape, pads, strides. x_zero_point is per-tensor; w_zero_point
// per-tensor or per output channel. Padding contributes zero after the
// shift, i.e. pads take the value x_zero_point.
var ConvInteger = &Def{
	Name: "ConvInteger",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		return miTypes(miConvType(tensor.Int32, ic, 1)), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		in = append(in, nil, nil)
		if in[0] == nil || in[1] == nil {
			return nil, Errorf(n, "needs inputs x and w")
		}
		g, err := miConvSetup(n, in[0].Shape(), in[1].Shape())
		if err != nil {
			return nil, err
		}
		x, w, err := miConvOperands(n, g, in[0], in[2], in[1], in[3])
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{tensor.From(g.outShape(), miConvInt32(g, x, w, nil))}, nil
	},
}

func miConvOperands(n *graph.Node, g *miConvGeom, x, xzp, w, wzp *tensor.Tensor) ([]int32, []int32, error) {
	if xzp != nil && xzp.Len() != 1 {
		return nil, nil, Errorf(n, "x_zero_point must be a single value, got shape %v", xzp.Shape())
	}
	xv, err := miShifted(n, "x", x, xzp, 1, 1)
	if err != nil {
		return nil, nil, err
	}
	per := w.Len() / max(g.outC, 1)
	wv, err := miShifted(n, "w", w, wzp, per, g.outC)
	return xv, wv, err
}

// QLinearConv convolves quantized tensors and requantizes the result (ONNX
// QLinearConv-10): acc = conv(x - x_zero_point, w - w_zero_point) + B in
// int32, y = saturate(round(acc * x_scale * w_scale / y_scale) +
// y_zero_point). w's scale and zero point are per-tensor or per output
// channel; the others per-tensor. Attributes as Conv.
var QLinearConv = &Def{
	Name: "QLinearConv",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		dt := tensor.Uint8
		if len(ic.In) > 7 && ic.Has(7) {
			dt = ic.In[7].DType
		} else if len(ic.In) > 0 {
			dt = ic.In[0].DType
		}
		return miTypes(miConvType(dt, ic, 3)), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 9 {
			in = append(in, make([]*tensor.Tensor, 9-len(in))...)
		}
		if in[0] == nil || in[1] == nil || in[3] == nil || in[4] == nil || in[6] == nil {
			return nil, Errorf(n, "needs inputs x, x_scale, w, w_scale and y_scale")
		}
		g, err := miConvSetup(n, in[0].Shape(), in[3].Shape())
		if err != nil {
			return nil, err
		}
		x, w, err := miConvOperands(n, g, in[0], in[2], in[3], in[5])
		if err != nil {
			return nil, err
		}
		var bias []int32
		if in[8] != nil {
			if in[8].DType() != tensor.Int32 || in[8].Len() != g.outC {
				return nil, Errorf(n, "B must be int32 of length %d, got %v", g.outC, in[8])
			}
			bias = in[8].I32()
		}
		if in[1].Len() != 1 {
			return nil, Errorf(n, "x_scale must be a single value")
		}
		if k := in[4].Len(); k != 1 && k != g.outC {
			return nil, Errorf(n, "w_scale has %d elements, want 1 or %d", k, g.outC)
		}
		acc := miConvInt32(g, x, w, bias)
		outSp := tensor.Shape(g.out).Size()
		y, err := miRequantize(n, acc, g.outShape(), in[1], in[4], in[6],
			func(int) int { return 0 },
			func(i int) int { return (i / max(outSp, 1)) % g.outC },
			in[7], in[0].DType())
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{y}, nil
	},
}

func init() {
	Register(MatMulInteger)
	Register(QLinearMatMul)
	Register(ConvInteger)
	Register(QLinearConv)
}
