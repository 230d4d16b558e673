// Package kiln puts a model behind Go code in a few lines: Load reads any
// model file kiln understands (ONNX; Keras .h5 and .keras in builds with
// cgo), compiles it for the CPU runtime, and returns a Model whose Predict
// may be called from any number of goroutines.
//
//	m, err := kiln.Load("model.onnx", kiln.Options{})
//	...
//	out, err := m.Predict(ctx, map[string]*tensor.Tensor{"input": x})
//
// Predict checks every input against the model's declared inputs before
// running, so a caller's mistake is reported with what the model expected,
// as an error wrapping ErrInput. The server behind `krun serve` (package
// serve) is built on this API.
package kiln

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/internal/modelfile"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/runtime/pass"
)

// ErrInput marks errors caused by the caller's inputs: an unknown or
// missing input name, a wrong dtype, rank or dimension. Test with errors.Is.
// Errors the runtime reports for bad inputs (runtime.ErrInput) match it too.
var ErrInput = errors.New("invalid input")

// ErrUnsupported marks models that Load can read but Predict cannot feed:
// inputs or outputs that are sequences or optionals rather than tensors.
var ErrUnsupported = errors.New("unsupported model")

// Options tune how a model is compiled.
type Options struct {
	// Threads is the number of compute threads one Predict may use; 0
	// means the number of CPUs.
	Threads int
	// Passes selects the graph passes applied before compiling; nil means
	// every pass, as runtime.Options.Passes.
	Passes *pass.Options
}

// TensorInfo describes one input or output of a model.
type TensorInfo struct {
	Name  string
	DType tensor.DType
	// Shape holds each dimension's size, or -1 for a dimension fixed only
	// when the model runs (a batch or sequence length).
	Shape []int
	// DimNames names symbolic dimensions ("batch"), where the file does.
	DimNames []string
}

// String renders the tensor as `"input" float32[batch,784]`.
func (t TensorInfo) String() string {
	return fmt.Sprintf("%q %s", t.Name, t.typ())
}

// Model is a loaded, compiled model. All methods are safe for concurrent use.
type Model struct {
	prog    *runtime.Program
	format  string
	inputs  []TensorInfo
	outputs []TensorInfo
	batched bool
}

// Load reads the model file at path, choosing the format by content, and
// compiles it. Errors name the file and, for ops kiln cannot run, every
// such node. A Keras file in a build without cgo gives an error that says
// how to convert it to ONNX.
func Load(path string, opts Options) (*Model, error) {
	g, info, err := modelfile.Load(path)
	if err != nil {
		return nil, err
	}
	m, err := newModel(g, opts)
	if err != nil {
		return nil, fmt.Errorf("kiln: %s: %w", path, err)
	}
	m.format = string(info.Format)
	return m, nil
}

// New compiles a graph built in Go (for example train.Model.Graph) into a
// Model.
func New(g *graph.Graph, opts Options) (*Model, error) {
	m, err := newModel(g, opts)
	if err != nil {
		return nil, fmt.Errorf("kiln: %w", err)
	}
	m.format = "graph"
	return m, nil
}

func newModel(g *graph.Graph, opts Options) (*Model, error) {
	if g == nil {
		return nil, errors.New("nil graph")
	}
	m := &Model{}
	var err error
	if m.inputs, err = infos("input", g.Inputs); err != nil {
		return nil, err
	}
	if m.outputs, err = infos("output", g.Outputs); err != nil {
		return nil, err
	}
	prog, err := runtime.Compile(g, runtime.Options{Threads: opts.Threads, Passes: opts.Passes})
	if err != nil {
		return nil, err
	}
	m.prog = prog
	m.batched = batched(m.inputs, m.outputs)
	return m, nil
}

func infos(kind string, vs []*graph.Value) ([]TensorInfo, error) {
	out := make([]TensorInfo, len(vs))
	for i, v := range vs {
		if v.Type.Kind != graph.KindTensor {
			return nil, fmt.Errorf("%s %q is %s, not a tensor; Predict takes and returns tensors only (use runtime.Program.RunValues): %w", kind, v.Name, v.Type, ErrUnsupported)
		}
		t := TensorInfo{Name: v.Name, DType: v.Type.DType}
		if v.Type.Unranked {
			t.Shape = nil
		} else {
			t.Shape = append([]int{}, v.Type.Shape...)
			for j := range t.Shape {
				if t.Shape[j] < 0 {
					t.Shape[j] = -1
				}
			}
			if len(v.Type.DimNames) > 0 {
				t.DimNames = append([]string{}, v.Type.DimNames...)
			}
		}
		out[i] = t
	}
	return out, nil
}

// batched reports whether every input and output has a leading dimension
// of free size that the file names alike (or leaves unnamed), so requests
// can be stacked along it.
func batched(ins, outs []TensorInfo) bool {
	if len(ins) == 0 || len(outs) == 0 {
		return false
	}
	name := ""
	for _, t := range append(append([]TensorInfo{}, ins...), outs...) {
		if len(t.Shape) == 0 || t.Shape[0] >= 0 {
			return false
		}
		if len(t.DimNames) > 0 && t.DimNames[0] != "" {
			if name != "" && name != t.DimNames[0] {
				return false
			}
			name = t.DimNames[0]
		}
	}
	return true
}

