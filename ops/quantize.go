package ops

import (
	"math"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// QuantizeLinear computes y = saturate(round(x / y_scale) + y_zero_point)
// (ONNX QuantizeLinear-25), rounding half to even and clamping to the range
// of the output type.
//
// Inputs: x (float32, float16, bfloat16 or int32), y_scale, optional
// y_zero_point. The scale and zero point are per-tensor (scalar or one
// element), per-axis (1-D of length x.shape[axis]) or blocked (rank of x,
// with ceil(x.shape[axis]/block_size) on axis). Attributes: axis (default
// 1), block_size (default 0 = not blocked), output_dtype (used when there is
// no zero point; default uint8), saturate (float8 only), precision (the
// float type the division is done in; default the promotion of x and
// y_scale, as in the ONNX reference).
//
// Outputs may be uint8, int8, uint16, int16, int32, uint4, int4, uint2 or
// int2 (rounded half to even, zero point added, clamped to the type's
// range), or float8e4m3fn, float8e4m3fnuz, float8e5m2, float8e5m2fnuz or
// float4e2m1: for these x / y_scale + y_zero_point is not rounded to an
// integer but converted as Cast does, with attribute saturate (default 1)
// for the float8 types; float4e2m1 always saturates.
var QuantizeLinear = &Def{
	Name: "QuantizeLinear",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 2 {
			return nil, ic.Errorf("needs inputs x and y_scale")
		}
		var zt tensor.DType
		if ic.Has(2) && len(ic.In) > 2 {
			zt = ic.In[2].DType
		}
		dt, err := miQuantOutType(ic.Node, zt != 0, zt)
		if err != nil {
			return nil, err
		}
		return miTypes(miSameShape(dt, ic.In[0])), nil
	},
	Kernel: miQuantizeLinear,
}

func miQuantOutType(n *graph.Node, hasZP bool, zpType tensor.DType) (tensor.DType, error) {
	dt := tensor.DType(n.Attrs.Int("output_dtype", 0))
	if hasZP {
		if dt != 0 && dt != zpType {
			return 0, Errorf(n, "output_dtype %v differs from the zero point's type %v", dt, zpType)
		}
		dt = zpType
	}
	if dt == 0 {
		dt = tensor.Uint8
	}
	if _, _, ok := lbQuantRange(dt); (!ok || dt == tensor.Uint32) && !lbQuantFloat(dt) {
		return 0, Unsupported(n, "quantizing to %v", dt)
	}
	return dt, nil
}

// lbQuantRange is miIntRange extended to the 4- and 2-bit integers.
func lbQuantRange(dt tensor.DType) (lo, hi float64, ok bool) {
	switch dt {
	case tensor.Uint4:
		return 0, 15, true
	case tensor.Int4:
		return -8, 7, true
	case tensor.Uint2:
		return 0, 3, true
	case tensor.Int2:
		return -2, 1, true
	}
	return miIntRange(dt)
}

// lbQuantFloat reports whether QuantizeLinear may produce dt as a float
// target (no integer rounding).
func lbQuantFloat(dt tensor.DType) bool {
	return dt.IsLowFloat() && dt != tensor.Float8E8M0
}

func miQuantizeLinear(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs x and y_scale")
	}
	x, sc := in[0], in[1]
	var zp *tensor.Tensor
	if len(in) > 2 {
		zp = in[2]
	}
	if !(x.DType().IsFloat() || x.DType() == tensor.Int32) || !sc.DType().IsFloat() {
		return nil, Errorf(n, "x must be float or int32 and y_scale float, got %v and %v", x.DType(), sc.DType())
	}
	var zpType tensor.DType
	if zp != nil {
		zpType = zp.DType()
	}
	dt, err := miQuantOutType(n, zp != nil, zpType)
	if err != nil {
		return nil, err
	}
	axis := int(n.Attrs.Int("axis", 1))
	block := int(n.Attrs.Int("block_size", 0))
	sIdx, msg := miParamIndex(x.Shape(), sc.Shape(), axis, block)
	if msg != "" {
		return nil, Errorf(n, "y_scale %v for x %v: %s", sc.Shape(), x.Shape(), msg)
	}
	var zIdx []int
	var zv []float64
	if zp != nil {
		zIdx, msg = miParamIndex(x.Shape(), zp.Shape(), axis, block)
		if msg != "" {
			return nil, Errorf(n, "y_zero_point %v for x %v: %s", zp.Shape(), x.Shape(), msg)
		}
		zv = zp.Float64s()
	}
	prec := miPromote(x.DType(), sc.DType())
	if p := tensor.DType(n.Attrs.Int("precision", 0)); p != 0 {
		if !p.IsFloat() {
			return nil, Errorf(n, "precision must be a float type, got %v", p)
		}
		prec = p
	}
	lo, hi, isInt := lbQuantRange(dt)
	xv, sv := x.Float64s(), sc.Float64s()
	out := make([]float64, len(xv))
	for i, v := range xv {
		q := miRoundTo(prec, miRoundTo(prec, v)/miRoundTo(prec, sv[sIdx[i]]))
		if !isInt {
			if zv != nil {
				q = miRoundTo(prec, q+zv[zIdx[i]])
			}
			out[i] = q
			continue
		}
		q = math.RoundToEven(q)
		if zv != nil {
			q += zv[zIdx[i]]
		}
		out[i] = miSaturate(q, lo, hi)
	}
	if !isInt {
		sat := n.Attrs.Int("saturate", 1) != 0
		return []*tensor.Tensor{tensor.ConvertFloat64s(dt, x.Shape(), out, sat, tensor.E8M0Up)}, nil
	}
	return []*tensor.Tensor{tensor.FromFloat64s(dt, x.Shape(), out)}, nil
}

