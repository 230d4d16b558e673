package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestServeFlags(t *testing.T) {
	var got *serveOptions
	cmd := newServeCmd(nil, func(o *serveOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--model", "a=x.onnx", "--model", "b=y.onnx", "--model-dir", "models",
		"--addr", "127.0.0.1:9000", "--max-batch", "8", "--batch-delay", "2ms", "--max-queue", "10",
		"--timeout", "5s", "--max-body-bytes", "1000"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if len(got.Models) != 2 || got.Models[1] != "b=y.onnx" || got.ModelDir != "models" || got.Addr != "127.0.0.1:9000" ||
		got.MaxBatch != 8 || got.BatchDelay != 2*time.Millisecond || got.MaxQueue != 10 || got.Timeout != 5*time.Second || got.MaxBodyBytes != 1000 {
		t.Errorf("options = %+v", got)
	}
}

func TestServeRejectsBadModelSpecs(t *testing.T) {
	for _, args := range [][]string{
		{"--model", "no-equals-sign"},
		{},
		{"--model", "m=../../testdata/no-such-file.onnx"},
		{"--model", "m=../../testdata/models/mnist_8/model.onnx", "--log-level", "loud"},
	} {
		var stderr bytes.Buffer
		o := &serveOptions{Log: &stderr, Context: context.Background(), Addr: "127.0.0.1:0", LogLevel: "info", LogFormat: "json"}
		cmd := newServeCmd(nil, func(p *serveOptions) error {
			*o = *p
			o.Log = &stderr
			o.Context = context.Background()
			return runServe(o)
		})
		cmd.SetArgs(append(args, "--addr", "127.0.0.1:0"))
		cmd.SetErr(&stderr)
		cmd.SetOut(&stderr)
		if err := cmd.Execute(); err == nil {
			t.Errorf("krun serve %s: no error", strings.Join(args, " "))
		}
	}
}

func TestServeRunsUntilCancelled(t *testing.T) {
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	o := &serveOptions{
		Models: []string{"mnist=../../testdata/models/mnist_8/model.onnx"}, Addr: "127.0.0.1:0",
		MaxBatch: 1, MaxQueue: 8, Timeout: time.Second, MaxBodyBytes: 1 << 20,
		LogLevel: "info", LogFormat: "json", Log: &syncWriter{w: &logs}, Context: ctx,
	}
	done := make(chan error, 1)
	go func() { done <- runServe(o) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runServe = %v, want nil after cancellation", err)
	}
	if !strings.Contains(logs.String(), `"msg":"shut down"`) {
		t.Errorf("logs do not record the shutdown:\n%s", logs.String())
	}
}
