package onnx

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/kiln-ml/kiln/formats/onnx/onnxpb"
	"github.com/kiln-ml/kiln/ops"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"google.golang.org/protobuf/proto"
)

// MinExportOpset is the lowest ai.onnx opset Export writes. Opset 13 moved
// the axes of Squeeze, Unsqueeze, ReduceSum and Split's sizes to inputs, as
// kiln's ops have them, and is read by every current runtime.
const MinExportOpset = 13

// ExportOptions change how a graph is written.
type ExportOptions struct {
	// Opset forces the ai.onnx opset version. 0 picks the lowest opset (at
	// least MinExportOpset) that expresses every node.
	Opset int
	// ProducerName and ProducerVersion go into the model; "kiln" when empty.
	ProducerName, ProducerVersion string
	// Doc is the model's doc_string; the graph's Doc when empty.
	Doc string
	// Metadata is written as the model's metadata_props.
	Metadata map[string]string
}

// Save exports g and writes the model to path.
func Save(path string, g *graph.Graph, opts ExportOptions) error {
	mp, err := Export(g, opts)
	if err != nil {
		return err
	}
	return SaveModel(path, mp)
}

// SaveModel writes an exported model to path.
func SaveModel(path string, mp *onnxpb.ModelProto) error {
	data, err := proto.Marshal(mp)
	if err != nil {
		return fmt.Errorf("onnx: encoding %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	return nil
}

// Export converts a graph into an ONNX model. kiln's ops follow the newest
// ONNX definition of each op; Export writes every node in a form valid at
// one ai.onnx opset, the lowest (at least MinExportOpset) at which each node
// is valid as written or after one of the rewrites its ExportRule offers
// (axes inputs back to attributes, activations added in later opsets
// expanded into their formulas, ...). kiln-private ops and attributes are
// rewritten into standard ONNX, or the export fails with an error naming the
// node. Params become initializers (raw_data); inputs and outputs keep their
// names, element types and shapes (named dimensions as dim_param);
// subgraphs are written recursively; each node's provenance (source format,
// Keras layer and class) goes into its doc_string and metadata_props.
//
// g is not modified. Errors wrap ErrUnsupported when a node has no ONNX form
// at the requested opset.
func Export(g *graph.Graph, opts ExportOptions) (*onnxpb.ModelProto, error) {
	if g == nil {
		return nil, fmt.Errorf("onnx: export: nil graph")
	}
	if err := g.Validate(nil); err != nil {
		return nil, fmt.Errorf("onnx: export: %w", err)
	}
	e := &exporter{names: map[string]bool{}, srcOpsets: g.Opsets}
	cg := cloneGraph(g)
	collectNames(cg, e.names)

	// 1. kiln-private forms become standard ONNX.
	if err := e.rewriteAll(cg, nil, func(c *ExportContext, r *ExportRule, n *graph.Node) ([]*graph.Node, error) {
		if r == nil || r.Standardize == nil {
			return nil, nil
		}
		return r.Standardize(c, n)
	}); err != nil {
		return nil, err
	}

	// 2. The opset: the lowest that every node can be written at.
	opset := opts.Opset
	need := MinExportOpset
	var blocker *graph.Node
	if err := e.rewriteAll(cg, nil, func(c *ExportContext, r *ExportRule, n *graph.Node) ([]*graph.Node, error) {
		if r == nil || normDomain(n.Domain) != "" {
			return nil, nil
		}
		if lo := r.lowest(c, n); lo > need {
			need, blocker = lo, n
		}
		return nil, nil
	}); err != nil {
		return nil, err
	}
	if opset == 0 {
		opset = need
	} else if opset < MinExportOpset {
		return nil, fmt.Errorf("onnx: export: opset %d requested; kiln writes opset %d and later: %w", opset, MinExportOpset, ErrUnsupported)
	} else if opset < need {
		return nil, fmt.Errorf("onnx: export: node %s needs opset %d, above the requested opset %d: %w", blocker.Describe(), need, opset, ErrUnsupported)
	}
	e.opset = opset

	// 3. Nodes whose form is newer than the opset are rewritten.
	if err := e.rewriteAll(cg, nil, func(c *ExportContext, r *ExportRule, n *graph.Node) ([]*graph.Node, error) {
		if r == nil || normDomain(n.Domain) != "" {
			return nil, nil
		}
		if r.needs(c, n) <= opset {
			r.dropDefaults(n, opset)
			return nil, nil
		}
		if r.Down == nil {
			return nil, fmt.Errorf("onnx: export: node %s needs opset %d: %w", n.Describe(), r.needs(c, n), ErrUnsupported)
		}
		out, err := r.Down(c, n, opset)
		if err != nil {
			return nil, fmt.Errorf("onnx: export: node %s at opset %d: %w", n.Describe(), opset, err)
		}
		return out, nil
	}); err != nil {
		return nil, err
	}

	// 4. Write.
	domains := map[string]int{"": opset}
	var werr error
	cg.Walk(func(_ *graph.Graph, n *graph.Node) {
		d := normDomain(n.Domain)
		if d == "kiln" && werr == nil {
			werr = fmt.Errorf("onnx: export: node %s: kiln's private op %s has no ONNX form: %w", n.Describe(), n.Op, ErrUnsupported)
		}
		for k := range n.Attrs {
			if derivedAttrs[k] {
				delete(n.Attrs, k) // recomputed by the importer
				continue
			}
			if strings.HasPrefix(k, "kiln_") && werr == nil {
				werr = fmt.Errorf("onnx: export: node %s: kiln's private attribute %q has no ONNX form: %w", n.Describe(), k, ErrUnsupported)
			}
		}
		if d == "" {
			return
		}
		v := g.Opsets[d]
		if r, err := e.rule(n); err == nil {
			v = max(v, r.since())
		}
		domains[d] = max(domains[d], v, 1)
	})
	if werr != nil {
		return nil, werr
	}
	gp, err := e.writeGraph(cg)
	if err != nil {
		return nil, err
	}
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(irVersion(domains)),
		ProducerName:    proto.String(orDefault(opts.ProducerName, "kiln")),
		ProducerVersion: proto.String(opts.ProducerVersion),
		Graph:           gp,
	}
	if doc := orDefault(opts.Doc, g.Doc); doc != "" {
		mp.DocString = proto.String(doc)
	}
	for _, d := range sortedDomains(domains) {
		mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(int64(domains[d]))})
	}
	keys := make([]string, 0, len(opts.Metadata))
	for k := range opts.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(opts.Metadata[k])})
	}
	return mp, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func sortedDomains(m map[string]int) []string {
	ds := make([]string, 0, len(m))
	for d := range m {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	return ds
}

// irVersion is the lowest IR version that carries the opsets (ONNX's
// release table in onnx/helper.py).
func irVersion(domains map[string]int) int64 {
	ir := int64(7)
	op := domains[""]
	for _, row := range [][2]int{{15, 8}, {19, 9}, {21, 10}, {23, 11}, {25, 12}, {27, 13}} {
		if op >= row[0] {
			ir = int64(row[1])
		}
	}
	if ml, ok := domains["ai.onnx.ml"]; ok {
		for _, row := range [][2]int{{3, 8}, {4, 9}, {5, 10}} {
			if ml >= row[0] && int64(row[1]) > ir {
				ir = int64(row[1])
			}
		}
	}
	return ir
}

// ExportRule says how one kiln op is written as ONNX: since which opset
// kiln's form is valid, which attributes and inputs added later raise that,
// and how a node is rewritten for an older opset or out of a kiln-private
// form. Rules live beside their op family (export_*.go); an op without a
// rule is written as is from the opset its importer mapping row starts at.
type ExportRule struct {
	Domain, Op string
	// Since is the first opset at which kiln's form is valid ONNX. 0 takes
	// the MinOpset of the importer's open-ended mapping row for the ONNX op
	// of the same name.
	Since int
	// Features lists attributes and inputs added after Since.
	Features []Feature
	// Types lists element types the op accepts only from a later opset;
	// they cannot be rewritten away.
	Types []TypeFeature
	// Need, when set, returns a further opset n needs as written (for
	// conditions the tables cannot state); Down may remove the need.
	Need func(c *ExportContext, n *graph.Node) int
	// Standardize rewrites kiln-private forms (private attributes, kiln
	// ops) into standard ONNX nodes; it returns the replacement nodes, or
	// nil to keep n as it is.
	Standardize func(c *ExportContext, n *graph.Node) ([]*graph.Node, error)
	// Lowest returns the lowest opset Down can write n for, or 0 when it
	// cannot help with this node.
	Lowest func(c *ExportContext, n *graph.Node) int
	// Down rewrites n for an opset older than it needs; it returns the
	// replacement nodes.
	Down func(c *ExportContext, n *graph.Node, opset int) ([]*graph.Node, error)
}

// Feature is an attribute or input an op gained at opset Since. A node uses
// it when the attribute is set to something other than Default (nil:
// any value counts) or, for Input >= 0 with Attr empty, when that input is
// present. Value, when set, limits the feature to one attribute value (a
// reduction mode added later). Defaults are dropped when writing for an
// older opset.
type Feature struct {
	Attr    string
	Input   int
	Value   any
	Default any
	Since   int
}

// TypeFeature says that input Input (-1: any input) of one of DTypes needs
// opset Since.
type TypeFeature struct {
	Input  int
	DTypes []tensor.DType
	Since  int
}

// TypesSince is a TypeFeature for any input.
func TypesSince(since int, dts ...tensor.DType) TypeFeature {
	return TypeFeature{Input: -1, DTypes: dts, Since: since}
}

// InputFeature is a Feature for input i.
func InputFeature(i, since int) Feature { return Feature{Input: i, Since: since} }

// AttrFeature is a Feature for an attribute with a default value (nil: none).
func AttrFeature(attr string, def any, since int) Feature {
	return Feature{Attr: attr, Input: -1, Default: def, Since: since}
}

func (f Feature) used(n *graph.Node) bool {
	if f.Attr == "" {
		return f.Input >= 0 && n.Input(f.Input) != ""
	}
	v, ok := n.Attrs[f.Attr]
	if !ok {
		return false
	}
	if f.Value != nil {
		return attrEqual(v, f.Value)
	}
	return f.Default == nil || !attrEqual(v, f.Default)
}

func attrEqual(a, b any) bool {
	switch x := a.(type) {
	case []int64:
		y, ok := b.([]int64)
		if !ok {
			if v, ok := b.(int64); ok { // every element equal to a scalar
				for _, e := range x {
					if e != v {
						return false
					}
				}
				return true
			}
			return false
		}
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	case []float32, []string:
		return fmt.Sprint(a) == fmt.Sprint(b)
	}
	return a == b
}

var (
	exportMu    sync.RWMutex
	exportRules = map[string]*ExportRule{}
)

// RegisterExport adds an export rule; a second rule for the same op panics.
func RegisterExport(r ExportRule) {
	exportMu.Lock()
	defer exportMu.Unlock()
	k := mapKey(r.Domain, r.Op)
	if _, dup := exportRules[k]; dup {
		panic(fmt.Sprintf("onnx: two export rules for %s", r.Op))
	}
	exportRules[k] = &r
}

// since is the opset from which kiln's form is valid as written.
func (r *ExportRule) since() int {
	if r.Since > 0 {
		return r.Since
	}
	return derivedSince(r.Domain, r.Op)
}

// derivedSince reads the importer's mapping rows for the ONNX op named op:
// the open-ended row is the one whose form kiln's op has.
func derivedSince(domain, op string) int {
	mapMu.RLock()
	defer mapMu.RUnlock()
	since := 0
	for _, m := range mappings[mapKey(domain, op)] {
		if (m.Op == "" || m.Op == op) && m.MaxOpset == 0 {
			since = m.MinOpset
		}
	}
	return since
}

// needs is the opset n needs as written.
func (r *ExportRule) needs(c *ExportContext, n *graph.Node) int {
	v := r.since()
	for _, f := range r.Features {
		if f.Since > v && f.used(n) {
			v = f.Since
		}
	}
	if r.Need != nil {
		v = max(v, r.Need(c, n))
	}
	return max(v, r.typeNeeds(c, n))
}

// typeNeeds is the opset n's element types need, which no rewrite
// changes.
func (r *ExportRule) typeNeeds(c *ExportContext, n *graph.Node) int {
	v := lowBitNeeds(c, n)
	for _, f := range r.Types {
		for i, in := range n.Inputs {
			if in == "" || (f.Input >= 0 && f.Input != i) {
				continue
			}
			t, ok := c.Type(in)
			if !ok {
				continue
			}
			for _, dt := range f.DTypes {
				if t.DType == dt && f.Since > v {
					v = f.Since
				}
			}
		}
	}
	return v
}

// dtypeSince is the opset that introduced each low-precision element type;
// any node that reads, writes or casts to one needs it.
var dtypeSince = map[tensor.DType]int{
	tensor.Float8E4M3FN: 19, tensor.Float8E4M3FNUZ: 19, tensor.Float8E5M2: 19, tensor.Float8E5M2FNUZ: 19,
	tensor.Uint4: 21, tensor.Int4: 21, tensor.Float4E2M1: 23, tensor.Float8E8M0: 24,
	tensor.Uint2: 25, tensor.Int2: 25,
}

func lowBitNeeds(c *ExportContext, n *graph.Node) int {
	v := 0
	for _, names := range [][]string{n.Inputs, n.Outputs} {
		for _, name := range names {
			if t, ok := c.Type(name); ok && name != "" {
				v = max(v, dtypeSince[t.DType])
			}
		}
	}
	for _, a := range []string{"to", "output_dtype", "dtype"} {
		if dt, ok := n.Attrs[a].(int64); ok {
			v = max(v, dtypeSince[tensor.DType(dt)])
		}
	}
	return v
}

// lowest is the lowest opset n can be written at.
func (r *ExportRule) lowest(c *ExportContext, n *graph.Node) int {
	v := r.needs(c, n)
	if r.Down != nil && r.Lowest != nil {
		if lo := r.Lowest(c, n); lo > 0 && lo < v {
			v = max(lo, r.typeNeeds(c, n))
		}
	}
	return v
}

// dropDefaults removes attributes newer than opset that hold their default.
func (r *ExportRule) dropDefaults(n *graph.Node, opset int) {
	for _, f := range r.Features {
		if f.Since > opset && f.Attr != "" && f.Default != nil && n.Attrs.Has(f.Attr) && attrEqual(n.Attrs[f.Attr], f.Default) {
			delete(n.Attrs, f.Attr)
		}
	}
}

// rule returns n's export rule, a default one for mapped ops without a
// rule, or an error naming the node when its op has no ONNX form.
func (e *exporter) rule(n *graph.Node) (*ExportRule, error) {
	exportMu.RLock()
	r, ok := exportRules[mapKey(n.Domain, n.Op)]
	exportMu.RUnlock()
	if ok {
		return r, nil
	}
	d := normDomain(n.Domain)
	if s := derivedSince(d, n.Op); s > 0 {
		return &ExportRule{Domain: d, Op: n.Op, Since: s}, nil
	}
	if d == "kiln" {
		return nil, fmt.Errorf("onnx: export: node %s: kiln's private op %s has no ONNX form: %w", n.Describe(), n.Op, ErrUnsupported)
	}
	return nil, fmt.Errorf("onnx: export: node %s: op %s has no ONNX mapping: %w", n.Describe(), qualified(d, n.Op), ErrUnsupported)
}

// ExportContext is what an ExportRule's functions use: the types and
// constant values known for the graph being written, and helpers to add
// nodes and constants.
type ExportContext struct {
	// Opset is the ai.onnx opset being written (0 while standardizing and
	// choosing it).
	Opset int
	e     *exporter
	g     *graph.Graph
	n     *graph.Node
	types map[string]graph.Type
	cst   map[string]*tensor.Tensor
}

// Type returns the static type of a value, when known.
func (c *ExportContext) Type(name string) (graph.Type, bool) {
	t, ok := c.types[name]
	return t, ok
}

// Rank returns a value's rank, or -1 when unknown.
func (c *ExportContext) Rank(name string) int {
	t, ok := c.types[name]
	if !ok || t.Kind != graph.KindTensor || t.Unranked {
		return -1
	}
	return len(t.Shape)
}

// ConstValue returns a value's compile-time value (a param or a Constant
// node's output), or nil.
func (c *ExportContext) ConstValue(name string) *tensor.Tensor {
	if name == "" {
		return nil
	}
	return c.cst[name]
}

// Fresh returns a value name not used anywhere in the model.
func (c *ExportContext) Fresh(hint string) string {
	for {
		c.e.seq++
		s := fmt.Sprintf("%s/%s_%d", c.n.Name, hint, c.e.seq)
		if !c.e.names[s] {
			c.e.names[s] = true
			return s
		}
	}
}

// Const adds an initializer holding t and returns its name.
func (c *ExportContext) Const(hint string, t *tensor.Tensor) string {
	name := c.Fresh(hint)
	c.g.Params = append(c.g.Params, &graph.Param{Name: name, Tensor: t})
	c.cst[name] = t
	return name
}

// Ints adds a 1-D int64 initializer.
func (c *ExportContext) Ints(hint string, v ...int64) string {
	return c.Const(hint, tensor.FromInt64s(tensor.Shape{len(v)}, v))
}

// Node makes a node with the provenance of the node being rewritten. An
// empty outputs list gets one fresh output.
func (c *ExportContext) Node(op string, attrs graph.Attrs, inputs []string, outputs ...string) *graph.Node {
	if attrs == nil {
		attrs = graph.Attrs{}
	}
	if len(outputs) == 0 {
		outputs = []string{c.Fresh(strings.ToLower(op))}
	}
	m := c.n.Meta
	return &graph.Node{Name: c.Fresh(op), Op: op, Inputs: inputs, Outputs: outputs, Attrs: attrs, Meta: m}
}

type exporter struct {
	opset     int
	names     map[string]bool
	seq       int
	srcOpsets map[string]int
}

// rewriteAll applies f to every node of g and its subgraphs; a non-nil
// result replaces the node. Types are inferred once per graph level.
func (e *exporter) rewriteAll(g *graph.Graph, outer map[string]graph.Type, f func(c *ExportContext, r *ExportRule, n *graph.Node) ([]*graph.Node, error)) error {
	types, cst := inferTypes(g, outer)
	c := &ExportContext{Opset: e.opset, e: e, g: g, types: types, cst: cst}
	var out []*graph.Node
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			if err := e.rewriteAll(sg, types, f); err != nil {
				return err
			}
		}
		r, err := e.rule(n)
		if err != nil {
			if normDomain(n.Domain) == "kiln" {
				r = nil // a kiln op without a rule fails when written
			} else {
				return err
			}
		}
		c.n = n
		repl, err := f(c, r, n)
		if err != nil {
			return err
		}
		if repl == nil {
			out = append(out, n)
			continue
		}
		out = append(out, repl...)
	}
	g.Nodes = out
	return nil
}

