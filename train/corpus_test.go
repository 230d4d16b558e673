package train

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/kiln-ml/kiln/internal/testpaths"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/train/layer"
)

// corpusDir is the shared Keras corpus (see its README.md); the test
// skips when it is absent.
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus", "keras")

func findCorpus() string {
	for _, d := range []string{os.Getenv("KILN_KERAS_CORPUS"), corpusDir, testpaths.Shared("corpus", "keras")} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "MANIFEST.tsv")); err == nil {
			return d
		}
	}
	return ""
}

// readKerasZipConfig reads config.json and metadata.json from a .keras
// archive, refusing members over 64 MiB.
func readKerasZipConfig(path string) ([]byte, layer.Version, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, layer.Version{}, err
	}
	defer zr.Close()
	var cfg []byte
	var v layer.Version
	for _, f := range zr.File {
		if f.Name != "config.json" && f.Name != "metadata.json" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, v, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
		rc.Close()
		if err != nil {
			return nil, v, err
		}
		if f.Name == "config.json" {
			cfg = b
		} else {
			var md struct {
				KerasVersion string `json:"keras_version"`
			}
			_ = json.Unmarshal(b, &md)
			v = ParseKerasVersion(md.KerasVersion, "")
		}
	}
	if cfg == nil {
		return nil, v, fmt.Errorf("no config.json")
	}
	return cfg, v, nil
}

// errNamesLayer matches errors that say which layer or model class failed.
var errNamesLayer = regexp.MustCompile(`layer "[^"]*" \(|model class |InputLayer "`)

// TestCorpusConfigs parses every architecture JSON and .keras config in the
// corpus. Each must load or fail with an error naming the layer and its
// class; nothing may panic. It prints the table of results.
func TestCorpusConfigs(t *testing.T) {
	dir := findCorpus()
	if dir == "" {
		t.Skip("Keras corpus not found; set KILN_KERAS_CORPUS")
	}
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	loaded, rejected := 0, 0
	var table strings.Builder
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 5 {
			continue
		}
		rel := strings.TrimPrefix(cols[0], "shared/corpus/keras/")
		format := cols[3]
		path := filepath.Join(dir, rel)
		var cfg []byte
		var v layer.Version
		switch format {
		case "json-arch":
			cfg, err = os.ReadFile(path)
		case "keras3-zip":
			cfg, v, err = readKerasZipConfig(path)
		default:
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		m, err := func() (m *Model, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("PANIC: %v", r)
				}
			}()
			return FromKerasConfig(cfg, v)
		}()
		if err != nil {
			rejected++
			fmt.Fprintf(&table, "  rejected  %-70s %v\n", rel, err)
			if strings.HasPrefix(err.Error(), "PANIC") || !errNamesLayer.MatchString(err.Error()) {
				t.Errorf("%s: error does not name the layer and class: %v", rel, err)
			}
			continue
		}
		loaded++
		if want := cols[8]; want != "-" && fmt.Sprint(m.CountParams()) != want {
			t.Errorf("%s: %d params, MANIFEST.tsv says %s", rel, m.CountParams(), want)
		}
		fmt.Fprintf(&table, "  loaded    %-70s %d layers, %d params\n", rel, len(m.Layers()), m.CountParams())
		if _, err := m.Graph(); err != nil {
			fmt.Fprintf(&table, "            graph: %v\n", err)
		}
	}
	t.Logf("corpus configs: %d loaded, %d rejected\n%s", loaded, rejected, table.String())
}
