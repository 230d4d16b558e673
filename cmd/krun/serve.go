package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/serve"
	"github.com/spf13/cobra"
)

type serveOptions struct {
	passes       *passFlags
	Models       []string
	ModelDir     string
	Addr         string
	MaxBatch     int
	BatchDelay   time.Duration
	MaxQueue     int
	Workers      int
	Threads      int
	Timeout      time.Duration
	MaxBodyBytes int64
	LogLevel     string
	LogFormat    string
	Log          io.Writer
	// Context ends the server when cancelled, as SIGTERM and SIGINT do.
	Context context.Context
}

func newServeCmd(pf *passFlags, runF func(*serveOptions) error) *cobra.Command {
	o := &serveOptions{passes: pf}
	cmd := &cobra.Command{
		Use:   "serve --model NAME=PATH ... [--model-dir DIR] [--addr :8080]",
		Short: "Serve models over the Open Inference Protocol (KServe v2) and the TensorFlow Serving REST API",
		Long: `Load models and serve them over HTTP/JSON until SIGTERM or SIGINT, then finish the
requests in flight and exit 0.

  GET  /v2/health/live, /v2/health/ready, /v2
  GET  /v2/models/NAME            model metadata
  POST /v2/models/NAME/infer      Open Inference Protocol inference
  GET  /v1/models/NAME            TensorFlow Serving model status
  POST /v1/models/NAME:predict    TensorFlow Serving predict ("instances" or "inputs")
  GET  /metrics                   Prometheus metrics

Concurrent requests for a model with a batch dimension are merged into one run of
up to --max-batch rows and the results split back (--max-batch 1 turns this off).
With --batch-delay 0 only requests already waiting are merged, so a lone request
is never delayed.
Logs are JSON lines on standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Log = cmd.ErrOrStderr()
			o.Context = cmd.Context()
			if runF != nil {
				return runF(o)
			}
			return runServe(o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Models, "model", nil, "a model to serve, as NAME=PATH (repeatable)")
	f.StringVar(&o.ModelDir, "model-dir", "", "serve every model in DIR: NAME.onnx/.keras/.h5, or NAME/ holding one model file")
	f.StringVar(&o.Addr, "addr", ":8080", "address to listen on")
	f.IntVar(&o.MaxBatch, "max-batch", serve.DefaultMaxBatch, "most rows merged into one model run (1: no batching)")
	f.DurationVar(&o.BatchDelay, "batch-delay", 0, "how long to wait for more requests to fill a batch (0: take only those already queued)")
	f.IntVar(&o.MaxQueue, "max-queue", 256, "requests waiting per model before new ones get 503")
	f.IntVar(&o.Workers, "workers", 0, "model runs per model at once (default: GOMAXPROCS)")
	f.IntVar(&o.Threads, "threads", 0, "compute threads per model run (default: number of CPUs)")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Second, "per-request time limit, queueing included")
	f.Int64Var(&o.MaxBodyBytes, "max-body-bytes", 64<<20, "largest request body accepted (larger: 413)")
	f.StringVar(&o.LogLevel, "log-level", "info", "debug (one line per request), info, warn or error")
	f.StringVar(&o.LogFormat, "log-format", "json", "json or text")
	return cmd
}

func runServe(o *serveOptions) error {
	logger, err := newLogger(o.Log, o.LogLevel, o.LogFormat)
	if err != nil {
		return err
	}
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()

	paths, err := serve.ModelPaths(o.Models, o.ModelDir)
	if err != nil {
		return err
	}
	opts := kiln.Options{Threads: o.Threads}
	if o.passes != nil {
		if opts.Passes, err = o.passes.options(); err != nil {
			return err
		}
	}
	t0 := time.Now()
	models, err := serve.LoadModels(paths, opts)
	if err != nil {
		return err
	}
	defer func() {
		for _, m := range models {
			m.Close()
		}
	}()
	for name, m := range models {
		logger.Info("model loaded", "model", name, "path", paths[name], "format", m.Format(), "batched", m.Batched())
	}
	// Loading held each file and its decoded form at once; hand that
	// memory back before serving so the server's RSS is what it uses.
	debug.FreeOSMemory()
	logger.Info("models ready", "count", len(models), "ms", time.Since(t0).Milliseconds())
	srv, err := serve.New(models, serve.Config{
		MaxBatch: o.MaxBatch, BatchDelay: o.BatchDelay, MaxQueue: o.MaxQueue, Workers: o.Workers,
		Timeout: o.Timeout, MaxBodyBytes: o.MaxBodyBytes, Logger: logger,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		srv.Close()
		return err
	}
	return srv.Serve(ctx, ln)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", format)
}