// inferTypes computes the static types of g's values with the ops' Infer
// functions, and the values of params and Constant nodes.
func inferTypes(g *graph.Graph, outer map[string]graph.Type) (map[string]graph.Type, map[string]*tensor.Tensor) {
	types := map[string]graph.Type{}
	for k, v := range outer {
		types[k] = v
	}
	for k, v := range g.Types {
		types[k] = v
	}
	cst := map[string]*tensor.Tensor{}
	for _, p := range g.Params {
		types[p.Name] = graph.TensorType(p.Tensor.DType(), p.Tensor.Shape()...)
		cst[p.Name] = p.Tensor
	}
	for _, v := range g.Inputs {
		types[v.Name] = v.Type
	}
	for _, n := range g.Nodes {
		if n.Op == "Constant" && normDomain(n.Domain) == "" && len(n.Outputs) == 1 {
			if t := n.Attrs.Tensor("value"); t != nil {
				cst[n.Outputs[0]] = t
			}
		}
		def := ops.Lookup(n.Domain, n.Op)
		if def == nil || def.Infer == nil {
			continue
		}
		ic := &ops.InferContext{Node: n, In: make([]graph.Type, len(n.Inputs)), Consts: make([]*tensor.Tensor, len(n.Inputs))}
		known := true
		for i, in := range n.Inputs {
			if in == "" {
				continue
			}
			t, ok := types[in]
			if !ok {
				known = false
				break
			}
			ic.In[i] = t
			ic.Consts[i] = cst[in]
		}
		if !known {
			continue
		}
		outs, err := safeInfer(def, ic)
		if err != nil {
			continue
		}
		for i, o := range n.Outputs {
			if o != "" && i < len(outs) {
				if _, declared := types[o]; !declared || types[o].Unranked {
					types[o] = outs[i]
				}
			}
		}
	}
	return types, cst
}

