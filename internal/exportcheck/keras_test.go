package exportcheck

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/internal/modelfile"
	"github.com/kiln-ml/kiln/internal/verify"
	"google.golang.org/protobuf/proto"
)

// kerasInputs are the random inputs the Keras checks use: unknown image
// and sequence dimensions get 16, enough for every corpus model's kernels
// and pools.
var kerasInputs = verify.Options{Seed: 1, Batch: 2, Dim: 16}

// kerasRoundTripTol: the exported graph runs the same kiln kernels on the
// same values, so only rewrites (an expanded activation) change rounding.
const kerasRoundTripTol = 1e-5

func kerasCorpus() string {
	if d := os.Getenv("KILN_KERAS_CORPUS"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		for _, c := range []string{filepath.Join(d, "..", "shared", "corpus", "keras"), filepath.Join(d, "shared", "corpus", "keras")} {
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c
			}
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func kerasFiles(root string) []string {
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if ext := strings.ToLower(filepath.Ext(p)); ext == ".h5" || ext == ".keras" || ext == ".hdf5" {
				files = append(files, p)
			}
		}
		return nil
	})
	sort.Strings(files)
	return files
}

// TestKerasExportRoundTrip converts every Keras corpus model kiln loads to
// ONNX, re-imports it and compares both in kiln on seeded random inputs of
// the declared shapes. Files kiln does not load (rejected layers, or a
// build without the HDF5 reader) are counted, not failed: the Keras
// suite in formats/h5 judges loading.
func TestKerasExportRoundTrip(t *testing.T) {
	if os.Getenv("KILN_EXPORT_KERAS") == "" {
		t.Skip("runs every Keras corpus model twice (minutes); set KILN_EXPORT_KERAS=1 or run make test-export")
	}
	root := kerasCorpus()
	if root == "" {
		t.Skip("no Keras corpus")
	}
	passed, failed, notLoaded := 0, 0, 0
	var opsets = map[int64]int{}
	for _, p := range kerasFiles(root) {
		name, _ := filepath.Rel(root, p)
		g, _, err := modelfile.Load(p)
		if err != nil {
			notLoaded++
			continue
		}
		in, err := verify.RandomInputs(g, kerasInputs)
		if err != nil {
			t.Logf("skip %s: %v", name, err)
			notLoaded++
			continue
		}
		if _, err := verify.Run(g, in); err != nil {
			// kiln cannot run it on these inputs; nothing to compare.
			t.Logf("skip %s: %v", name, firstLine(err))
			notLoaded++
			continue
		}
		fail := func(format string, args ...any) {
			failed++
			t.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
		}
		mp, err := onnx.Export(g, onnx.ExportOptions{})
		if err != nil {
			fail("export: %v", err)
			continue
		}
		for _, o := range mp.GetOpsetImport() {
			if o.GetDomain() == "" {
				opsets[o.GetVersion()]++
			}
		}
		data, err := proto.Marshal(mp)
		if err != nil {
			fail("encode: %v", err)
			continue
		}
		m2, err := onnx.Decode(data, name, "")
		if err != nil {
			fail("re-import: %v", err)
			continue
		}
		diffs, err := verify.Compare(g, m2.Graph, kerasInputs)
		if err != nil {
			fail("%v", err)
			continue
		}
		ok := true
		for _, d := range diffs {
			if math.IsNaN(d.MaxAbs) || d.MaxAbs > kerasRoundTripTol {
				fail("output %s differs by %g", d.Name, d.MaxAbs)
				ok = false
				break
			}
		}
		if ok {
			passed++
		}
	}
	t.Logf("opsets written: %v", opsets)
	fmt.Printf("keras export round trip: %d passed, %d failed, %d skipped\n", passed, failed, notLoaded)
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