// DequantizeLinear computes y = (x - x_zero_point) * x_scale (ONNX
// DequantizeLinear-25) with per-tensor, per-axis or blocked parameters as in
// QuantizeLinear. The difference is taken in float32 and multiplied by the
// scale in float32, then rounded to the output type: output_dtype if set,
// else the scale's type. x may be int8, uint8, int16, uint16, int32 (whose
// zero point must be 0), int4, uint4, int2, uint2, one of the float8 types
// or float4e2m1; every x value and zero point is taken at its exact value.
var DequantizeLinear = &Def{
	Name: "DequantizeLinear",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 2 {
			return nil, ic.Errorf("needs inputs x and x_scale")
		}
		dt := tensor.DType(ic.Node.Attrs.Int("output_dtype", 0))
		if dt == 0 {
			dt = ic.In[1].DType
		}
		return miTypes(miSameShape(dt, ic.In[0])), nil
	},
	Kernel: miDequantizeLinear,
}

func miDequantizeLinear(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, Errorf(n, "needs inputs x and x_scale")
	}
	x, sc := in[0], in[1]
	var zp *tensor.Tensor
	if len(in) > 2 {
		zp = in[2]
	}
	if !x.DType().IsInt() && !x.DType().IsLowBit() {
		return nil, Unsupported(n, "dequantizing %v", x.DType())
	}
	if !sc.DType().IsFloat() {
		return nil, Errorf(n, "x_scale must be a float tensor, got %v", sc.DType())
	}
	dt := tensor.DType(n.Attrs.Int("output_dtype", 0))
	if dt == 0 {
		dt = sc.DType()
	}
	if !dt.IsFloat() {
		return nil, Errorf(n, "output_dtype must be a float type, got %v", dt)
	}
	axis := int(n.Attrs.Int("axis", 1))
	block := int(n.Attrs.Int("block_size", 0))
	sIdx, msg := miParamIndex(x.Shape(), sc.Shape(), axis, block)
	if msg != "" {
		return nil, Errorf(n, "x_scale %v for x %v: %s", sc.Shape(), x.Shape(), msg)
	}
	var zIdx []int
	var zv []float64
	if zp != nil {
		if zp.DType() != x.DType() {
			return nil, Errorf(n, "x_zero_point type %v differs from x's type %v", zp.DType(), x.DType())
		}
		zIdx, msg = miParamIndex(x.Shape(), zp.Shape(), axis, block)
		if msg != "" {
			return nil, Errorf(n, "x_zero_point %v for x %v: %s", zp.Shape(), x.Shape(), msg)
		}
		zv = zp.Float64s()
	}
	xv, sv := x.Float64s(), sc.Float64s()
	out := make([]float64, len(xv))
	for i, v := range xv {
		d := float32(v)
		if zv != nil {
			d -= float32(zv[zIdx[i]])
		}
		out[i] = float64(d * float32(sv[sIdx[i]]))
	}
	return []*tensor.Tensor{tensor.FromFloat64s(dt, x.Shape(), out)}, nil
}

// DynamicQuantizeLinear quantizes a float32 tensor to uint8 with a scale and
// zero point computed from its range (ONNX DynamicQuantizeLinear-11):
//
//	y_scale = (max(0, max(x)) - min(0, min(x))) / 255
//	y_zero_point = saturate(round(-min(0, min(x)) / y_scale))
//	y = saturate(round(x / y_scale) + y_zero_point)
//
// with rounding half to even and saturation to [0, 255]. All-zero inputs
// give scale 0 and zero point 0 (ONNX leaves this case undefined).
var DynamicQuantizeLinear = &Def{
	Name: "DynamicQuantizeLinear",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 1 {
			return nil, ic.Errorf("needs input x")
		}
		return miTypes(miSameShape(tensor.Uint8, ic.In[0]), graph.TensorType(tensor.Float32), graph.TensorType(tensor.Uint8)), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil || in[0].DType() != tensor.Float32 {
			return nil, Errorf(n, "needs a float32 input x")
		}
		x := in[0].F32()
		var mn, mx float32
		for _, v := range x {
			mn = min(mn, v)
			mx = max(mx, v)
		}
		scale := (mx - mn) / 255
		var zp float64
		out := make([]float64, len(x))
		if scale != 0 {
			zp = miSaturate(float64(-mn/scale), 0, 255)
			for i, v := range x {
				out[i] = miSaturate(math.RoundToEven(float64(v/scale))+zp, 0, 255)
			}
		}
		return []*tensor.Tensor{
			tensor.FromFloat64s(tensor.Uint8, in[0].Shape(), out),
			tensor.Scalar(scale),
			tensor.Scalar(uint8(zp)),
		}, nil
	},
}

func init() {
	Register(QuantizeLinear)
	Register(DequantizeLinear)
	Register(DynamicQuantizeLinear)
}