func safeInfer(def *ops.Def, ic *ops.InferContext) (outs []graph.Type, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("infer panicked: %v", p)
		}
	}()
	return def.Infer(ic)
}

// cloneGraph copies g deeply enough to rewrite it: nodes, attributes,
// values and subgraphs are new; tensors are shared.
func cloneGraph(g *graph.Graph) *graph.Graph {
	c := &graph.Graph{Name: g.Name, Doc: g.Doc, Types: map[string]graph.Type{}, Opsets: g.Opsets}
	for k, v := range g.Types {
		c.Types[k] = v
	}
	for _, v := range g.Inputs {
		c.Inputs = append(c.Inputs, &graph.Value{Name: v.Name, Type: v.Type})
	}
	for _, v := range g.Outputs {
		c.Outputs = append(c.Outputs, &graph.Value{Name: v.Name, Type: v.Type})
	}
	for _, p := range g.Params {
		c.Params = append(c.Params, &graph.Param{Name: p.Name, Tensor: p.Tensor, Trainable: p.Trainable})
	}
	for _, n := range g.Nodes {
		cn := *n
		cn.Inputs = append([]string(nil), n.Inputs...)
		cn.Outputs = append([]string(nil), n.Outputs...)
		cn.Attrs = graph.Attrs{}
		for k, v := range n.Attrs {
			switch x := v.(type) {
			case *graph.Graph:
				cn.Attrs[k] = cloneGraph(x)
			case []*graph.Graph:
				gs := make([]*graph.Graph, len(x))
				for i, s := range x {
					gs[i] = cloneGraph(s)
				}
				cn.Attrs[k] = gs
			default:
				cn.Attrs[k] = v
			}
		}
		c.Nodes = append(c.Nodes, &cn)
	}
	return c
}

