// Package archtest enforces the import directions of
// ARCHITECTURE.md: lower layers never import higher ones, and cgo stays in
// formats/h5.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/kiln-ml/kiln"

type pkg struct {
	ImportPath string
	Deps       []string
	CgoFiles   []string
}

// rules: a package (prefix, relative to the module) may not depend on any
// package under the listed prefixes.
var rules = []struct {
	pkg       string
	forbidden []string
	stdOnly   bool
}{
	{pkg: "ops/tensor", stdOnly: true},
	{pkg: "ops/graph", forbidden: []string{"ops/opstest", "runtime", "formats", "train", "cmd", "internal"}},
	{pkg: "ops", forbidden: []string{"runtime", "formats", "train", "cmd", "internal"}},
	{pkg: "runtime", forbidden: []string{"formats", "train", "cmd", "internal"}},
	{pkg: "formats/onnx", forbidden: []string{"train", "formats/h5", "cmd", "internal"}},
	{pkg: "formats/npy", forbidden: []string{"train", "formats/h5", "formats/onnx", "runtime", "cmd", "internal"}},
	{pkg: "train", forbidden: []string{"formats", "cmd", "internal"}},
	{pkg: "serve", forbidden: []string{"cmd"}},
}

func list(t *testing.T, env ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", module+"/...")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func under(path, prefix string) bool {
	full := module + "/" + prefix
	return path == full || strings.HasPrefix(path, full+"/")
}

func TestImportDirections(t *testing.T) {
	pkgs := list(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		for _, r := range rules {
			if !under(p.ImportPath, r.pkg) {
				continue
			}
			// The most specific rule decides (ops/tensor before ops).
			if moreSpecific(p.ImportPath, r.pkg) {
				continue
			}
			for _, d := range p.Deps {
				if r.stdOnly && (strings.Contains(strings.SplitN(d, "/", 2)[0], ".")) {
					t.Errorf("%s imports %s; it may import only the standard library", p.ImportPath, d)
				}
				for _, f := range r.forbidden {
					if under(d, f) {
						t.Errorf("%s depends on %s, against ARCHITECTURE.md (nothing under %s may import %s)", p.ImportPath, d, r.pkg, f)
					}
				}
			}
		}
		if len(p.CgoFiles) > 0 && !under(p.ImportPath, "formats/h5") {
			t.Errorf("%s uses cgo; only formats/h5 may", p.ImportPath)
		}
	}
}

func moreSpecific(path, prefix string) bool {
	for _, r := range rules {
		if len(r.pkg) > len(prefix) && strings.HasPrefix(r.pkg, prefix+"/") && under(path, r.pkg) {
			return true
		}
	}
	return false
}

// TestStaticKrun checks that krun builds without cgo.
func TestStaticKrun(t *testing.T) {
	cmd := exec.Command("go", "build", "-o", t.TempDir()+"/krun", "./cmd/krun")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/krun: %v\n%s", err, out)
	}
}
