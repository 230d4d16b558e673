// Package onnx reads ONNX models into kiln's op graph (and, later, writes
// them back). Each ONNX operator is read through an OpMapping that states
// which opset versions it implements; older forms are rewritten into the
// newest ONNX semantics, which is what kiln's ops implement.
package onnx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"google.golang.org/protobuf/proto"
)

// Model is an imported ONNX model: the graph plus file metadata.
type Model struct {
	Graph           *graph.Graph
	IRVersion       int64
	Opsets          map[string]int // by domain; "" is ai.onnx
	ProducerName    string
	ProducerVersion string
	Metadata        map[string]string
	// Unsupported describes the nodes kiln cannot run; it is only filled
	// when the model was loaded with Options.AllowUnsupported.
	Unsupported []string
}

// Options change how a model is read.
type Options struct {
	// AllowUnsupported keeps nodes whose operators kiln does not implement
	// (as written in the file) instead of failing; for inspection tools.
	AllowUnsupported bool
}

// MaxModelBytes bounds the size of a model file read into memory (2 GiB,
// protobuf's own limit for one message).
const MaxModelBytes = 2 << 30

// Load reads an .onnx file. External tensor data is read from files beside it.
func Load(path string) (*Model, error) { return LoadWith(path, Options{}) }

// LoadWith is Load with options.
func LoadWith(path string, opts Options) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if st.Size() > MaxModelBytes {
		return nil, fmt.Errorf("onnx: %s: %d bytes is over the 2 GiB protobuf limit", path, st.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return DecodeWith(data, path, filepath.Dir(path), opts)
}

// Decode reads a serialized ModelProto. name is used in errors; baseDir is
// where external data lives ("" forbids it).
func Decode(data []byte, name, baseDir string) (*Model, error) {
	return DecodeWith(data, name, baseDir, Options{})
}

// DecodeWith is Decode with options.
func DecodeWith(data []byte, name, baseDir string, opts Options) (*Model, error) {
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("onnx: %s: not a valid ONNX model (protobuf decode failed: %v)", name, err)
	}
	if mp.GetGraph() == nil {
		return nil, fmt.Errorf("onnx: %s: the model has no graph; is this an ONNX model file?", name)
	}
	m := &Model{
		IRVersion:       mp.GetIrVersion(),
		Opsets:          opsetMap(mp.GetOpsetImport()),
		ProducerName:    mp.GetProducerName(),
		ProducerVersion: mp.GetProducerVersion(),
		Metadata:        map[string]string{},
	}
	if len(mp.GetOpsetImport()) == 0 {
		m.Opsets[""] = 1 // IR version 2 and older models carry no opset import.
	}
	for _, kv := range mp.GetMetadataProps() {
		m.Metadata[kv.GetKey()] = kv.GetValue()
	}
	im := &importer{
		file:    name,
		baseDir: baseDir,
		funcs:   map[string]*onnxpb.FunctionProto{},
		seq:     new(int),
		keep:    opts.AllowUnsupported,
	}
	for _, f := range mp.GetFunctions() {
		im.funcs[mapKey(normDomain(f.GetDomain()), f.GetName())] = f
	}
	g, err := im.graph(mp.GetGraph(), m.Opsets, true)
	if err != nil {
		return nil, err
	}
	if len(im.unsupported) > 0 {
		if !opts.AllowUnsupported {
			return nil, im.unsupportedError()
		}
		for _, u := range im.unsupported {
			m.Unsupported = append(m.Unsupported, u.String())
		}
	}
	if len(im.errs) > 0 {
		return nil, fmt.Errorf("onnx: %s: %w", name, im.errs[0])
	}
	g.Opsets = m.Opsets
	g.Doc = mp.GetDocString()
	if err := g.Validate(nil); err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", name, err)
	}
	m.Graph = g
	return m, nil
}

func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

func opsetMap(ids []*onnxpb.OperatorSetIdProto) map[string]int {
	m := map[string]int{}
	for _, o := range ids {
		m[normDomain(o.GetDomain())] = int(o.GetVersion())
	}
	return m
}

