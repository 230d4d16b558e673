//go:build !noasm

package runtime

// gradAllocCheck enables the zero-allocation check of the backward-pass
// kernels (see gradNoAllocs).
const gradAllocCheck = true
