package ops

import (
	"math"
	"sort"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// NonMaxSuppression greedily selects boxes per batch entry and class (ONNX
// NonMaxSuppression-11). Inputs: boxes [B, N, 4], scores [B, C, N] and
// optional scalars max_output_boxes_per_class (int64, default 0: select
// nothing), iou_threshold (default 0) and score_threshold (boxes scoring
// at or below it are dropped; absent: none dropped). For each (b, c) the
// candidates are visited by decreasing score (ties: lower box index first);
// a candidate is kept unless its IoU with an already kept box exceeds
// iou_threshold, until max_output_boxes_per_class are kept. Output
// selected_indices [K, 3] int64 rows (batch, class, box), by batch, then
// class, then selection order. center_point_box 0 reads boxes as two
// diagonal corners [y1, x1, y2, x2] in any order, 1 as [x_center, y_center,
// width, height].
var NonMaxSuppression = &Def{Name: "NonMaxSuppression", Infer: rdNMSInfer, Kernel: rdNMSKernel}

func init() { Register(NonMaxSuppression) }

func rdNMSInfer(ic *InferContext) ([]graph.Type, error) {
	return []graph.Type{graph.TensorType(tensor.Int64, -1, 3)}, nil
}

func rdNMSKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	bx, sc := rdGet(in, 0), rdGet(in, 1)
	if bx == nil || sc == nil {
		return nil, Errorf(n, "needs inputs boxes and scores")
	}
	bs, ss := bx.Shape(), sc.Shape()
	if len(bs) != 3 || bs[2] != 4 || len(ss) != 3 || ss[0] != bs[0] || ss[2] != bs[1] {
		return nil, Errorf(n, "boxes %v and scores %v must be [B, N, 4] and [B, C, N]", bs, ss)
	}
	B, N, C := bs[0], bs[1], ss[1]
	var maxOut int64
	if t := rdGet(in, 2); t != nil && t.Len() > 0 {
		maxOut = t.Int64s()[0]
	}
	var iouTh float64
	if t := rdGet(in, 3); t != nil && t.Len() > 0 {
		iouTh = t.Float64s()[0]
	}
	scoreTh := math.Inf(-1)
	hasScoreTh := false
	if t := rdGet(in, 4); t != nil && t.Len() > 0 {
		scoreTh = t.Float64s()[0]
		hasScoreTh = true
	}
	center := n.Attrs.Int("center_point_box", 0) != 0
	b, s := bx.Float64s(), sc.Float64s()
	// Normalise boxes to (ymin, xmin, ymax, xmax).
	nb := make([]float64, len(b))
	for i := 0; i < B*N; i++ {
		v := b[4*i : 4*i+4]
		if center {
			xc, yc, w, h := v[0], v[1], v[2], v[3]
			nb[4*i], nb[4*i+1], nb[4*i+2], nb[4*i+3] = yc-h/2, xc-w/2, yc+h/2, xc+w/2
		} else {
			nb[4*i], nb[4*i+1] = math.Min(v[0], v[2]), math.Min(v[1], v[3])
			nb[4*i+2], nb[4*i+3] = math.Max(v[0], v[2]), math.Max(v[1], v[3])
		}
	}
	iou := func(p, q []float64) float64 {
		ap := (p[2] - p[0]) * (p[3] - p[1])
		aq := (q[2] - q[0]) * (q[3] - q[1])
		if ap <= 0 || aq <= 0 {
			return 0
		}
		ih := math.Min(p[2], q[2]) - math.Max(p[0], q[0])
		iw := math.Min(p[3], q[3]) - math.Max(p[1], q[1])
		if ih <= 0 || iw <= 0 {
			return 0
		}
		inter := ih * iw
		return inter / (ap + aq - inter)
	}
	var sel []int64
	cand := make([]int, 0, N)
	for bi := 0; bi < B; bi++ {
		for c := 0; c < C; c++ {
			if maxOut <= 0 {
				continue
			}
			row := s[(bi*C+c)*N : (bi*C+c+1)*N]
			cand = cand[:0]
			for i, v := range row {
				if !hasScoreTh || v > scoreTh {
					cand = append(cand, i)
				}
			}
			sort.SliceStable(cand, func(x, y int) bool { return row[cand[x]] > row[cand[y]] })
			var kept []int
			for _, i := range cand {
				if int64(len(kept)) >= maxOut {
					break
				}
				bi4 := nb[4*(bi*N+i) : 4*(bi*N+i)+4]
				ok := true
				for _, j := range kept {
					if iou(bi4, nb[4*(bi*N+j):4*(bi*N+j)+4]) > iouTh {
						ok = false
						break
					}
				}
				if ok {
					kept = append(kept, i)
					sel = append(sel, int64(bi), int64(c), int64(i))
				}
			}
		}
	}
	return []*tensor.Tensor{tensor.FromInt64s(tensor.Shape{len(sel) / 3, 3}, sel)}, nil
}