func collectNames(g *graph.Graph, names map[string]bool) {
	for _, v := range g.Inputs {
		names[v.Name] = true
	}
	for _, p := range g.Params {
		names[p.Name] = true
	}
	for _, n := range g.Nodes {
		names[n.Name] = true
		for _, o := range n.Outputs {
			names[o] = true
		}
		for _, sg := range n.Subgraphs() {
			collectNames(sg, names)
		}
	}
}

// writeGraph converts a graph (already in the chosen opset's forms).
func (e *exporter) writeGraph(g *graph.Graph) (*onnxpb.GraphProto, error) {
	gp := &onnxpb.GraphProto{Name: proto.String(orDefault(g.Name, "kiln"))}
	for _, p := range g.Params {
		if p.Tensor == nil {
			return nil, fmt.Errorf("onnx: export: param %q has no value", p.Name)
		}
		gp.Initializer = append(gp.Initializer, EncodeTensor(p.Name, p.Tensor))
	}
	for _, v := range g.Inputs {
		gp.Input = append(gp.Input, valueInfo(v.Name, v.Type))
	}
	for _, v := range g.Outputs {
		gp.Output = append(gp.Output, valueInfo(v.Name, v.Type))
	}
	io := map[string]bool{}
	for _, v := range g.Inputs {
		io[v.Name] = true
	}
	for _, v := range g.Outputs {
		io[v.Name] = true
	}
	produced := map[string]bool{}
	for _, n := range g.Nodes {
		np, err := e.writeNode(n)
		if err != nil {
			return nil, err
		}
		gp.Node = append(gp.Node, np)
		for _, o := range n.Outputs {
			produced[o] = true
		}
	}
	keys := make([]string, 0, len(g.Types))
	for k := range g.Types {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if produced[k] && !io[k] {
			gp.ValueInfo = append(gp.ValueInfo, valueInfo(k, g.Types[k]))
		}
	}
	return gp, nil
}

