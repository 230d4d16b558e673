// Command kconv inspects and converts model files: `kconv inspect`, `kconv convert`.
package main

import "os"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}
