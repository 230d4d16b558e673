//go:build noasm

package runtime

// gradAllocCheck is off with the Go micro-kernels: a call long enough to
// be preempted can resume on another P, whose SGEMM workspace pool
// (sync.Pool, per P) is empty, and one run in a few then allocates a
// workspace. The kernels themselves allocate nothing.
const gradAllocCheck = false
