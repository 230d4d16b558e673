package h5

// tree describes the structure of an HDF5 file (groups, datasets with their
// element types and shapes, attributes with their exact string layouts), so
// a test can compare what kiln writes with what Keras and h5py wrote.

/*
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "hdf5.h"

typedef struct { char *buf; size_t len, cap; } kiln_sb;

static void kiln_sb_add(kiln_sb *s, const char *txt) {
	size_t l = strlen(txt);
	if (s->len + l + 1 > s->cap) {
		size_t nc = (s->cap ? s->cap * 2 : 4096);
		while (nc < s->len + l + 1) nc *= 2;
		char *nb = realloc(s->buf, nc);
		if (!nb) return;
		s->buf = nb; s->cap = nc;
	}
	memcpy(s->buf + s->len, txt, l + 1);
	s->len += l;
}

// kiln_type_desc writes a short description of a datatype.
static void kiln_type_desc(hid_t t, char *out, size_t n) {
	H5T_class_t c = H5Tget_class(t);
	size_t sz = H5Tget_size(t);
	switch (c) {
	case H5T_STRING: {
		int v = H5Tis_variable_str(t) > 0;
		H5T_cset_t cs = H5Tget_cset(t);
		H5T_str_t pad = H5Tget_strpad(t);
		const char *pads = pad == H5T_STR_NULLTERM ? "nullterm" : pad == H5T_STR_NULLPAD ? "nullpad" : "spacepad";
		if (v) snprintf(out, n, "string(vlen,%s,%s)", cs == H5T_CSET_UTF8 ? "utf8" : "ascii", pads);
		else snprintf(out, n, "string(fixed,%s,%s)", cs == H5T_CSET_UTF8 ? "utf8" : "ascii", pads);
		break;
	}
	case H5T_FLOAT: snprintf(out, n, "float%d", (int)sz * 8); break;
	case H5T_INTEGER: snprintf(out, n, "%sint%d", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", (int)sz * 8); break;
	default: snprintf(out, n, "class%d/%d", (int)c, (int)sz); break;
	}
}

static void kiln_space_desc(hid_t sp, char *out, size_t n) {
	H5S_class_t c = H5Sget_simple_extent_type(sp);
	if (c == H5S_SCALAR) { snprintf(out, n, "scalar"); return; }
	if (c == H5S_NULL) { snprintf(out, n, "null"); return; }
	hsize_t dims[32];
	int r = H5Sget_simple_extent_ndims(sp);
	if (r < 0 || r > 32) { snprintf(out, n, "?"); return; }
	H5Sget_simple_extent_dims(sp, dims, NULL);
	size_t off = 0;
	off += snprintf(out + off, n - off, "[");
	for (int i = 0; i < r && off < n; i++) off += snprintf(out + off, n - off, i ? ",%llu" : "%llu", (unsigned long long)dims[i]);
	if (off < n) snprintf(out + off, n - off, "]");
}

static herr_t kiln_attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
	kiln_sb *s = data;
	hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
	if (a < 0) return 0;
	hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
	char td[128], sd[256], line[1024];
	kiln_type_desc(t, td, sizeof td);
	kiln_space_desc(sp, sd, sizeof sd);
	snprintf(line, sizeof line, "\tattr %s %s %s\n", name, td, sd);
	kiln_sb_add(s, line);
	H5Tclose(t); H5Sclose(sp); H5Aclose(a);
	return 0;
}

static void kiln_obj_desc(hid_t obj, const char *path, kiln_sb *s) {
	char line[2048], td[128], sd[256];
	H5I_type_t it = H5Iget_type(obj);
	if (it == H5I_DATASET) {
		hid_t t = H5Dget_type(obj), sp = H5Dget_space(obj);
		kiln_type_desc(t, td, sizeof td);
		kiln_space_desc(sp, sd, sizeof sd);
		H5Tclose(t); H5Sclose(sp);
		snprintf(line, sizeof line, "%s dataset %s %s\n", path, td, sd);
	} else {
		snprintf(line, sizeof line, "%s group\n", path);
	}
	kiln_sb_add(s, line);
	hsize_t idx = 0;
	H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, kiln_attr_cb, s);
}

static herr_t kiln_link_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
	if (info->type != H5L_TYPE_HARD) return 0;
	hid_t o = H5Oopen(g, name, H5P_DEFAULT);
	if (o < 0) return 0;
	char path[1024];
	snprintf(path, sizeof path, "/%s", name);
	kiln_obj_desc(o, path, data);
	H5Oclose(o);
	return 0;
}

// kiln_tree returns a malloc'd description of the whole file.
static char *kiln_tree(const char *file) {
	hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (f < 0) return NULL;
	kiln_sb s = {0};
	kiln_sb_add(&s, "");
	hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
	kiln_obj_desc(root, "/", &s);
	H5Lvisit(root, H5_INDEX_NAME, H5_ITER_INC, kiln_link_cb, &s);
	H5Gclose(root);
	H5Fclose(f);
	return s.buf;
}
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// treeOf describes every group, dataset and attribute of an HDF5 file, one
// per line, in name order: "/path group", "/path dataset float32 [3,4]",
// and under each "\tattr name string(fixed,ascii,nullpad) scalar".
func treeOf(path string) ([]string, error) {
	lockH5()
	defer h5mu.Unlock()
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	buf := C.kiln_tree(cp)
	if buf == nil {
		return nil, fmt.Errorf("h5: %s cannot be opened", path)
	}
	defer C.free(unsafe.Pointer(buf))
	s := C.GoString(buf)
	return strings.Split(strings.TrimRight(s, "\n"), "\n"), nil
}
