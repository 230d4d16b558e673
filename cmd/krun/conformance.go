package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/kiln-ml/kiln/internal/conformance"
	"github.com/spf13/cobra"
)

type conformanceOptions struct {
	Dirs    []string
	JSON    string
	Timeout time.Duration
	Jobs    int
	RTol    float64
	ATol    float64
	Verbose bool
	Runs    int
	Quiet   bool
	MinPass int
	passes  *passFlags
	Out     io.Writer
}

func newConformanceCmd(pf *passFlags, runF func(*conformanceOptions) error) *cobra.Command {
	o := &conformanceOptions{passes: pf}
	cmd := &cobra.Command{
		Use:   "conformance DIR...",
		Short: "Run ONNX backend-test directories and compare with their expected outputs",
		Long: `Run every ONNX test directory (model.onnx + test_data_set_*/) found under the given
paths and compare outputs as ONNX's backend runner does: same shape and dtype and
|actual - expected| <= atol + rtol*|expected| (rtol 1e-3, atol 1e-7), NaN equal to NaN.
Prints each failing test with a reason, a table of failure reasons, and a final
"N passed, M failed, K skipped" line.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Dirs = args
			o.Out = cmd.OutOrStdout()
			if runF != nil {
				return runF(o)
			}
			return runConformance(o)
		},
	}
	cmd.Flags().StringVar(&o.JSON, "json", "", "write per-test results to this file")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 60*time.Second, "time limit per test")
	cmd.Flags().IntVarP(&o.Jobs, "jobs", "j", 0, "tests run at once (default: number of CPUs)")
	cmd.Flags().Float64Var(&o.RTol, "rtol", conformance.DefaultRTol, "relative tolerance")
	cmd.Flags().Float64Var(&o.ATol, "atol", conformance.DefaultATol, "absolute tolerance")
	cmd.Flags().BoolVarP(&o.Verbose, "verbose", "v", false, "also list passing and skipped tests")
	cmd.Flags().IntVar(&o.Runs, "runs", 2, "run each test this many times on one compiled program (the first plans, later ones run the plan)")
	cmd.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "print only the summary, not each failing test")
	cmd.Flags().IntVar(&o.MinPass, "min-pass", 0, "exit with an error when fewer tests pass (a regression guard)")
	return cmd
}

func runConformance(o *conformanceOptions) error {
	dirs, err := conformance.FindTests(o.Dirs...)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("no test directories (with a model.onnx) under %v", o.Dirs)
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = numCPU()
	}
	co := conformance.Options{RTol: o.RTol, ATol: o.ATol, Timeout: o.Timeout, Workers: jobs, Runs: o.Runs}
	po, err := o.passes.options()
	if err != nil {
		return err
	}
	co.Passes = po
	results := conformance.Run(dirs, co)
	for _, r := range results {
		switch {
		case r.Status == conformance.Fail && !o.Quiet:
			fmt.Fprintf(o.Out, "FAIL %s: %s\n", r.Name, r.Reason)
		case o.Verbose && r.Status == conformance.Skip:
			fmt.Fprintf(o.Out, "SKIP %s: %s\n", r.Name, r.Reason)
		case o.Verbose:
			fmt.Fprintf(o.Out, "ok   %s (%.1f ms)\n", r.Name, float64(r.Duration.Microseconds())/1000)
		}
	}
	s := conformance.Summarize(results)
	if len(s.Categories) > 0 {
		type kv struct {
			k string
			v int
		}
		var cats []kv
		for k, v := range s.Categories {
			cats = append(cats, kv{k, v})
		}
		sort.Slice(cats, func(i, j int) bool {
			if cats[i].v != cats[j].v {
				return cats[i].v > cats[j].v
			}
			return cats[i].k < cats[j].k
		})
		fmt.Fprintf(o.Out, "\nfailures by reason:\n")
		for _, c := range cats {
			fmt.Fprintf(o.Out, "  %5d  %s\n", c.v, c.k)
		}
	}
	if o.JSON != "" {
		b, err := json.MarshalIndent(results, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.JSON, b, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.Out, "%d passed, %d failed, %d skipped\n", s.Passed, s.Failed, s.Skipped)
	if s.Passed < o.MinPass {
		return fmt.Errorf("only %d tests passed; at least %d must (--min-pass)", s.Passed, o.MinPass)
	}
	return nil
}
