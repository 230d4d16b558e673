package ops

import (
	"bytes"
	"encoding/binary"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// BitCast reinterprets the bits of every element as another element type of
// the same size (ONNX BitCast-26), using ONNX's little-endian layout; the
// shape is unchanged. Attribute to: the target type. Strings cannot be
// bit-cast; a bool reinterpreted from a nonzero byte is true.
var BitCast = &Def{
	Name: "BitCast",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		if len(ic.In) < 1 {
			return nil, ic.Errorf("needs input")
		}
		return miTypes(miSameShape(tensor.DType(ic.Node.Attrs.Int("to", 0)), ic.In[0])), nil
	},
	Kernel: func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, Errorf(n, "needs input")
		}
		x := in[0]
		to := tensor.DType(n.Attrs.Int("to", 0))
		if !to.Supported() || to == tensor.String || x.DType() == tensor.String {
			return nil, Unsupported(n, "bit-casting %v to %v", x.DType(), to)
		}
		if to.Size() != x.DType().Size() {
			return nil, Errorf(n, "cannot bit-cast %v (%d bytes) to %v (%d bytes); sizes must match", x.DType(), x.DType().Size(), to, to.Size())
		}
		var buf bytes.Buffer
		if err := binary.Write(&buf, binary.LittleEndian, x.Data()); err != nil {
			return nil, Errorf(n, "encoding %v: %v", x.DType(), err)
		}
		y, err := tensor.NewChecked(to, x.Shape())
		if err != nil {
			return nil, Errorf(n, "%v", err)
		}
		if err := binary.Read(&buf, binary.LittleEndian, y.Data()); err != nil {
			return nil, Errorf(n, "decoding %v: %v", to, err)
		}
		return []*tensor.Tensor{y}, nil
	},
}

func init() { Register(BitCast) }