func (e *exporter) writeNode(n *graph.Node) (*onnxpb.NodeProto, error) {
	np := &onnxpb.NodeProto{
		Name:   proto.String(n.Name),
		OpType: proto.String(n.Op),
		Input:  trimTrailingEmpty(n.Inputs),
		Output: trimTrailingEmpty(n.Outputs),
	}
	if d := normDomain(n.Domain); d != "" {
		np.Domain = proto.String(d)
	}
	for _, k := range n.Attrs.Keys() {
		a, err := e.writeAttr(k, n.Attrs[k])
		if err != nil {
			return nil, fmt.Errorf("onnx: export: node %s: attribute %q: %w", n.Describe(), k, err)
		}
		np.Attribute = append(np.Attribute, a)
	}
	var doc []string
	meta := func(k, v string) {
		if v != "" {
			np.MetadataProps = append(np.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)})
		}
	}
	if n.Meta.KerasLayer != "" {
		doc = append(doc, fmt.Sprintf("Keras layer %q (%s)", n.Meta.KerasLayer, n.Meta.KerasClass))
		meta(MetaKerasLayer, n.Meta.KerasLayer)
		meta(MetaKerasClass, n.Meta.KerasClass)
	}
	if n.Meta.Source != "" && n.Meta.Source != "onnx" {
		meta(MetaSource, n.Meta.Source)
	}
	if n.Meta.ONNXName != "" && n.Meta.ONNXName != n.Name {
		doc = append(doc, fmt.Sprintf("from ONNX node %q", n.Meta.ONNXName))
	}
	if len(doc) > 0 {
		np.DocString = proto.String(strings.Join(doc, "; "))
	}
	return np, nil
}

