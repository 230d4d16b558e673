package h5

import (
	"archive/zip"
	"bytes"
	"io"
	"testing"
)

func zipOf(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, data)
	}
	zw.Close()
	return buf.Bytes()
}

// FuzzKerasZip holds the archive reader to its contract on any bytes: an
// error or a result, never a panic, and never more than the limits.
func FuzzKerasZip(f *testing.F) {
	f.Add(zipOf(f, map[string]string{"config.json": `{"class_name":"Sequential","config":{"layers":[]}}`, "metadata.json": `{"keras_version":"3.8.0"}`, "model.weights.h5": "\x89HDF\r\n\x1a\n"}))
	f.Add(zipOf(f, map[string]string{"assets/x": "y"}))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kz, err := readKerasZip(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if len(kz.Config) > maxConfigBytes || len(kz.Metadata) > maxMetaBytes {
			t.Fatalf("limits exceeded: %d, %d", len(kz.Config), len(kz.Metadata))
		}
		var n countWriter
		if err := kz.copyWeights(&n, 1<<20); err == nil && n > 1<<20 {
			t.Fatalf("copied %d bytes past the limit", n)
		}
	})
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// A zip bomb that lies about its size is cut off at the limit.
func TestZipBomb(t *testing.T) {
	big := bytes.Repeat([]byte{0}, 8<<20)
	data := zipOf(t, map[string]string{"config.json": "{}", "model.weights.h5": string(big)})
	kz, err := readKerasZip(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var n countWriter
	if err := kz.copyWeights(&n, 1<<20); err == nil {
		t.Fatal("8 MB of weights passed a 1 MB limit")
	}
	if n > 1<<20+1 {
		t.Fatalf("wrote %d bytes", n)
	}
	// Too many members.
	files := map[string]string{"config.json": "{}"}
	for i := 0; i < maxZipMembers+1; i++ {
		files[string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676))] = ""
	}
	data = zipOf(t, files)
	if _, err := readKerasZip(bytes.NewReader(data), int64(len(data))); err == nil {
		t.Fatal("an archive with too many members was accepted")
	}
}

// FuzzSniff checks detection and version parsing never panic.
func FuzzSniff(f *testing.F) {
	f.Add([]byte("\x89HDF\r\n\x1a\n"), "2.2.4-tf")
	f.Add([]byte("{"), "")
	f.Add([]byte{0x08, 0x07}, "3")
	f.Fuzz(func(t *testing.T, head []byte, version string) {
		k := sniff(head)
		_ = describe(k, head)
		v := ParseVersion(version, "")
		if version == "" && v.Major != 1 {
			t.Fatalf("empty version parsed as %+v", v)
		}
	})
}
