package h5

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// kind is what a file's first bytes say it is.
type kind int

const (
	kindUnknown kind = iota
	kindHDF5
	kindZip
	kindJSON
	kindNPY
	kindEmpty
)

var hdf5Magic = []byte("\x89HDF\r\n\x1a\n")

// sniff classifies content by its leading bytes; the extension is never
// consulted (corpus files named .keras are HDF5, *_weights.h5 are full
// models).
func sniff(head []byte) kind {
	switch {
	case len(head) == 0:
		return kindEmpty
	case bytes.HasPrefix(head, hdf5Magic):
		return kindHDF5
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return kindZip
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return kindNPY
	}
	t := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return kindJSON
	}
	return kindUnknown
}

func sniffFile(path string) (kind, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return 0, nil, err
	}
	head = head[:n]
	return sniff(head), head, nil
}

// describe says, for an error message, what a file that is not a Keras
// model looks like.
func describe(k kind, head []byte) string {
	switch k {
	case kindEmpty:
		return "an empty file"
	case kindJSON:
		return "a JSON file (a Keras architecture without weights? pass it as Options.Arch / --arch next to the weights .h5)"
	case kindNPY:
		return "a NumPy .npy array, not a model"
	case kindZip:
		return "a zip archive"
	case kindHDF5:
		return "an HDF5 file"
	}
	if len(head) >= 2 && head[0] == 0x08 && head[1] <= 0x10 {
		return "not a Keras file (it looks like an ONNX protobuf; load it with formats/onnx)"
	}
	if utf8.Valid(head) {
		return "a text file that is neither HDF5 nor a Keras zip"
	}
	return fmt.Sprintf("neither HDF5 nor a Keras zip (starts with % x)", head[:min(len(head), 8)])
}
