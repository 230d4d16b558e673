// Command krun runs, benchmarks and checks models: `krun run`, `krun bench`,
// `krun conformance`, `krun serve`.
package main

import (
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}
