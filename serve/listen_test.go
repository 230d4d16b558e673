package serve

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/kiln-ml/kiln"
	"github.com/kiln-ml/kiln/internal/kilntest"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Shutting down a server with no connection to drain returns nil, however
// soon after starting it happens (Shutdown may find the listener Serve has
// not yet let go of).
func TestIdleShutdownIsClean(t *testing.T) {
	for i := range 200 {
		s, err := New(map[string]*kiln.Model{"affine": model(t, kilntest.Affine())}, Config{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		ln := listen(t)
		go func() { served <- s.Serve(ctx, ln) }()
		if i%2 == 1 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-served; err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}