type unsupportedNode struct {
	name, op string
	opset    int
	why      string
}

type importer struct {
	file        string
	baseDir     string
	funcs       map[string]*onnxpb.FunctionProto
	seq         *int
	unsupported []unsupportedNode
	errs        []error
	depth       int
	keep        bool
}

func (u unsupportedNode) String() string {
	s := fmt.Sprintf("%q (%s, opset %d)", u.name, u.op, u.opset)
	if u.why != "" {
		s += ": " + u.why
	}
	return s
}

func (im *importer) unsupportedError() error {
	var parts []string
	for i, u := range im.unsupported {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("and %d more", len(im.unsupported)-i))
			break
		}
		parts = append(parts, u.String())
	}
	noun := "nodes use"
	if len(im.unsupported) == 1 {
		noun = "node uses"
	}
	return fmt.Errorf("onnx: %s: %d %s unsupported operators: %s: %w", im.file, len(im.unsupported), noun, strings.Join(parts, ", "), ErrUnsupported)
}

// graph converts a GraphProto. top marks the main graph, whose inputs that
// have initializers become params rather than inputs.
func (im *importer) graph(gp *onnxpb.GraphProto, opsets map[string]int, top bool) (*graph.Graph, error) {
	im.depth++
	defer func() { im.depth-- }()
	if im.depth > 64 {
		return nil, fmt.Errorf("onnx: %s: subgraphs nested more than 64 deep", im.file)
	}
	g := &graph.Graph{Name: gp.GetName(), Types: map[string]graph.Type{}}
	inits := map[string]bool{}
	for _, tp := range gp.GetInitializer() {
		t, err := DecodeTensor(tp, im.baseDir)
		if err != nil {
			return nil, fmt.Errorf("onnx: %s: initializer: %w", im.file, err)
		}
		g.Params = append(g.Params, &graph.Param{Name: tp.GetName(), Tensor: t, Trainable: t.DType().IsFloat()})
		inits[tp.GetName()] = true
	}
	for _, sp := range gp.GetSparseInitializer() {
		t, name, err := decodeSparse(sp, im.baseDir)
		if err != nil {
			return nil, fmt.Errorf("onnx: %s: sparse initializer: %w", im.file, err)
		}
		g.Params = append(g.Params, &graph.Param{Name: name, Tensor: t, Trainable: t.DType().IsFloat()})
		inits[name] = true
	}
	for _, vi := range gp.GetInput() {
		if inits[vi.GetName()] {
			continue
		}
		typ, err := decodeType(vi.GetType())
		if err != nil {
			return nil, fmt.Errorf("onnx: %s: graph input %q: %w", im.file, vi.GetName(), err)
		}
		g.Inputs = append(g.Inputs, &graph.Value{Name: vi.GetName(), Type: typ})
	}
	for _, vi := range gp.GetOutput() {
		typ, err := decodeType(vi.GetType())
		if err != nil {
			return nil, fmt.Errorf("onnx: %s: graph output %q: %w", im.file, vi.GetName(), err)
		}
		g.Outputs = append(g.Outputs, &graph.Value{Name: vi.GetName(), Type: typ})
	}
	for _, vi := range gp.GetValueInfo() {
		if typ, err := decodeType(vi.GetType()); err == nil {
			g.Types[vi.GetName()] = typ
		}
	}
	for i, np := range gp.GetNode() {
		if err := im.node(g, np, i, opsets, nil, nil); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// node converts one NodeProto and appends the resulting node(s) to g. In a
// function body, rename maps the body's value names to the caller's and
// callAttrs resolves attribute references.
func (im *importer) node(g *graph.Graph, np *onnxpb.NodeProto, idx int, opsets map[string]int, rename map[string]string, callAttrs map[string]*onnxpb.AttributeProto) error {
	domain := normDomain(np.GetDomain())
	op := np.GetOpType()
	name := np.GetName()
	if name == "" {
		name = fmt.Sprintf("%s_%d", op, idx)
		if rename != nil {
			name = im.fresh(name)
		}
	}
	opset, ok := opsets[domain]
	if !ok && domain == "" {
		opset = 1
		ok = true
	}
	rn := func(s string) string {
		if rename == nil || s == "" {
			return s
		}
		if r, ok := rename[s]; ok {
			return r
		}
		r := im.fresh(s)
		rename[s] = r
		return r
	}
	inputs := make([]string, len(np.GetInput()))
	for i, s := range np.GetInput() {
		inputs[i] = rn(s)
	}
	outputs := make([]string, len(np.GetOutput()))
	for i, s := range np.GetOutput() {
		outputs[i] = rn(s)
	}
	// Attributes (with function attribute references resolved).
	attrProtos := np.GetAttribute()
	if callAttrs != nil {
		var resolved []*onnxpb.AttributeProto
		for _, a := range attrProtos {
			if ref := a.GetRefAttrName(); ref != "" {
				if v, ok := callAttrs[ref]; ok {
					c := proto.Clone(v).(*onnxpb.AttributeProto)
					c.Name = proto.String(a.GetName())
					resolved = append(resolved, c)
				}
				continue
			}
			resolved = append(resolved, a)
		}
		attrProtos = resolved
	}
	// A model-local function: inline its body.
	if f, isFunc := im.funcs[mapKey(domain, op)]; isFunc {
		return im.inline(g, f, name, inputs, outputs, attrProtos, rename)
	}
	if !ok {
		im.unsupported = append(im.unsupported, unsupportedNode{name: name, op: qualified(domain, op), why: fmt.Sprintf("domain %q is not imported by the model", domain)})
		return nil
	}
	attrs := graph.Attrs{}
	for _, a := range attrProtos {
		v, err := im.attr(a, opsets, rename)
		if err != nil {
			im.errs = append(im.errs, fmt.Errorf("node %q (%s, opset %d): attribute %q: %w", name, op, opset, a.GetName(), err))
			return nil
		}
		attrs[a.GetName()] = v
	}
	m, found := lookupMapping(domain, op, opset)
	kop := m.Op
	if kop == "" {
		kop = op
	}
	n := &graph.Node{
		Name: name, Op: kop, Domain: domain, Inputs: inputs, Outputs: outputs, Attrs: attrs,
		Meta: graph.Meta{Source: "onnx", ONNXName: np.GetName(), ONNXOp: op, Opset: opset},
	}
	// Provenance written by Export (a Keras layer converted through kiln).
	for _, kv := range np.GetMetadataProps() {
		switch kv.GetKey() {
		case MetaKerasLayer:
			n.Meta.KerasLayer = kv.GetValue()
		case MetaKerasClass:
			n.Meta.KerasClass = kv.GetValue()
		}
	}
	if !found || ops.Lookup(domain, kop) == nil {
		im.unsupported = append(im.unsupported, unsupportedNode{name: name, op: qualified(domain, op), opset: opset})
		if im.keep {
			g.Nodes = append(g.Nodes, n)
		}
		return nil
	}
	if m.Convert != nil {
		c := &Converter{Opset: opset, g: g, seq: im.seq}
		if err := m.Convert(c, n); err != nil {
			if isUnsupported(err) {
				im.unsupported = append(im.unsupported, unsupportedNode{name: name, op: qualified(domain, op), opset: opset, why: err.Error()})
				return nil
			}
			im.errs = append(im.errs, fmt.Errorf("node %q (%s, opset %d): %w", name, op, opset, err))
			return nil
		}
		g.Nodes = append(g.Nodes, c.pre...)
	}
	g.Nodes = append(g.Nodes, n)
	return nil
}

func isUnsupported(err error) bool {
	return err != nil && strings.Contains(err.Error(), ErrUnsupported.Error()) && errorsIs(err)
}

func qualified(domain, op string) string {
	if domain == "" {
		return op
	}
	return domain + ":" + op
}

func (im *importer) fresh(s string) string {
	*im.seq++
	return fmt.Sprintf("%s__f%d", s, *im.seq)
}

// inline expands a call of a model-local function into its body nodes.
func (im *importer) inline(g *graph.Graph, f *onnxpb.FunctionProto, name string, inputs, outputs []string, attrs []*onnxpb.AttributeProto, outer map[string]string) error {
	im.depth++
	defer func() { im.depth-- }()
	if im.depth > 64 {
		return fmt.Errorf("onnx: %s: function %q calls itself or nests more than 64 deep", im.file, f.GetName())
	}
	rename := map[string]string{}
	for i, formal := range f.GetInput() {
		actual := ""
		if i < len(inputs) {
			actual = inputs[i]
		}
		rename[formal] = actual
	}
	for i, formal := range f.GetOutput() {
		if i < len(outputs) && outputs[i] != "" {
			rename[formal] = outputs[i]
		}
	}
	callAttrs := map[string]*onnxpb.AttributeProto{}
	for _, a := range f.GetAttributeProto() { // defaults
		callAttrs[a.GetName()] = a
	}
	for _, a := range attrs {
		callAttrs[a.GetName()] = a
	}
	fops := opsetMap(f.GetOpsetImport())
	for i, np := range f.GetNode() {
		if err := im.node(g, np, i, fops, rename, callAttrs); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) attr(a *onnxpb.AttributeProto, opsets map[string]int, rename map[string]string) (any, error) {
	typ := a.GetType()
	if typ == onnxpb.AttributeProto_UNDEFINED {
		typ = guessAttrType(a)
	}
	switch typ {
	case onnxpb.AttributeProto_FLOAT:
		return a.GetF(), nil
	case onnxpb.AttributeProto_INT:
		return a.GetI(), nil
	case onnxpb.AttributeProto_STRING:
		return string(a.GetS()), nil
	case onnxpb.AttributeProto_FLOATS:
		return append([]float32{}, a.GetFloats()...), nil
	case onnxpb.AttributeProto_INTS:
		return append([]int64{}, a.GetInts()...), nil
	case onnxpb.AttributeProto_STRINGS:
		ss := make([]string, len(a.GetStrings()))
		for i, b := range a.GetStrings() {
			ss[i] = string(b)
		}
		return ss, nil
	case onnxpb.AttributeProto_TENSOR:
		return DecodeTensor(a.GetT(), im.baseDir)
	case onnxpb.AttributeProto_TENSORS:
		var ts []*tensor.Tensor
		for _, tp := range a.GetTensors() {
			t, err := DecodeTensor(tp, im.baseDir)
			if err != nil {
				return nil, err
			}
			ts = append(ts, t)
		}
		return ts, nil
	case onnxpb.AttributeProto_SPARSE_TENSOR:
		t, _, err := decodeSparse(a.GetSparseTensor(), im.baseDir)
		return t, err
	case onnxpb.AttributeProto_GRAPH:
		return im.subgraph(a.GetG(), opsets, rename)
	case onnxpb.AttributeProto_GRAPHS:
		var gs []*graph.Graph
		for _, gp := range a.GetGraphs() {
			sg, err := im.subgraph(gp, opsets, rename)
			if err != nil {
				return nil, err
			}
			gs = append(gs, sg)
		}
		return gs, nil
	case onnxpb.AttributeProto_TYPE_PROTO:
		return decodeType(a.GetTp())
	case onnxpb.AttributeProto_TYPE_PROTOS:
		var ts []graph.Type
		for _, tp := range a.GetTypeProtos() {
			t, err := decodeType(tp)
			if err != nil {
				return nil, err
			}
			ts = append(ts, t)
		}
		return ts, nil
	}
	return nil, fmt.Errorf("attribute type %v: %w", typ, ErrUnsupported)
}

// subgraph converts a body graph. Inside an inlined function, names of the
// enclosing scope are renamed as the body's nodes are.
func (im *importer) subgraph(gp *onnxpb.GraphProto, opsets map[string]int, rename map[string]string) (*graph.Graph, error) {
	sg, err := im.graph(gp, opsets, false)
	if err != nil {
		return nil, err
	}
	if rename != nil {
		renameOuter(sg, rename)
	}
	return sg, nil
}

// renameOuter rewrites references to enclosing-scope values in sg (and its
// own subgraphs) that an inlined function body renamed.
func renameOuter(sg *graph.Graph, rename map[string]string) {
	local := map[string]bool{}
	for _, v := range sg.Inputs {
		local[v.Name] = true
	}
	for _, p := range sg.Params {
		local[p.Name] = true
	}
	for _, n := range sg.Nodes {
		for i, in := range n.Inputs {
			if r, ok := rename[in]; ok && !local[in] {
				n.Inputs[i] = r
			}
		}
		for _, o := range n.Outputs {
			local[o] = true
		}
		for _, s := range n.Subgraphs() {
			renameOuter(s, rename)
		}
	}
	for _, o := range sg.Outputs {
		if r, ok := rename[o.Name]; ok && !local[o.Name] {
			o.Name = r
		}
	}
}

func guessAttrType(a *onnxpb.AttributeProto) onnxpb.AttributeProto_AttributeType {
	switch {
	case a.F != nil:
		return onnxpb.AttributeProto_FLOAT
	case a.I != nil:
		return onnxpb.AttributeProto_INT
	case a.S != nil:
		return onnxpb.AttributeProto_STRING
	case a.T != nil:
		return onnxpb.AttributeProto_TENSOR
	case a.G != nil:
		return onnxpb.AttributeProto_GRAPH
	case len(a.Floats) > 0:
		return onnxpb.AttributeProto_FLOATS
	case len(a.Ints) > 0:
		return onnxpb.AttributeProto_INTS
	case len(a.Strings) > 0:
		return onnxpb.AttributeProto_STRINGS
	case len(a.Tensors) > 0:
		return onnxpb.AttributeProto_TENSORS
	case len(a.Graphs) > 0:
		return onnxpb.AttributeProto_GRAPHS
	}
	return onnxpb.AttributeProto_UNDEFINED
}

// decodeType converts a TypeProto. A missing type gives an unranked
// undefined tensor (allowed for subgraph values).
func decodeType(tp *onnxpb.TypeProto) (graph.Type, error) {
	if tp == nil {
		return graph.Type{Kind: graph.KindTensor, Unranked: true}, nil
	}
	switch {
	case tp.GetTensorType() != nil:
		return tensorType(tp.GetTensorType().GetElemType(), tp.GetTensorType().GetShape()), nil
	case tp.GetSparseTensorType() != nil:
		return tensorType(tp.GetSparseTensorType().GetElemType(), tp.GetSparseTensorType().GetShape()), nil
	case tp.GetSequenceType() != nil:
		e, err := decodeType(tp.GetSequenceType().GetElemType())
		if err != nil {
			return graph.Type{}, err
		}
		return graph.Type{Kind: graph.KindSequence, DType: e.DType, Elem: &e}, nil
	case tp.GetOptionalType() != nil:
		e, err := decodeType(tp.GetOptionalType().GetElemType())
		if err != nil {
			return graph.Type{}, err
		}
		return graph.Type{Kind: graph.KindOptional, DType: e.DType, Elem: &e}, nil
	case tp.GetMapType() != nil:
		return graph.Type{}, fmt.Errorf("map types: %w", ErrUnsupported)
	}
	return graph.Type{Kind: graph.KindTensor, Unranked: true}, nil
}

func tensorType(elem int32, sh *onnxpb.TensorShapeProto) graph.Type {
	t := graph.Type{Kind: graph.KindTensor, DType: tensor.DType(elem)}
	if sh == nil {
		t.Unranked = true
		return t
	}
	t.Shape = make([]int, len(sh.GetDim()))
	named := false
	names := make([]string, len(sh.GetDim()))
	for i, d := range sh.GetDim() {
		t.Shape[i] = -1
		if v, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && v.DimValue >= 0 {
			t.Shape[i] = int(v.DimValue)
		}
		if p := d.GetDimParam(); p != "" {
			names[i] = p
			named = true
		}
	}
	if named {
		t.DimNames = names
	}
	return t
}

// decodeSparse densifies a SparseTensorProto (COO indices, either [NNZ, rank]
// or linearized [NNZ]).
func decodeSparse(sp *onnxpb.SparseTensorProto, baseDir string) (*tensor.Tensor, string, error) {
	vals, err := DecodeTensor(sp.GetValues(), baseDir)
	if err != nil {
		return nil, "", err
	}
	name := sp.GetValues().GetName()
	shape := make(tensor.Shape, len(sp.GetDims()))
	for i, d := range sp.GetDims() {
		if d < 0 {
			return nil, "", fmt.Errorf("sparse tensor %q: negative dimension", name)
		}
		shape[i] = int(d)
	}
	dense, err := tensor.NewChecked(vals.DType(), shape)
	if err != nil {
		return nil, "", fmt.Errorf("sparse tensor %q: %v", name, err)
	}
	nnz := vals.Len()
	if nnz == 0 {
		return dense, name, nil
	}
	it, err := DecodeTensor(sp.GetIndices(), baseDir)
	if err != nil {
		return nil, "", err
	}
	idx := it.Int64s()
	strides := shape.Strides()
	flat := make([]int, nnz)
	switch {
	case len(idx) == nnz:
		for i, v := range idx {
			flat[i] = int(v)
		}
	case len(idx) == nnz*len(shape):
		for i := 0; i < nnz; i++ {
			off := 0
			for d := range shape {
				v := int(idx[i*len(shape)+d])
				if v < 0 || v >= shape[d] {
					return nil, "", fmt.Errorf("sparse tensor %q: index %d out of range", name, v)
				}
				off += v * strides[d]
			}
			flat[i] = off
		}
	default:
		return nil, "", fmt.Errorf("sparse tensor %q: %d indices for %d values", name, len(idx), nnz)
	}
	size := shape.Size()
	for i, f := range flat {
		if f < 0 || f >= size {
			return nil, "", fmt.Errorf("sparse tensor %q: index %d out of range", name, f)
		}
		setElem(dense, f, vals, i)
	}
	return dense, name, nil
}

// setElem copies src[j] into dst[i] (same dtype).
func setElem(dst *tensor.Tensor, i int, src *tensor.Tensor, j int) {
	switch d := dst.Data().(type) {
	case []float32:
		d[i] = src.F32()[j]
	case []float64:
		d[i] = src.F64()[j]
	case []int64:
		d[i] = src.I64()[j]
	case []int32:
		d[i] = src.I32()[j]
	case []string:
		d[i] = src.Strings()[j]
	case []bool:
		d[i] = src.Bools()[j]
	default:
		// Remaining types: go through float64, exact for types of 32 bits or less.
		v := src.At(j)
		tmp := tensor.FromFloat64s(dst.DType(), tensor.Shape{1}, []float64{v})
		switch dd := d.(type) {
		case []tensor.Half:
			dd[i] = tmp.Data().([]tensor.Half)[0]
		case []tensor.BHalf:
			dd[i] = tmp.Data().([]tensor.BHalf)[0]
		case []int8:
			dd[i] = tmp.Data().([]int8)[0]
		case []int16:
			dd[i] = tmp.Data().([]int16)[0]
		case []uint8:
			dd[i] = tmp.Data().([]uint8)[0]
		case []uint16:
			dd[i] = tmp.Data().([]uint16)[0]
		case []uint32:
			dd[i] = tmp.Data().([]uint32)[0]
		case []uint64:
			dd[i] = src.Data().([]uint64)[j]
		}
	}
}
