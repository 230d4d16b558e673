package h5

// The writing side of the libhdf5 layer: files, groups, string attributes
// in the two layouts h5py produces (variable-length strings, and
// fixed-length null-padded ones for numpy bytes arrays), empty float64
// attributes (h5py's np.array([])) and numeric datasets.

/*
#include <stdlib.h>
#include <string.h>
#include "hdf5.h"

static hid_t kiln_create_file(const char *path) {
	return H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
}

static hid_t kiln_lcpl(void) {
	hid_t p = H5Pcreate(H5P_LINK_CREATE);
	H5Pset_create_intermediate_group(p, 1);
	return p;
}

// kiln_group opens or creates a group (with its parents).
static hid_t kiln_group(hid_t loc, const char *name) {
	if (H5Lexists(loc, name, H5P_DEFAULT) > 0) return H5Gopen2(loc, name, H5P_DEFAULT);
	hid_t p = kiln_lcpl();
	hid_t g = H5Gcreate2(loc, name, p, H5P_DEFAULT, H5P_DEFAULT);
	H5Pclose(p);
	return g;
}

static int kiln_close_group(hid_t g) { return (int)H5Gclose(g); }
static int kiln_close_file(hid_t f) { return (int)H5Fclose(f); }

// kiln_str_attr writes n NUL-separated strings from buf as an attribute:
// vlen != 0 variable-length, else fixed-length of width each (null padded);
// scalar != 0 writes one string with a scalar dataspace.
static int kiln_str_attr(hid_t obj, const char *name, const char *buf, long n, size_t each, int vlen, int utf8, int scalar) {
	hid_t t = H5Tcopy(H5T_C_S1);
	if (vlen) {
		H5Tset_size(t, H5T_VARIABLE);
		H5Tset_strpad(t, H5T_STR_NULLTERM);
	} else {
		H5Tset_size(t, each > 0 ? each : 1);
		H5Tset_strpad(t, H5T_STR_NULLPAD);
	}
	H5Tset_cset(t, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
	hid_t sp;
	if (scalar) {
		sp = H5Screate(H5S_SCALAR);
	} else {
		hsize_t d = (hsize_t)n;
		sp = H5Screate_simple(1, &d, NULL);
	}
	if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
	hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
	int rc = -1;
	if (a >= 0) {
		if (vlen) {
			const char **ptrs = calloc(n > 0 ? n : 1, sizeof(char *));
			const char *p = buf;
			for (long i = 0; i < n; i++) { ptrs[i] = p; p += strlen(p) + 1; }
			rc = (int)H5Awrite(a, t, ptrs);
			free(ptrs);
		} else {
			char *raw = calloc((size_t)(n > 0 ? n : 1) * (each > 0 ? each : 1), 1);
			const char *p = buf;
			for (long i = 0; i < n; i++) {
				size_t l = strlen(p);
				memcpy(raw + i * each, p, l < each ? l : each);
				p += l + 1;
			}
			rc = (int)H5Awrite(a, t, raw);
			free(raw);
		}
		H5Aclose(a);
	}
	H5Sclose(sp);
	H5Tclose(t);
	return rc;
}

// kiln_empty_attr writes a float64 attribute of shape (0,), as h5py writes
// an empty list.
static int kiln_empty_attr(hid_t obj, const char *name) {
	hsize_t d = 0;
	hid_t sp = H5Screate_simple(1, &d, NULL);
	hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
	H5Sclose(sp);
	if (a < 0) return -1;
	H5Aclose(a);
	return 0;
}

// kiln_dataset writes a contiguous dataset; kind 0 float32, 1 int64,
// 2 float64; rank 0 is a scalar.
static int kiln_dataset(hid_t loc, const char *name, int rank, const hsize_t *dims, const void *data, int kind) {
	hid_t ft = kind == 1 ? H5T_STD_I64LE : kind == 2 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
	hid_t mt = kind == 1 ? H5T_NATIVE_LLONG : kind == 2 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
	hid_t sp = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
	hid_t p = kiln_lcpl();
	hid_t d = H5Dcreate2(loc, name, ft, sp, p, H5P_DEFAULT, H5P_DEFAULT);
	H5Pclose(p);
	H5Sclose(sp);
	if (d < 0) return -1;
	int rc = 0;
	hssize_t n = 1;
	for (int i = 0; i < rank; i++) n *= (hssize_t)dims[i];
	if (n > 0) rc = (int)H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
	H5Dclose(d);
	return rc;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// wfile is an HDF5 file open for writing; every method is called with h5mu
// held.
type wfile struct {
	id C.hid_t
}

type wgroup struct {
	id   C.hid_t
	path string
}

func createH5(path string) (*wfile, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	id := C.kiln_create_file(cp)
	if id < 0 {
		return nil, fmt.Errorf("libhdf5 cannot create %s", path)
	}
	return &wfile{id: id}, nil
}

func (f *wfile) close() error {
	if C.kiln_close_file(f.id) < 0 {
		return fmt.Errorf("libhdf5 cannot close the file")
	}
	return nil
}

func (f *wfile) root() *wgroup { return &wgroup{id: f.id, path: ""} }

// group opens or creates a subgroup (parents included).
func (g *wgroup) group(name string) (*wgroup, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	id := C.kiln_group(g.id, cn)
	if id < 0 {
		return nil, fmt.Errorf("cannot create group %s/%s", g.path, name)
	}
	return &wgroup{id: id, path: g.path + "/" + name}, nil
}

func (g *wgroup) close() { C.kiln_close_group(g.id) }

// strLayout is how a string attribute is stored.
type strLayout struct {
	fixed  bool // fixed-length, null padded (numpy bytes arrays under h5py 2)
	utf8   bool
	scalar bool
}

func (g *wgroup) strAttr(name string, ss []string, lay strLayout) error {
	if lay.scalar && len(ss) != 1 {
		return fmt.Errorf("attribute %s: a scalar holds one string, not %d", name, len(ss))
	}
	var buf []byte
	each := 1
	for _, s := range ss {
		buf = append(buf, s...)
		buf = append(buf, 0)
		each = max(each, len(s))
	}
	buf = append(buf, 0)
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	cb := C.CBytes(buf)
	defer C.free(cb)
	b2i := func(b bool) C.int {
		if b {
			return 1
		}
		return 0
	}
	if C.kiln_str_attr(g.id, cn, (*C.char)(cb), C.long(len(ss)), C.size_t(each), b2i(!lay.fixed), b2i(lay.utf8), b2i(lay.scalar)) < 0 {
		return fmt.Errorf("cannot write attribute %s on %s", name, g.path)
	}
	return nil
}

func (g *wgroup) emptyAttr(name string) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if C.kiln_empty_attr(g.id, cn) < 0 {
		return fmt.Errorf("cannot write attribute %s on %s", name, g.path)
	}
	return nil
}

// float32s writes a float32 dataset (rank 0 for a scalar).
func (g *wgroup) float32s(name string, shape []int, data []float32) error {
	return g.dataset(name, shape, unsafe.Pointer(unsafe.SliceData(data)), len(data), 0)
}

func (g *wgroup) int64s(name string, shape []int, data []int64) error {
	return g.dataset(name, shape, unsafe.Pointer(unsafe.SliceData(data)), len(data), 1)
}

func (g *wgroup) float64s(name string, shape []int, data []float64) error {
	return g.dataset(name, shape, unsafe.Pointer(unsafe.SliceData(data)), len(data), 2)
}

func (g *wgroup) dataset(name string, shape []int, data unsafe.Pointer, n int, kind int) error {
	want := 1
	dims := make([]C.hsize_t, len(shape)+1)
	for i, d := range shape {
		dims[i] = C.hsize_t(d)
		want *= d
	}
	if want != n {
		return fmt.Errorf("dataset %s/%s: shape %v holds %d values, got %d", g.path, name, shape, want, n)
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	// libhdf5 reads the data synchronously; copy it to C memory so no Go
	// pointer is held across the call beyond what cgo allows.
	size := n * 4
	if kind != 0 {
		size = n * 8
	}
	var cbuf unsafe.Pointer
	if n > 0 {
		cbuf = C.CBytes(unsafe.Slice((*byte)(data), size))
		defer C.free(cbuf)
	}
	if C.kiln_dataset(g.id, cn, C.int(len(shape)), &dims[0], cbuf, C.int(kind)) < 0 {
		return fmt.Errorf("cannot write dataset %s/%s", g.path, name)
	}
	return nil
}
