package h5

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Limits against hostile archives. A .keras file holds three members
// (config.json, metadata.json, model.weights.h5) and maybe assets/.
const (
	maxZipMembers  = 1024
	maxConfigBytes = 64 << 20
	maxMetaBytes   = 1 << 20
	// DefaultMaxWeightsBytes bounds the decompressed model.weights.h5.
	DefaultMaxWeightsBytes = 4 << 30
)

// kerasZip is the content of a Keras 3 .keras archive.
type kerasZip struct {
	Config   []byte // config.json
	Metadata []byte // metadata.json (nil if absent)
	weights  *zip.File
}

// readKerasZip reads the archive's directory and its JSON members. The
// weights member is only located; copyWeights streams it out.
func readKerasZip(r io.ReaderAt, size int64) (*kerasZip, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a readable zip archive: %w", err)
	}
	if len(zr.File) > maxZipMembers {
		return nil, fmt.Errorf("zip archive has %d members (more than %d); not a Keras 3 .keras file", len(zr.File), maxZipMembers)
	}
	kz := &kerasZip{}
	var names []string
	for _, f := range zr.File {
		name := path.Clean(strings.TrimPrefix(f.Name, "./"))
		names = append(names, f.Name)
		switch name {
		case "config.json":
			if kz.Config, err = readMember(f, maxConfigBytes); err != nil {
				return nil, err
			}
		case "metadata.json":
			if kz.Metadata, err = readMember(f, maxMetaBytes); err != nil {
				return nil, err
			}
		case "model.weights.h5":
			kz.weights = f
		}
	}
	if kz.Config == nil {
		if len(names) > 8 {
			names = append(names[:8], "...")
		}
		return nil, fmt.Errorf("zip archive is not a Keras 3 .keras file: no config.json (members: %s)", strings.Join(names, ", "))
	}
	return kz, nil
}

func readMember(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("zip member %s is %d bytes (limit %d)", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("zip member %s: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("zip member %s: %w", f.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("zip member %s decompresses to more than %d bytes", f.Name, limit)
	}
	return b, nil
}

var errNoWeights = errors.New("the archive has no model.weights.h5")

// copyWeights streams model.weights.h5 to w, stopping at limit bytes
// whatever the archive's directory claims (zip bombs lie about sizes).
func (kz *kerasZip) copyWeights(w io.Writer, limit int64) error {
	if kz.weights == nil {
		return errNoWeights
	}
	f := kz.weights
	if f.UncompressedSize64 > uint64(limit) {
		return fmt.Errorf("model.weights.h5 is %d bytes uncompressed (limit %d; raise Options.MaxWeightsBytes if this is genuine)", f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("model.weights.h5: %w", err)
	}
	defer rc.Close()
	n, err := io.Copy(w, io.LimitReader(rc, limit+1))
	if err != nil {
		return fmt.Errorf("model.weights.h5: %w", err)
	}
	if n > limit {
		return fmt.Errorf("model.weights.h5 decompresses to more than %d bytes (limit; raise Options.MaxWeightsBytes if this is genuine)", limit)
	}
	return nil
}
