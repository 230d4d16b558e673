package ops

import (
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// TfIdfVectorizer counts the n-grams of a pool in every row of a token
// tensor (ONNX TfIdfVectorizer-9). X is [C] or [N, C] of int32, int64 or
// string tokens. The pool (pool_int64s or pool_strings) lists the n-grams
// grouped by length: ngram_counts[i] is where the (i+1)-grams start.
// ngram_indexes gives each pool n-gram's output column. An n-gram of length
// n in [min_gram_length, max_gram_length] is n tokens taken every skip+1
// positions for skip in [0, max_skip_count]; unigrams are counted once.
// mode "TF" outputs counts, "IDF" weights (default 1) of the n-grams seen,
// "TFIDF" counts times weights. Output: float32 [max(ngram_indexes)+1] or
// [N, max(ngram_indexes)+1].
var TfIdfVectorizer = &Def{
	Name: "TfIdfVectorizer",
	Infer: func(ic *InferContext) ([]graph.Type, error) {
		c := -1
		if idx := ic.Node.Attrs.Ints("ngram_indexes"); len(idx) > 0 {
			for _, v := range idx {
				c = max(c, int(v)+1)
			}
		}
		if len(ic.In) < 1 || ic.In[0].Unranked {
			return miTypes(graph.UnrankedType(tensor.Float32)), nil
		}
		if len(ic.In[0].Shape) == 2 {
			return miTypes(graph.TensorType(tensor.Float32, ic.In[0].Shape[0], c)), nil
		}
		return miTypes(graph.TensorType(tensor.Float32, c)), nil
	},
	Kernel: miTfIdf,
}

func miTfIdf(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, Errorf(n, "needs input X")
	}
	x := in[0]
	var toks []string
	switch x.DType() {
	case tensor.String:
		toks = x.Strings()
	case tensor.Int32, tensor.Int64:
		for _, v := range x.Int64s() {
			toks = append(toks, strconv.FormatInt(v, 10))
		}
	default:
		return nil, Errorf(n, "X must be int32, int64 or string, got %v", x.DType())
	}
	s := x.Shape()
	rows, cols := 1, 0
	switch len(s) {
	case 1:
		cols = s[0]
	case 2:
		rows, cols = s[0], s[1]
	default:
		return nil, Errorf(n, "X must be [C] or [N, C], got %v", s)
	}
	a := n.Attrs
	minN, maxN := int(a.Int("min_gram_length", 0)), int(a.Int("max_gram_length", 0))
	maxSkip := int(a.Int("max_skip_count", 0))
	if minN < 1 || maxN < minN || maxSkip < 0 {
		return nil, Errorf(n, "need 1 <= min_gram_length <= max_gram_length and max_skip_count >= 0")
	}
	var pool []string
	if p := a.Strings("pool_strings"); p != nil {
		pool = p
	} else {
		for _, v := range a.Ints("pool_int64s") {
			pool = append(pool, strconv.FormatInt(v, 10))
		}
	}
	counts := a.Ints("ngram_counts")
	indexes := a.Ints("ngram_indexes")
	weights := a.Floats("weights")
	mode := a.String("mode", "")
	if mode != "TF" && mode != "IDF" && mode != "TFIDF" {
		return nil, Errorf(n, "mode %q is not TF, IDF or TFIDF", mode)
	}
	// Map each pool n-gram (tokens joined by NUL) to its position k.
	ngrams := map[string]int{}
	k := 0
	for i, start := range counts {
		end := int64(len(pool))
		if i+1 < len(counts) {
			end = counts[i+1]
		}
		size := int64(i + 1)
		if start < 0 || end > int64(len(pool)) || start > end || (end-start)%size != 0 {
			return nil, Errorf(n, "ngram_counts %v do not split a pool of %d items into %d-grams", counts, len(pool), size)
		}
		for p := start; p < end; p += size {
			ngrams[strings.Join(pool[p:p+size], "\x00")] = k
			k++
		}
	}
	if len(indexes) != k {
		return nil, Errorf(n, "ngram_indexes has %d entries for %d pool n-grams", len(indexes), k)
	}
	if weights != nil && len(weights) != k {
		return nil, Errorf(n, "weights has %d entries for %d pool n-grams", len(weights), k)
	}
	width := 0
	for _, v := range indexes {
		if v < 0 {
			return nil, Errorf(n, "ngram_indexes must be non-negative")
		}
		width = max(width, int(v)+1)
	}
	out := make([]float32, rows*width)
	cnt := make([]int, k)
	for r := range rows {
		clear(cnt)
		row := toks[r*cols : (r+1)*cols]
		for st := range row {
			for skip := 0; skip <= maxSkip; skip++ {
				for size := minN; size <= maxN; size++ {
					if size == 1 && skip > 0 {
						continue
					}
					last := st + (size-1)*(skip+1)
					if last >= len(row) {
						break
					}
					parts := make([]string, size)
					for j := range size {
						parts[j] = row[st+j*(skip+1)]
					}
					if id, ok := ngrams[strings.Join(parts, "\x00")]; ok {
						cnt[id]++
					}
				}
			}
		}
		for id, c := range cnt {
			if c == 0 {
				continue
			}
			w := float32(1)
			if weights != nil {
				w = weights[id]
			}
			v := float32(c)
			switch mode {
			case "IDF":
				v = w
			case "TFIDF":
				v *= w
			}
			out[r*width+int(indexes[id])] += v
		}
	}
	shape := tensor.Shape{width}
	if len(s) == 2 {
		shape = tensor.Shape{rows, width}
	}
	return []*tensor.Tensor{tensor.From(shape, out)}, nil
}

func init() { Register(TfIdfVectorizer) }
