package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"sort"
	"time"

	"github.com/kiln-ml/kiln/formats/npy"
	"github.com/kiln-ml/kiln/internal/modelfile"
	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/runtime"
	"github.com/spf13/cobra"
)

type benchOptions struct {
	passes  *passFlags
	Model   string
	Batch   int
	Threads int
	Input   string
	Ref     string
	Warmup  int
	MinRuns int
	MinTime time.Duration
	MaxRuns int
	Out     io.Writer
}

func newBenchCmd(pf *passFlags, runF func(*benchOptions) error) *cobra.Command {
	o := &benchOptions{passes: pf}
	cmd := &cobra.Command{
		Use:   "bench MODEL --batch B --threads T [--input FILE] [--ref FILE]",
		Short: "Time repeated inferences of one batch and print a JSON summary",
		Long: `Load a model, warm up, then time repeated in-process inferences of one batch.
The last line of output is a JSON object with median_ms, min_ms, runs and, when --ref
is given, max_abs_diff against the reference output. Without --input, the first
input is filled with seeded random values with the batch dimension set to B.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			o.Out = cmd.OutOrStdout()
			if runF != nil {
				return runF(o)
			}
			err := runBench(o)
			if err != nil {
				b, _ := json.Marshal(map[string]string{"error": err.Error()})
				fmt.Fprintln(o.Out, string(b))
			}
			return err
		},
	}
	cmd.Flags().IntVar(&o.Batch, "batch", 1, "batch size (for generated inputs)")
	cmd.Flags().IntVar(&o.Threads, "threads", 0, "compute threads (default: number of CPUs)")
	cmd.Flags().StringVar(&o.Input, "input", "", "input tensor (.npy) for the first model input")
	cmd.Flags().StringVar(&o.Ref, "ref", "", "expected first output (.npy) to report max_abs_diff against")
	cmd.Flags().IntVar(&o.Warmup, "warmup", 5, "untimed runs first")
	cmd.Flags().IntVar(&o.MinRuns, "min-runs", 20, "at least this many timed runs")
	cmd.Flags().DurationVar(&o.MinTime, "min-time", 2*time.Second, "keep timing until this much time has passed")
	cmd.Flags().IntVar(&o.MaxRuns, "max-runs", 5000, "at most this many timed runs")
	return cmd
}

func runBench(o *benchOptions) error {
	t0 := time.Now()
	g, _, err := modelfile.Load(o.Model)
	if err != nil {
		return err
	}
	po, err := o.passes.options()
	if err != nil {
		return err
	}
	prog, err := runtime.Compile(g, runtime.Options{Threads: o.Threads, Passes: po})
	if err != nil {
		return err
	}
	loadMs := ms(time.Since(t0))
	if len(g.Inputs) == 0 {
		return fmt.Errorf("%s has no inputs to feed", o.Model)
	}
	inputs := map[string]any{}
	for i, in := range g.Inputs {
		if i == 0 && o.Input != "" {
			t, err := npy.Load(o.Input)
			if err != nil {
				return err
			}
			inputs[in.Name] = t
			continue
		}
		t, err := randomInput(in, o.Batch, int64(i))
		if err != nil {
			return err
		}
		inputs[in.Name] = t
	}
	ctx := context.Background()
	// Time RunInto with reused output tensors: what a serving loop does.
	in := make([]*tensor.Tensor, len(g.Inputs))
	for i, v := range g.Inputs {
		in[i] = inputs[v.Name].(*tensor.Tensor)
	}
	out := make([]*tensor.Tensor, len(g.Outputs))
	if err := prog.RunInto(ctx, in, out); err != nil {
		return err
	}
	for i := 1; i < o.Warmup; i++ {
		if err := prog.RunInto(ctx, in, out); err != nil {
			return err
		}
	}
	times := make([]float64, 0, o.MinRuns)
	start := time.Now()
	for len(times) < o.MaxRuns && (len(times) < o.MinRuns || time.Since(start) < o.MinTime) {
		s := time.Now()
		if err := prog.RunInto(ctx, in, out); err != nil {
			return err
		}
		times = append(times, ms(time.Since(s)))
	}
	outs := map[string]*tensor.Tensor{}
	for i, v := range g.Outputs {
		outs[v.Name] = out[i]
	}
	sort.Float64s(times)
	res := map[string]any{
		"runner":    "krun",
		"model":     o.Model,
		"batch":     o.Batch,
		"threads":   o.Threads,
		"median_ms": median(times),
		"min_ms":    times[0],
		"p90_ms":    times[int(0.9*float64(len(times)-1))],
		"runs":      len(times),
		"load_ms":   loadMs,
	}
	if o.Ref != "" {
		ref, err := npy.Load(o.Ref)
		if err != nil {
			return err
		}
		res["max_abs_diff"] = maxAbsDiff(outs[g.Outputs[0].Name], ref)
	}
	b, _ := json.Marshal(res)
	fmt.Fprintln(o.Out, string(b))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func maxAbsDiff(a, b *tensor.Tensor) float64 {
	if a.Len() != b.Len() {
		return math.Inf(1)
	}
	af, bf := a.Float64s(), b.Float64s()
	m := 0.0
	for i := range af {
		d := math.Abs(af[i] - bf[i])
		if !(d <= m) {
			m = d
		}
	}
	return m
}

// randomInput makes a seeded random tensor for a graph input, with unknown
// dimensions set to batch (the first) or 1.
func randomInput(in *graph.Value, batch int, seed int64) (*tensor.Tensor, error) {
	if in.Type.Kind != graph.KindTensor || in.Type.Unranked {
		return nil, fmt.Errorf("input %q (%s): give it with --input", in.Name, in.Type)
	}
	shape := make(tensor.Shape, len(in.Type.Shape))
	for i, d := range in.Type.Shape {
		switch {
		case d >= 0:
			shape[i] = d
		case i == 0:
			shape[i] = batch
		default:
			shape[i] = 1
		}
	}
	if len(shape) > 0 && in.Type.Shape[0] >= 0 && batch > 1 && shape[0] == 1 {
		shape[0] = batch
	}
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	vals := make([]float64, shape.Size())
	dt := in.Type.DType
	for i := range vals {
		if dt.IsFloat() {
			vals[i] = r.Float64()*2 - 1
		} else if dt != tensor.String {
			vals[i] = float64(r.IntN(10))
		}
	}
	if dt == tensor.String || dt == tensor.Undefined {
		return nil, fmt.Errorf("input %q (%s): give it with --input", in.Name, in.Type)
	}
	return tensor.FromFloat64s(dt, shape, vals), nil
}

func numCPU() int { return goruntime.NumCPU() }