// Inputs describes the tensors Predict takes, in the model's order.
func (m *Model) Inputs() []TensorInfo { return m.inputs }

// Outputs describes the tensors Predict returns, in the model's order.
func (m *Model) Outputs() []TensorInfo { return m.outputs }

// Format names the file format the model came from ("onnx", "keras-h5",
// "keras-zip"), or "graph" for a model made with New.
func (m *Model) Format() string { return m.format }

// Batched reports whether the model has a batch dimension: every input and
// output has a leading dimension of free size, so inputs of several
// requests can be concatenated along it and the outputs split back.
func (m *Model) Batched() bool { return m.batched }

// Close releases the model's worker threads. A closed model must not be
// used again.
func (m *Model) Close() { m.prog.Close() }

// Predict runs the model on inputs keyed by input name and returns the
// outputs keyed by output name. It checks the inputs first: every model
// input must be given, no other name may be, and each tensor must have the
// declared dtype, rank and every fixed dimension; otherwise the error wraps
// ErrInput and says what was expected. A cancelled or expired ctx stops the
// run between nodes and returns ctx.Err(). The returned tensors belong to
// the caller.
func (m *Model) Predict(ctx context.Context, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	in := make([]*tensor.Tensor, len(m.inputs))
	for i, want := range m.inputs {
		t, ok := inputs[want.Name]
		if !ok || t == nil {
			return nil, fmt.Errorf("kiln: missing input %s; the model takes %s: %w", want, m.inputList(), ErrInput)
		}
		in[i] = t
	}
	if len(inputs) != len(m.inputs) {
		var unknown []string
		for name := range inputs {
			if m.inputIndex(name) < 0 {
				unknown = append(unknown, fmt.Sprintf("%q", name))
			}
		}
		sort.Strings(unknown)
		return nil, fmt.Errorf("kiln: unknown input %s; the model takes %s: %w", strings.Join(unknown, ", "), m.inputList(), ErrInput)
	}
	out := make([]*tensor.Tensor, len(m.outputs))
	if err := m.PredictInto(ctx, in, out); err != nil {
		return nil, err
	}
	res := make(map[string]*tensor.Tensor, len(out))
	for i, o := range m.outputs {
		res[o.Name] = out[i]
	}
	return res, nil
}

// PredictInto is Predict with inputs and outputs given by position, in
// the order of Inputs and Outputs. A nil entry of out receives a new
// tensor; a given one must have the output's dtype and shape and is
// overwritten, which lets a serving loop run without allocating.
func (m *Model) PredictInto(ctx context.Context, in, out []*tensor.Tensor) error {
	if len(in) != len(m.inputs) {
		return fmt.Errorf("kiln: got %d inputs; the model takes %d: %s: %w", len(in), len(m.inputs), m.inputList(), ErrInput)
	}
	if len(out) != len(m.outputs) {
		return fmt.Errorf("kiln: got %d output slots; the model has %d outputs: %w", len(out), len(m.outputs), ErrInput)
	}
	for i, t := range in {
		if err := m.CheckInput(i, t); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.prog.RunInto(ctx, in, out); err != nil {
		if errors.Is(err, runtime.ErrInput) {
			return fmt.Errorf("kiln: %w: %w", ErrInput, err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return ctxErr
		}
		return fmt.Errorf("kiln: %w", err)
	}
	return nil
}

// CheckInput reports whether t may be fed as the i-th input: the dtype,
// the rank and every fixed dimension must match. The error wraps ErrInput.
func (m *Model) CheckInput(i int, t *tensor.Tensor) error {
	if i < 0 || i >= len(m.inputs) {
		return fmt.Errorf("kiln: input index %d out of range; the model takes %d inputs: %w", i, len(m.inputs), ErrInput)
	}
	want := m.inputs[i]
	if t == nil {
		return fmt.Errorf("kiln: missing input %s: %w", want, ErrInput)
	}
	if want.DType != tensor.Undefined && t.DType() != want.DType {
		return fmt.Errorf("kiln: input %q: got %s%v, want dtype %s (%s): %w", want.Name, t.DType(), t.Shape(), want.DType, want.typ(), ErrInput)
	}
	if want.Shape == nil {
		return nil
	}
	if t.Rank() != len(want.Shape) {
		return fmt.Errorf("kiln: input %q: got shape %v (rank %d), want %s (rank %d): %w", want.Name, t.Shape(), t.Rank(), want.typ(), len(want.Shape), ErrInput)
	}
	for j, d := range want.Shape {
		if d >= 0 && t.Shape()[j] != d {
			return fmt.Errorf("kiln: input %q: got shape %v, want %s (dimension %d must be %d): %w", want.Name, t.Shape(), want.typ(), j, d, ErrInput)
		}
	}
	return nil
}

func (t TensorInfo) typ() string {
	return graph.Type{DType: t.DType, Shape: t.Shape, DimNames: t.DimNames, Unranked: t.Shape == nil}.String()
}

func (m *Model) inputIndex(name string) int {
	for i, in := range m.inputs {
		if in.Name == name {
			return i
		}
	}
	return -1
}

func (m *Model) inputList() string {
	if len(m.inputs) == 0 {
		return "no inputs"
	}
	s := make([]string, len(m.inputs))
	for i, in := range m.inputs {
		s[i] = in.String()
	}
	return strings.Join(s, ", ")
}
