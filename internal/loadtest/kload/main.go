// Command kload is `make loadtest`: it serves each model with two `krun
// serve` processes on 127.0.0.1, one without batching and one with, drives
// them in alternating windows for a bounded time, and prints throughput,
// latency percentiles, errors, RSS and the batched/unbatched ratios
// measured in the same period.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/internal/loadtest"
)

type modelFlags []string

func (m *modelFlags) String() string     { return strings.Join(*m, ",") }
func (m *modelFlags) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var models modelFlags
	krun := flag.String("krun", "bin/krun", "krun binary")
	flag.Var(&models, "model", "NAME=PATH to load-test (repeatable); missing files are skipped")
	conns := flag.Int("conns", 32, "concurrent connections")
	dur := flag.Duration("duration", 10*time.Second, "timed load per run")
	warm := flag.Duration("warmup", 2*time.Second, "untimed load before each run")
	batch := flag.String("batch", "--max-batch=8 --batch-delay=500us", "krun serve flags for the batched runs (a short delay lets the queue fill when the server keeps up with the clients)")
	common := flag.String("serve-flags", "--timeout=10m", "krun serve flags for every run; the long timeout lets slow models queue 32 requests without 503s")
	rounds := flag.Int("rounds", 6, "alternate the two configurations in this many windows")
	verbose := flag.Bool("v", false, "show the server logs")
	flag.Parse()
	var logw io.Writer
	if *verbose {
		logw = os.Stderr
	}
	var results []*loadtest.Result
	failed := false
	for _, spec := range models {
		name, path, ok := strings.Cut(spec, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "kload: --model %q: want NAME=PATH\n", spec)
			os.Exit(2)
		}
		if _, err := os.Stat(path); err != nil {
			fmt.Printf("# %s: skipped (%v)\n", name, err)
			continue
		}
		mk := func(label, flags string) loadtest.Run {
			return loadtest.Run{
				Krun: *krun, Model: name, Path: path, Args: append(strings.Fields(*common), strings.Fields(flags)...),
				Label: name + " batching " + label, Conns: *conns, Warmup: *warm, Duration: *dur, Log: logw,
			}
		}
		fmt.Printf("# %s: batching off (--max-batch=1) and on (%s) side by side, %d connections, %s each in %d alternating windows\n",
			name, *batch, *conns, *dur, *rounds)
		off, on, err := loadtest.Pair(context.Background(), mk("off", "--max-batch=1"), mk("on", *batch), *rounds)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kload: %s: %v\n", name, err)
			failed = true
		}
		pair := [2]*loadtest.Result{off, on}
		for _, r := range pair {
			if r == nil {
				continue
			}
			if r.Errors > 0 || r.ExitCode != 0 {
				failed = true
			}
			results = append(results, r)
		}
		if pair[0] != nil && pair[1] != nil && pair[0].Throughput() > 0 {
			fmt.Printf("# %s: batching on/off throughput %.2fx, p50 %.2fx, p99 %.2fx\n", name,
				pair[1].Throughput()/pair[0].Throughput(), ratio(pair[1].P50, pair[0].P50), ratio(pair[1].P99, pair[0].P99))
		}
	}
	fmt.Println()
	loadtest.Report(os.Stdout, results)
	if failed {
		fmt.Println("FAIL: errors, or a server that did not exit 0 on SIGTERM")
		os.Exit(1)
	}
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
