package onnx_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/formats/onnx"
	"github.com/kiln-ml/kiln/internal/conformance"
	"google.golang.org/protobuf/proto"
)

// corpusDir finds the ONNX corpus: $KILN_CORPUS, else shared/corpus/onnx
// beside one of the working directory's ancestors.
func corpusDir() string {
	if d := os.Getenv("KILN_CORPUS"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "..", "shared", "corpus", "onnx")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		c = filepath.Join(d, "shared", "corpus", "onnx")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// roundTrip imports a model, exports it, encodes it and imports the result.
func roundTrip(path string) (*onnx.Model, error) {
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	mp, err := onnx.Export(m.Graph, onnx.ExportOptions{})
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	data, err := proto.Marshal(mp)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	m2, err := onnx.Decode(data, filepath.Base(path)+" (exported)", filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("re-import: %w", err)
	}
	return m2, nil
}

// roundTripKnownLost lists the corpus tests that pass when imported
// directly but cannot pass after an export round trip, with the reason.
var roundTripKnownLost = map[string]string{}

// TestExportRoundTripCorpus runs the ONNX corpus (node, simple, pytorch-*,
// models) twice, imported directly and after import -> Export -> import,
// and compares both against the stored outputs with the conformance
// runner's rule. Every test that passes directly must pass after the round
// trip, except the ones listed in roundTripKnownLost.
func TestExportRoundTripCorpus(t *testing.T) {
	root := corpusDir()
	if root == "" {
		t.Skip("no ONNX corpus (set KILN_CORPUS)")
	}
	suites := []string{"node", "simple", "pytorch-converted", "pytorch-operator", "models"}
	// The models suite runs kiln's reference kernels on full-size
	// networks for minutes; it is included when KILN_EXPORT_MODELS is set.
	if os.Getenv("KILN_EXPORT_MODELS") == "" {
		suites = suites[:4]
	}
	if testing.Short() {
		suites = suites[:2]
	}
	totalDirect, totalRT := 0, 0
	for _, s := range suites {
		dirs, err := conformance.FindTests(filepath.Join(root, s))
		if err != nil {
			t.Logf("suite %s: %v", s, err)
			continue
		}
		o := conformance.Options{Workers: 2}
		if s == "models" {
			o.Timeout = 20 * time.Minute
		}
		direct := conformance.Run(dirs, o)
		o.Load = roundTrip
		rt := conformance.Run(dirs, o)
		nd, nr := 0, 0
		var lost []string
		for i := range dirs {
			if direct[i].Status == conformance.Pass {
				nd++
				if rt[i].Status == conformance.Pass {
					nr++
				} else if _, known := roundTripKnownLost[direct[i].Name]; !known {
					lost = append(lost, fmt.Sprintf("%s: %s", direct[i].Name, rt[i].Reason))
				}
			}
		}
		sort.Strings(lost)
		t.Logf("suite %-18s %4d pass directly, %4d of them after the export round trip", s, nd, nr)
		totalDirect += nd
		totalRT += nr
		if len(lost) > 0 {
			t.Errorf("suite %s: %d tests pass directly but not after the round trip:\n  %s", s, len(lost), strings.Join(lost, "\n  "))
		}
	}
	t.Logf("round trip: %d of %d directly passing tests pass after export", totalRT, totalDirect)
}
