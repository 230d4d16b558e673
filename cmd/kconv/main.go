// Command kconv inspects and converts model files: `kconv inspect`.
package main

import "os"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}