// Node metadata_props keys Export writes for provenance.
const (
	MetaKerasLayer = "kiln.keras_layer"
	MetaKerasClass = "kiln.keras_class"
	MetaSource     = "kiln.source"
)

func trimTrailingEmpty(s []string) []string {
	s = append([]string(nil), s...)
	for len(s) > 0 && s[len(s)-1] == "" {
		s = s[:len(s)-1]
	}
	return s
}

func (e *exporter) writeAttr(name string, v any) (*onnxpb.AttributeProto, error) {
	a := &onnxpb.AttributeProto{Name: proto.String(name)}
	set := func(t onnxpb.AttributeProto_AttributeType) { a.Type = t.Enum() }
	switch x := v.(type) {
	case int64:
		set(onnxpb.AttributeProto_INT)
		a.I = proto.Int64(x)
	case int:
		set(onnxpb.AttributeProto_INT)
		a.I = proto.Int64(int64(x))
	case float32:
		set(onnxpb.AttributeProto_FLOAT)
		a.F = proto.Float32(x)
	case float64:
		set(onnxpb.AttributeProto_FLOAT)
		a.F = proto.Float32(float32(x))
	case string:
		set(onnxpb.AttributeProto_STRING)
		a.S = []byte(x)
	case []int64:
		set(onnxpb.AttributeProto_INTS)
		a.Ints = append([]int64(nil), x...)
	case []float32:
		set(onnxpb.AttributeProto_FLOATS)
		a.Floats = append([]float32(nil), x...)
	case []string:
		set(onnxpb.AttributeProto_STRINGS)
		for _, s := range x {
			a.Strings = append(a.Strings, []byte(s))
		}
	case *tensor.Tensor:
		set(onnxpb.AttributeProto_TENSOR)
		a.T = EncodeTensor("", x)
	case []*tensor.Tensor:
		set(onnxpb.AttributeProto_TENSORS)
		for _, t := range x {
			a.Tensors = append(a.Tensors, EncodeTensor("", t))
		}
	case *graph.Graph:
		set(onnxpb.AttributeProto_GRAPH)
		gp, err := e.writeGraph(x)
		if err != nil {
			return nil, err
		}
		a.G = gp
	case []*graph.Graph:
		set(onnxpb.AttributeProto_GRAPHS)
		for _, s := range x {
			gp, err := e.writeGraph(s)
			if err != nil {
				return nil, err
			}
			a.Graphs = append(a.Graphs, gp)
		}
	case graph.Type:
		set(onnxpb.AttributeProto_TYPE_PROTO)
		a.Tp = typeProto(x)
	case []graph.Type:
		set(onnxpb.AttributeProto_TYPE_PROTOS)
		for _, t := range x {
			a.TypeProtos = append(a.TypeProtos, typeProto(t))
		}
	default:
		return nil, fmt.Errorf("value of Go type %T: %w", v, ErrUnsupported)
	}
	return a, nil
}

