// Package testpaths locates the shared test material (corpora, datasets,
// training references) that sits beside a kiln checkout as ../shared, or
// wherever $KILN_SHARED points. Tests use it instead of absolute paths so
// they run the same from any clone.
package testpaths

import (
	"os"
	"path/filepath"
)

// Shared returns the path of elem inside the shared directory: $KILN_SHARED
// when set, else the "shared" directory beside the module root found by
// walking up from the working directory to go.mod.
func Shared(elem ...string) string {
	root := os.Getenv("KILN_SHARED")
	if root == "" {
		dir, err := os.Getwd()
		if err == nil {
			for {
				if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
					root = filepath.Join(filepath.Dir(dir), "shared")
					break
				}
				parent := filepath.Dir(dir)
				if parent == dir {
					break
				}
				dir = parent
			}
		}
	}
	if root == "" {
		root = filepath.Join("..", "shared")
	}
	return filepath.Join(append([]string{root}, elem...)...)
}
