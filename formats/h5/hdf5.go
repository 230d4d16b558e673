package h5

// The thin layer over libhdf5. gonum.org/v1/hdf5 opens files, groups and
// datasets; the few calls it does not offer (attribute existence, string
// attributes of any layout, typed dataset reads with conversion to float32)
// are made here directly, on the identifiers gonum hands out.
//
// The search paths above are where Debian and Ubuntu put the serial
// libhdf5 (the same ones gonum.org/v1/hdf5 uses), so a plain `go build`
// works there; elsewhere set CGO_CFLAGS and CGO_LDFLAGS.
//
// libhdf5 as Debian ships it is built without thread safety, so every call
// into it is made under h5mu.

/*
#cgo LDFLAGS: -lhdf5
#cgo linux,amd64 CFLAGS: -I/usr/lib/x86_64-linux-gnu/hdf5/serial/include
#cgo linux,amd64 LDFLAGS: -L/usr/lib/x86_64-linux-gnu/hdf5/serial
#cgo linux,arm64 CFLAGS: -I/usr/lib/aarch64-linux-gnu/hdf5/serial/include
#cgo linux,arm64 LDFLAGS: -L/usr/lib/aarch64-linux-gnu/hdf5/serial
#include <stdlib.h>
#include <string.h>
#include "hdf5.h"

static void kiln_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// kiln_attr_exists returns 1 if obj has the attribute, 0 if not, <0 on error.
static int kiln_attr_exists(hid_t obj, const char *name) { return (int)H5Aexists(obj, name); }

// kiln_attr_strings reads a string attribute (scalar or 1-D; fixed-length or
// variable-length; or a 1-D array of uint8/int8 bytes) into one malloc'd
// buffer of NUL-separated strings. *count receives the number of strings.
// It returns the buffer's length, or a negative code:
// -1 cannot open, -2 not a string, -3 too large, -4 read failed.
static long kiln_attr_strings(hid_t obj, const char *name, char **out, long *count, long limit) {
	*out = NULL; *count = 0;
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	if (a < 0) return -1;
	hid_t ft = H5Aget_type(a);
	hid_t sp = H5Aget_space(a);
	long ret = -4;
	if (ft < 0 || sp < 0) goto done;
	hssize_t n = H5Sget_simple_extent_npoints(sp);
	if (n < 0) goto done;
	if (n > limit) { ret = -3; goto done; }
	if (n == 0) { ret = 0; goto done; } // an empty list of any type (np.array([]) is float64)
	H5T_class_t cls = H5Tget_class(ft);
	if (cls == H5T_STRING) {
		if (H5Tis_variable_str(ft) > 0) {
			hid_t mt = H5Tcopy(H5T_C_S1);
			H5Tset_size(mt, H5T_VARIABLE);
			H5Tset_cset(mt, H5Tget_cset(ft));
			char **ptrs = calloc(n > 0 ? n : 1, sizeof(char *));
			if (!ptrs) { H5Tclose(mt); goto done; }
			if (H5Aread(a, mt, ptrs) < 0) { free(ptrs); H5Tclose(mt); goto done; }
			size_t total = 0;
			for (hssize_t i = 0; i < n; i++) total += (ptrs[i] ? strlen(ptrs[i]) : 0) + 1;
			if ((long)total > limit) {
				H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, ptrs); free(ptrs); H5Tclose(mt);
				ret = -3; goto done;
			}
			char *buf = malloc(total + 1);
			size_t off = 0;
			if (buf) {
				for (hssize_t i = 0; i < n; i++) {
					size_t l = ptrs[i] ? strlen(ptrs[i]) : 0;
					if (l) memcpy(buf + off, ptrs[i], l);
					off += l; buf[off++] = 0;
				}
			}
			H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, ptrs);
			free(ptrs); H5Tclose(mt);
			if (!buf) goto done;
			*out = buf; *count = n; ret = (long)off;
			goto done;
		}
		size_t sz = H5Tget_size(ft);
		if (sz == 0 || (double)sz * (double)n > (double)limit) { ret = -3; goto done; }
		hid_t mt = H5Tcopy(ft);
		char *raw = calloc((size_t)n * sz + 1, 1);
		if (!raw) { H5Tclose(mt); goto done; }
		if (H5Aread(a, mt, raw) < 0) { free(raw); H5Tclose(mt); goto done; }
		H5Tclose(mt);
		char *buf = malloc((size_t)n * (sz + 1) + 1);
		if (!buf) { free(raw); goto done; }
		size_t off = 0;
		for (hssize_t i = 0; i < n; i++) {
			const char *s = raw + i * sz;
			size_t l = 0;
			while (l < sz && s[l]) l++;
			memcpy(buf + off, s, l);
			off += l; buf[off++] = 0;
		}
		free(raw);
		*out = buf; *count = n; ret = (long)off;
		goto done;
	}
	if (cls == H5T_INTEGER && H5Tget_size(ft) == 1) {
		// A byte array holding one string (np.void / uint8 buffers).
		char *buf = calloc((size_t)n + 1, 1);
		if (!buf) goto done;
		if (H5Aread(a, H5T_NATIVE_UCHAR, buf) < 0) { free(buf); goto done; }
		size_t l = 0;
		while (l < (size_t)n && buf[l]) l++;
		buf[l] = 0;
		*out = buf; *count = 1; ret = (long)l + 1;
		goto done;
	}
	ret = -2;
done:
	if (sp >= 0) H5Sclose(sp);
	if (ft >= 0) H5Tclose(ft);
	H5Aclose(a);
	return ret;
}

// kiln_dset_info fills the rank, dims (up to 32) and type class of a dataset.
static int kiln_dset_info(hid_t d, int *rank, hsize_t *dims, int *cls, size_t *size) {
	hid_t sp = H5Dget_space(d);
	if (sp < 0) return -1;
	int r = H5Sget_simple_extent_ndims(sp);
	if (r < 0 || r > 32) { H5Sclose(sp); return -1; }
	if (H5Sget_simple_extent_dims(sp, dims, NULL) < 0) { H5Sclose(sp); return -1; }
	H5Sclose(sp);
	*rank = r;
	hid_t ft = H5Dget_type(d);
	if (ft < 0) return -1;
	*cls = (int)H5Tget_class(ft);
	*size = H5Tget_size(ft);
	H5Tclose(ft);
	return 0;
}

static int kiln_dset_read_float(hid_t d, float *out) {
	return (int)H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
}

static int kiln_class_float(void) { return (int)H5T_FLOAT; }
static int kiln_class_integer(void) { return (int)H5T_INTEGER; }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"gonum.org/v1/hdf5"
)

var h5mu sync.Mutex

// lockH5 serializes libhdf5 calls. It also silences libhdf5's automatic
// error printing, which some builds keep per OS thread: errors are
// returned as values instead of printed to stderr.
func lockH5() {
	h5mu.Lock()
	C.kiln_h5_quiet()
}

func init() {
	// libhdf5 prints its error stack to stderr on every failed call unless
	// told not to; errors are returned as values instead.
	C.kiln_h5_quiet()
}

// maxAttrBytes bounds the size of one string attribute read into memory.
// Keras splits attributes over 64 KB into chunks, but model_config is a
// single attribute and can be a few MB for large functional models.
const maxAttrBytes = 256 << 20

// maxTensorElems bounds one weight array (4 GiB of float32).
const maxTensorElems = 1 << 30

var errNoAttr = errors.New("no such attribute")

type locID interface{ ID() int64 }

func hasAttr(obj locID, name string) bool {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	return C.kiln_attr_exists(C.hid_t(obj.ID()), cn) > 0
}

// readStrings reads a string attribute as a list of strings. A scalar
// attribute gives one string.
func readStrings(obj locID, name string) ([]string, error) {
	if !hasAttr(obj, name) {
		return nil, errNoAttr
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var buf *C.char
	var count C.long
	n := C.kiln_attr_strings(C.hid_t(obj.ID()), cn, &buf, &count, maxAttrBytes)
	if buf != nil {
		defer C.free(unsafe.Pointer(buf))
	}
	switch {
	case n == -2:
		return nil, fmt.Errorf("attribute %q is not a string", name)
	case n == -3:
		return nil, fmt.Errorf("attribute %q is larger than %d bytes", name, maxAttrBytes)
	case n < 0:
		return nil, fmt.Errorf("attribute %q cannot be read", name)
	}
	if n == 0 {
		return nil, nil
	}
	raw := C.GoBytes(unsafe.Pointer(buf), C.int(n))
	out := make([]string, 0, int(count))
	start := 0
	for i, c := range raw {
		if c == 0 {
			out = append(out, string(raw[start:i]))
			start = i + 1
		}
	}
	return out, nil
}

// readString reads a scalar (or one-element) string attribute.
func readString(obj locID, name string) (string, error) {
	ss, err := readStrings(obj, name)
	if err != nil {
		return "", err
	}
	if len(ss) != 1 {
		return "", fmt.Errorf("attribute %q holds %d strings, want 1", name, len(ss))
	}
	return ss[0], nil
}

// readChunked reads a list attribute that Keras may have split into
// numbered chunks (name0, name1, ...) because HDF5 object headers hold at
// most 64 KB of attributes.
func readChunked(obj locID, name string) ([]string, error) {
	if hasAttr(obj, name) {
		return readStrings(obj, name)
	}
	var out []string
	found := false
	for i := 0; ; i++ {
		ss, err := readStrings(obj, fmt.Sprintf("%s%d", name, i))
		if errors.Is(err, errNoAttr) {
			break
		}
		if err != nil {
			return nil, err
		}
		found = true
		out = append(out, ss...)
	}
	if !found {
		return nil, errNoAttr
	}
	return out, nil
}

// array is a dataset read as float32.
type array struct {
	Shape []int
	Data  []float32
}

// readArray reads a numeric dataset, converting it to float32.
func readArray(g *hdf5.CommonFG, path string) (*array, error) {
	d, err := g.OpenDataset(path)
	if err != nil {
		return nil, fmt.Errorf("dataset %q not found", path)
	}
	defer d.Close()
	var rank, cls C.int
	var size C.size_t
	dims := make([]C.hsize_t, 32)
	if C.kiln_dset_info(C.hid_t(d.ID()), &rank, &dims[0], &cls, &size) < 0 {
		return nil, fmt.Errorf("dataset %q: cannot read its shape", path)
	}
	if cls != C.kiln_class_float() && cls != C.kiln_class_integer() {
		return nil, fmt.Errorf("dataset %q is not numeric", path)
	}
	shape := make([]int, int(rank))
	n := 1
	for i := range shape {
		if dims[i] > maxTensorElems {
			return nil, fmt.Errorf("dataset %q is too large", path)
		}
		shape[i] = int(dims[i])
		n *= shape[i]
		if n > maxTensorElems {
			return nil, fmt.Errorf("dataset %q is too large", path)
		}
	}
	data := make([]float32, n)
	if n > 0 {
		if C.kiln_dset_read_float(C.hid_t(d.ID()), (*C.float)(unsafe.Pointer(&data[0]))) < 0 {
			return nil, fmt.Errorf("dataset %q cannot be read", path)
		}
	}
	return &array{Shape: shape, Data: data}, nil
}

// children lists the names of a group's members with their kinds.
func children(g *hdf5.CommonFG) (groups, datasets []string, err error) {
	n, err := g.NumObjects()
	if err != nil {
		return nil, nil, err
	}
	if n > 1<<20 {
		return nil, nil, fmt.Errorf("group has %d members", n)
	}
	for i := uint(0); i < n; i++ {
		name, err := g.ObjectNameByIndex(i)
		if err != nil {
			return nil, nil, err
		}
		t, err := g.ObjectTypeByIndex(i)
		if err != nil {
			return nil, nil, err
		}
		switch t {
		case hdf5.H5G_GROUP:
			groups = append(groups, name)
		case hdf5.H5G_DATASET:
			datasets = append(datasets, name)
		}
	}
	return groups, datasets, nil
}