func valueInfo(name string, t graph.Type) *onnxpb.ValueInfoProto {
	if t.Kind == graph.KindTensor && t.DType == tensor.Undefined && t.Unranked {
		return &onnxpb.ValueInfoProto{Name: proto.String(name)} // type unknown (a subgraph value)
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: typeProto(t)}
}

// typeProto converts a type; unknown dimensions are written without value
// or name, named ones as dim_param.
func typeProto(t graph.Type) *onnxpb.TypeProto {
	switch t.Kind {
	case graph.KindSequence, graph.KindOptional:
		var elem *onnxpb.TypeProto
		if t.Elem != nil {
			elem = typeProto(*t.Elem)
		} else {
			elem = typeProto(graph.UnrankedType(t.DType))
		}
		if t.Kind == graph.KindSequence {
			return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SequenceType{SequenceType: &onnxpb.TypeProto_Sequence{ElemType: elem}}}
		}
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_OptionalType{OptionalType: &onnxpb.TypeProto_Optional{ElemType: elem}}}
	}
	tt := &onnxpb.TypeProto_Tensor{}
	if t.DType != tensor.Undefined {
		tt.ElemType = proto.Int32(int32(t.DType))
	}
	if !t.Unranked {
		sh := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{}}
		for i, d := range t.Shape {
			dim := &onnxpb.TensorShapeProto_Dimension{}
			switch {
			case i < len(t.DimNames) && t.DimNames[i] != "":
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: t.DimNames[i]}
			case d >= 0:
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
			}
			sh.Dim = append(sh.Dim, dim)
		}
		tt.Shape = sh
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}
}

// derivedAttrs are private attributes the importer computes from a node's
// ONNX attributes (Gradient's backward graph from xs and y), so export
// drops them instead of failing.
var derivedAttrs = map[string]bool{"kiln_backward": true}
