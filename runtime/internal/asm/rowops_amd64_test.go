//go:build amd64 && !noasm

package asm

import (
	"testing"
)

// TestRowOpsBodies runs the AVX2 bodies too on a CPU with AVX-512 (the
// dispatch test covers only the widest), through wrappers that split the
// tail the way the dispatchers do.
func TestRowOpsBodies(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2")
	}
	saved := useAVX512
	defer func() { useAVX512 = saved }()
	useAVX512 = false
	checkRowOps(t, rowImpl{"avx2", vmax, vexpsum, vscale})
}
