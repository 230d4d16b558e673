package loadtest

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSIGTERMUnderLoad stops `krun serve` with SIGTERM while 32 clients
// keep requests in flight: every request the server accepted must get a
// complete 200 response, and the process must exit 0.
func TestSIGTERMUnderLoad(t *testing.T) {
	krun := filepath.Join(t.TempDir(), "krun")
	build := exec.Command("go", "build", "-o", krun, "./cmd/krun")
	build.Dir = "../.."
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/krun: %v\n%s", err, out)
	}
	for _, mode := range []struct {
		label string
		args  []string
	}{
		{"unbatched", []string{"--max-batch=1"}},
		// A batch delay keeps requests waiting in the batcher when SIGTERM comes.
		{"batched", []string{"--max-batch=8", "--batch-delay=20ms"}},
	} {
		t.Run(mode.label, func(t *testing.T) {
			r, err := Do(context.Background(), Run{
				Krun: krun, Model: "mnist", Path: "../../testdata/models/mnist_8/model.onnx",
				Args: mode.args, Label: mode.label, Conns: 32,
				Duration: time.Minute, SigtermAfter: 1500 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d complete responses, %d not accepted after SIGTERM, exit %d after %s", r.Requests, r.Refused, r.ExitCode, r.ExitAfter)
			if r.Errors > 0 {
				t.Errorf("%d accepted requests got no complete 200 response: %v", r.Errors, r.ErrorKind)
			}
			if r.Requests == 0 {
				t.Error("no request completed before SIGTERM")
			}
			if r.ExitCode != 0 {
				t.Errorf("krun serve exited %d after SIGTERM, want 0", r.ExitCode)
			}
		})
	}
}
