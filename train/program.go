package train

import (
	"fmt"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/kiln-ml/kiln/train/autodiff"
	"github.com/kiln-ml/kiln/train/layer"
)

type mode int

const (
	modePredict mode = iota
	modeEval
	modeTrain
)

func (md mode) String() string { return [...]string{"predict", "evaluate", "train"}[md] }

// program is a compiled graph of the model in one mode. Every weight is a
// graph input (the runtime pre-packs params, and weights change between
// steps); the model inputs keep their names, the targets are "y_true:<i>"
// and the per-sample weights "sample_weight".
type program struct {
	prog      *runtime.Program
	weights   map[string]*layer.Weight // graph input -> weight
	loss      string
	preds     []string
	grads     []string // per trainState.trainable; "" when no gradient
	updates   []layer.Update
	modelIns  []string
	targetIns []string
}

const sampleWeightInput = "sample_weight"

// programFor returns (building once) the program of a mode for targets
// of the given dtypes and ranks.
func (m *Model) programFor(md mode, y []*tensor.Tensor) (*program, error) {
	ts := m.training
	key := md.String()
	if md != modePredict {
		for _, t := range y {
			key += fmt.Sprintf("|%s%d", t.DType(), t.Rank())
		}
	}
	if p, ok := ts.progs[key]; ok {
		return p, nil
	}
	p, err := m.buildProgram(md, y)
	if err != nil {
		return nil, err
	}
	ts.progs[key] = p
	return p, nil
}

func (m *Model) buildProgram(md mode, y []*tensor.Tensor) (*program, error) {
	ts := m.training
	g := &graph.Graph{Name: m.Name() + "_" + md.String(), Types: map[string]graph.Type{}}
	b := layer.NewBuilder(g)
	b.Version = m.version
	b.Training = md == modeTrain
	b.WeightsAsInputs = true
	p := &program{weights: map[string]*layer.Weight{}}
	ins := make([]layer.Tensor, len(m.inputs))
	for i, r := range m.inputs {
		il := m.byName[r.Layer].(*layer.InputLayer)
		dt := il.TensorDType()
		g.Inputs = append(g.Inputs, &graph.Value{Name: r.Layer, Type: kerasType(dt, il.BatchShape)})
		ins[i] = layer.Tensor{Name: r.Layer, Shape: il.BatchShape.Clone(), DType: dt}
		p.modelIns = append(p.modelIns, r.Layer)
	}
	outs, err := m.Lower(b, ins)
	if err != nil {
		return nil, err
	}
	b.Layer = nil
	for _, t := range outs {
		p.preds = append(p.preds, t.Name)
		dt := t.DType
		if dt == tensor.Undefined {
			dt = tensor.Float32
		}
		g.Outputs = append(g.Outputs, &graph.Value{Name: t.Name, Type: kerasType(dt, t.Shape)})
	}
	if md != modePredict {
		if len(y) != len(outs) {
			return nil, fmt.Errorf("train: model %q has %d outputs, got %d targets", m.Name(), len(outs), len(y))
		}
		g.Inputs = append(g.Inputs, &graph.Value{Name: sampleWeightInput, Type: graph.TensorType(tensor.Float32, -1)})
		var total string
		for i, t := range outs {
			name := fmt.Sprintf("y_true:%d", i)
			shape := make([]int, y[i].Rank())
			copy(shape, y[i].Shape())
			if len(shape) > 0 {
				shape[0] = -1
			}
			g.Inputs = append(g.Inputs, &graph.Value{Name: name, Type: graph.TensorType(y[i].DType(), shape...)})
			p.targetIns = append(p.targetIns, name)
			yt := layer.Tensor{Name: name, Shape: shape, DType: y[i].DType()}
			yp := t
			if yp.DType == tensor.Undefined {
				yp.DType = tensor.Float32
			}
			ps, err := ts.losses[i].PerSample(b, yt, yp)
			if err != nil {
				return nil, fmt.Errorf("train: output %d loss %s: %w", i, ts.losses[i].Name(), err)
			}
			sw := sampleWeightInput
			if r := len(yp.Shape) - 2; r > 0 {
				// Per-timestep losses: weights broadcast over the extra axes.
				dims := []int64{-1}
				for range r {
					dims = append(dims, 1)
				}
				sw = b.Op("Reshape", nil, sw, b.Ints(dims...))
			}
			l := b.Op("ReduceMean", graph.Attrs{"keepdims": int64(0)}, b.Op("Mul", nil, ps, sw))
			if ts.lossWeights[i] != 1 {
				l = b.Op("Mul", nil, l, b.Scalar(float32(ts.lossWeights[i])))
			}
			if total == "" {
				total = l
			} else {
				total = b.Op("Add", nil, total, l)
			}
		}
		for _, pen := range ts.penalties {
			if v := pen.r.Penalty(b, b.Param(pen.w)); v != "" {
				total = b.Op("Add", nil, total, v)
			}
		}
		for _, v := range b.Losses {
			total = b.Op("Add", nil, total, v)
		}
		p.loss = total
		g.Outputs = append(g.Outputs, &graph.Value{Name: total, Type: graph.TensorType(tensor.Float32)})
	}
	if md == modeTrain {
		wrt := make([]string, len(ts.trainable))
		for i, w := range ts.trainable {
			wrt[i] = b.Param(w)
		}
		grads, err := autodiff.Grad(g, p.loss, wrt)
		if err != nil {
			return nil, fmt.Errorf("train: gradients of model %q: %w", m.Name(), err)
		}
		p.grads = grads
		seen := map[string]bool{}
		for _, o := range g.Outputs {
			seen[o.Name] = true
		}
		for i, gn := range grads {
			if gn == "" || seen[gn] {
				continue
			}
			seen[gn] = true
			g.Outputs = append(g.Outputs, &graph.Value{Name: gn, Type: graph.TensorType(tensor.Float32, ts.trainable[i].Value.Shape()...)})
		}
		p.updates = b.Updates
		for _, u := range b.Updates {
			if !seen[u.Value] {
				seen[u.Value] = true
				g.Outputs = append(g.Outputs, &graph.Value{Name: u.Value, Type: graph.TensorType(tensor.Float32, u.Weight.Value.Shape()...)})
			}
		}
	}
	for _, w := range m.Weights() {
		if name, ok := b.WeightValue(w); ok {
			p.weights[name] = w
		}
	}
	for _, w := range ts.trainable {
		if name, ok := b.WeightValue(w); ok {
			p.weights[name] = w
		}
	}
	prog, err := runtime.Compile(g)
	if err != nil {
		return nil, fmt.Errorf("train: %s graph of model %q: %w", md, m.Name(), err)
	}
	p.prog = prog
	return p, nil
}

// run executes the program on one batch.
func (p *program) run(x, y []*tensor.Tensor, sw *tensor.Tensor) (map[string]*tensor.Tensor, error) {
	in := make(map[string]*tensor.Tensor, len(p.weights)+len(x)+len(y)+1)
	if len(x) != len(p.modelIns) {
		return nil, fmt.Errorf("train: the model takes %d inputs, got %d", len(p.modelIns), len(x))
	}
	for i, n := range p.modelIns {
		in[n] = x[i]
	}
	for i, n := range p.targetIns {
		in[n] = y[i]
	}
	if p.targetIns != nil {
		in[sampleWeightInput] = sw
	}
	for n, w := range p.weights {
		in[n] = w.Value
	}
	return p.prog.Run(in)
}
