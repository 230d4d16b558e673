package kernel

import (
	"fmt"
	"unsafe"

	"github.com/kiln-ml/kiln/ops/tensor"
)

// Data-movement kernels (Gather, Concat, Split, Slice, Transpose, the
// reshape family when it cannot be a view, Shape, Constant,
// ConstantOfShape, Expand): they move whole elements, so they work on the
// bytes of any fixed-size element type (numbers and bool). Strings and the
// sub-byte types keep the reference ops.

// elemSize returns the byte size of dt's elements, or 0 when the kernels
// here cannot move them as bytes.
func elemSize(dt tensor.DType) int {
	switch dt {
	case tensor.Float32, tensor.Int32, tensor.Uint32:
		return 4
	case tensor.Float64, tensor.Int64, tensor.Uint64:
		return 8
	case tensor.Float16, tensor.BFloat16, tensor.Int16, tensor.Uint16:
		return 2
	case tensor.Int8, tensor.Uint8, tensor.Bool:
		return 1
	}
	return 0
}

// rawBytes returns t's elements as bytes (shared).
func rawBytes(t *tensor.Tensor) []byte {
	n := t.Len() * elemSize(t.DType())
	if n == 0 {
		return nil
	}
	var p unsafe.Pointer
	switch d := t.Data().(type) {
	case []float32:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []float64:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []int64:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []int32:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []uint32:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []uint64:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []int16:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []uint16:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []tensor.Half:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []tensor.BHalf:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []int8:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []uint8:
		p = unsafe.Pointer(unsafe.SliceData(d))
	case []bool:
		p = unsafe.Pointer(unsafe.SliceData(d))
	default:
		panic(fmt.Sprintf("kernel: no byte view of %v", t.DType()))
	}
	return unsafe.Slice((*byte)(p), n)
}

// movable reports whether every listed arg has a byte-movable type.
func movable(args ...Arg) bool {
	for _, a := range args {
		if elemSize(a.DType) == 0 {
			return false
		}
	}
	return true
}

// readInts reads an int32/int64 tensor's values into dst (no allocation
// when dst is large enough) and returns them.
func readInts(t *tensor.Tensor, dst []int) []int {
	dst = dst[:0]
	switch d := t.Data().(type) {
	case []int64:
		for _, v := range d {
			dst = append(dst, int(v))
		}
	case []int32:
		for _, v := range d {
			dst = append(dst, int(v))
		}
	}
	return dst
}

func normAxis(ax, rank int) (int, bool) {
	if ax < 0 {
		ax += rank
	}
	return ax, ax >= 0 && ax < rank
}

// ---- copy (reshape family when the planner could not make a view)

func copyKernel(s *Spec) Kernel {
	if len(s.In) < 1 || len(s.Out) < 1 || s.In[0].DType != s.Out[0].DType || !movable(s.In[0]) || s.In[0].Shape.Size() != s.Out[0].Shape.Size() {
		return nil
	}
	return KernelFunc(func(env *Env, in, out []*tensor.Tensor) { copy(rawBytes(out[0]), rawBytes(in[0])) })
}

// ---- Shape, Constant, ConstantOfShape: outputs fixed at plan time

func shapeKernel(s *Spec) Kernel {
	if len(s.Out) != 1 || s.Out[0].DType != tensor.Int64 {
		return nil
	}
	sh := s.In[0].Shape
	r := len(sh)
	start, end := int(s.Node.Attrs.Int("start", 0)), int(s.Node.Attrs.Int("end", int64(r)))
	if start < 0 {
		start += r
	}
	if end < 0 {
		end += r
	}
	start, end = min(max(start, 0), r), min(max(end, 0), r)
	var vals []int64
	for i := start; i < end; i++ {
		vals = append(vals, int64(sh[i]))
	}
	if len(vals) != s.Out[0].Shape.Size() {
		return nil
	}
	return KernelFunc(func(env *Env, in, out []*tensor.Tensor) { copy(out[0].I64(), vals) })
}

func constantKernel(s *Spec) Kernel {
	v := s.Node.Attrs.Tensor("value")
	if v == nil || len(s.Out) != 1 || v.DType() != s.Out[0].DType || !movable(s.Out[0]) || v.Len() != s.Out[0].Shape.Size() {
		return nil
	}
	src := rawBytes(v)
	return KernelFunc(func(env *Env, in, out []*tensor.Tensor) { copy(rawBytes(out[0]), src) })
}

func constantOfShapeKernel(s *Spec) Kernel {
	if len(s.Out) != 1 || !movable(s.Out[0]) {
		return nil
	}
	es := elemSize(s.Out[0].DType)
	val := make([]byte, es) // default: float32 zero
	if v := s.Node.Attrs.Tensor("value"); v != nil {
		if v.DType() != s.Out[0].DType || v.Len() != 1 {
			return nil
		}
		copy(val, rawBytes(v))
	}
	return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
		b := rawBytes(out[0])
		for i := 0; i < len(b); i += es {
			copy(b[i:i+es], val)
		}
	})
}

// ---- Gather (axis, int32/int64 indices)

func gatherKernel(s *Spec) Kernel {
	if len(s.In) != 2 || len(s.Out) != 1 || !movable(s.In[0]) || s.In[0].DType != s.Out[0].DType {
		return nil
	}
	if it := s.In[1].DType; it != tensor.Int64 && it != tensor.Int32 {
		return nil
	}
	ds := s.In[0].Shape
	ax, ok := normAxis(int(s.Node.Attrs.Int("axis", 0)), len(ds))
	if !ok {
		return nil
	}
	es := elemSize(s.In[0].DType)
	outer := ds[:ax].Size()
	dim := ds[ax]
	inner := ds[ax+1:].Size() * es
	nidx := s.In[1].Shape.Size()
	return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
		src, dst := rawBytes(in[0]), rawBytes(out[0])
		i64, _ := in[1].Data().([]int64)
		i32, _ := in[1].Data().([]int32)
		o := 0
		for a := 0; a < outer; a++ {
			base := a * dim * inner
			for j := 0; j < nidx; j++ {
				var ix int
				if i64 != nil {
					ix = int(i64[j])
				} else {
					ix = int(i32[j])
				}
				if ix < 0 {
					ix += dim
				}
				if ix < 0 || ix >= dim {
					BadValue("index %d out of range [%d, %d)", ix, -dim, dim)
				}
				copy(dst[o:o+inner], src[base+ix*inner:base+(ix+1)*inner])
				o += inner
			}
		}
	})
}

// ---- Concat and Split

func concatKernel(s *Spec) Kernel {
	if len(s.Out) != 1 || len(s.In) == 0 || !movable(s.Out[0]) {
		return nil
	}
	os := s.Out[0].Shape
	ax, ok := normAxis(int(s.Node.Attrs.Int("axis", 0)), len(os))
	if !ok {
		return nil
	}
	es := elemSize(s.Out[0].DType)
	outer := os[:ax].Size()
	inner := os[ax+1:].Size() * es
	chunk := make([]int, len(s.In))
	for i, a := range s.In {
		if a.DType != s.Out[0].DType || len(a.Shape) != len(os) {
			return nil
		}
		chunk[i] = a.Shape[ax] * inner
	}
	rowOut := os[ax] * inner
	return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
		dst := rawBytes(out[0])
		off := 0
		for i, t := range in {
			c := chunk[i]
			if c == 0 {
				continue
			}
			src := rawBytes(t)
			for a := 0; a < outer; a++ {
				copy(dst[a*rowOut+off:a*rowOut+off+c], src[a*c:(a+1)*c])
			}
			off += c
		}
	})
}

func splitKernel(s *Spec) Kernel {
	if len(s.In) < 1 || !movable(s.In[0]) {
		return nil
	}
	is := s.In[0].Shape
	ax, ok := normAxis(int(s.Node.Attrs.Int("axis", 0)), len(is))
	if !ok {
		return nil
	}
	es := elemSize(s.In[0].DType)
	outer := is[:ax].Size()
	inner := is[ax+1:].Size() * es
	chunk := make([]int, len(s.Out))
	total := 0
	for i, a := range s.Out {
		if a.DType == tensor.Undefined {
			return nil // an unused output: keep the reference
		}
		chunk[i] = a.Shape[ax] * inner
		total += a.Shape[ax]
	}
	if total != is[ax] {
		return nil
	}
	rowIn := is[ax] * inner
	return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
		src := rawBytes(in[0])
		off := 0
		for i, t := range out {
			c := chunk[i]
			if c == 0 {
				continue
			}
			dst := rawBytes(t)
			for a := 0; a < outer; a++ {
				copy(dst[a*c:(a+1)*c], src[a*rowIn+off:a*rowIn+off+c])
			}
			off += c
		}
	})
}

// ---- Slice (starts/ends/axes/steps read at run time; the output shape
// was fixed by the plan)

type sliceK struct {
	es   int
	in   tensor.Shape
	out  tensor.Shape
	istr []int
}

const maxSliceRank = 8

func sliceKernel(s *Spec) Kernel {
	if len(s.In) < 3 || len(s.Out) != 1 || !movable(s.In[0]) || s.In[0].DType != s.Out[0].DType || len(s.In[0].Shape) > maxSliceRank {
		return nil
	}
	for _, a := range s.In[1:] {
		if a.DType != tensor.Undefined && a.DType != tensor.Int64 && a.DType != tensor.Int32 {
			return nil
		}
	}
	if s.In[0].Shape.Size() == 0 || s.Out[0].Shape.Size() == 0 {
		return nil
	}
	return &sliceK{es: elemSize(s.In[0].DType), in: s.In[0].Shape, out: s.Out[0].Shape, istr: s.In[0].Shape.Strides()}
}

// Run runs single-threaded; the plan calls a kernel from one goroutine per
// execution state, but one kernel value is shared by concurrent states,
// so all per-run values live on the stack.
func (k *sliceK) Run(env *Env, in, out []*tensor.Tensor) {
	r := len(k.in)
	var start, step [maxSliceRank]int
	var st, axs, sp [maxSliceRank]int
	for i := 0; i < r; i++ {
		start[i], step[i] = 0, 1
	}
	starts := readIntsArr(in[1], st[:0])
	var axes, steps []int
	if len(in) > 3 && in[3] != nil {
		axes = readIntsArr(in[3], axs[:0])
	}
	if len(in) > 4 && in[4] != nil {
		steps = readIntsArr(in[4], sp[:0])
	}
	for i := range starts {
		ax := i
		if axes != nil {
			ax = axes[i]
			if ax < 0 {
				ax += r
			}
		}
		d := k.in[ax]
		stp := 1
		if steps != nil {
			stp = steps[i]
		}
		b := starts[i]
		if b < 0 {
			b += d
		}
		if stp > 0 {
			b = min(max(b, 0), d)
		} else {
			b = min(max(b, 0), d-1)
		}
		start[ax], step[ax] = b, stp
	}
	src, dst := rawBytes(in[0]), rawBytes(out[0])
	es := k.es
	// Copy rows of the last axis (contiguous when its step is 1).
	last := r - 1
	var idx [maxSliceRank]int
	o := 0
	n := k.out[last]
	for {
		off := 0
		for d := 0; d < last; d++ {
			off += (start[d] + idx[d]*step[d]) * k.istr[d]
		}
		if step[last] == 1 {
			p := (off + start[last]) * es
			copy(dst[o:o+n*es], src[p:p+n*es])
			o += n * es
		} else {
			for j := 0; j < n; j++ {
				p := (off + start[last] + j*step[last]) * es
				copy(dst[o:o+es], src[p:p+es])
				o += es
			}
		}
		d := last - 1
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < k.out[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

func readIntsArr(t *tensor.Tensor, dst []int) []int {
	if t.Len() > cap(dst) {
		panic("kernel: Slice: too many axes")
	}
	return readInts(t, dst)
}

// ---- Transpose

type transposeK struct {
	es   int
	n    int
	dims []int // merged output dims
	istr []int // input stride (elements) per merged output dim
	// rows: the last merged dim is contiguous in the input (istr = 1).
	rows bool
	// units are what transposeT splits between parts: output rows (rows,
	// or one merged dim), else R x C blocks of the last two dims.
	units, parts int
}

func transposeKernel(s *Spec) Kernel {
	if len(s.In) != 1 || len(s.Out) != 1 || !movable(s.In[0]) {
		return nil
	}
	is := s.In[0].Shape
	r := len(is)
	perm := make([]int, r)
	if p := s.Node.Attrs.Ints("perm"); len(p) > 0 {
		if len(p) != r {
			return nil
		}
		for i, v := range p {
			perm[i] = int(v)
		}
	} else {
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	str := is.Strides()
	// Drop size-1 dims, merge output dims that are adjacent in the input.
	var dims, istr []int
	for _, p := range perm {
		if is[p] == 1 {
			continue
		}
		if len(dims) > 0 && istr[len(istr)-1] == str[p]*is[p] {
			dims[len(dims)-1] *= is[p]
			istr[len(istr)-1] = str[p]
			continue
		}
		dims = append(dims, is[p])
		istr = append(istr, str[p])
	}
	if len(dims) == 0 {
		dims, istr = []int{1}, []int{1}
	}
	if len(dims) > 16 {
		return nil
	}
	k := &transposeK{es: elemSize(s.In[0].DType), n: is.Size(), dims: dims, istr: istr}
	k.rows = istr[len(istr)-1] == 1
	if k.rows || len(dims) == 1 {
		k.units = k.n / dims[len(dims)-1]
	} else {
		k.units = k.n / (dims[len(dims)-1] * dims[len(dims)-2])
	}
	// Large transposes (the layout changes of training graphs) are split
	// over the threads; a part moves at least 64K elements.
	k.parts = max(1, min(s.Threads, k.units, k.n/(1<<16)))
	if k.es != 4 {
		k.parts = 1
	}
	if k.n == 0 {
		return KernelFunc(func(*Env, []*tensor.Tensor, []*tensor.Tensor) {})
	}
	return k
}

// RunPart moves part i of k.parts of the units.
func (k *transposeK) RunPart(i int, in, out []*tensor.Tensor) {
	u0, u1 := i*k.units/k.parts, (i+1)*k.units/k.parts
	transposeT(k, in[0].Data(), out[0].Data(), u0, u1)
}

func (k *transposeK) Run(env *Env, in, out []*tensor.Tensor) {
	if k.es == 4 {
		if k.parts > 1 && env.Pool != nil {
			env.Pool.ParallelTask(k.parts, k, in, out)
			return
		}
		transposeT(k, in[0].Data(), out[0].Data(), 0, k.units)
		return
	}
	src, dst := rawBytes(in[0]), rawBytes(out[0])
	es := k.es
	r := len(k.dims)
	var idx [16]int
	last := k.dims[r-1]
	o := 0
	for o < len(dst) {
		off := 0
		for d := 0; d < r-1; d++ {
			off += idx[d] * k.istr[d]
		}
		if k.rows {
			copy(dst[o:o+last*es], src[off*es:(off+last)*es])
			o += last * es
		} else {
			for j := 0; j < last; j++ {
				p := (off + j*k.istr[r-1]) * es
				copy(dst[o:o+es], src[p:p+es])
				o += es
			}
		}
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			if idx[d] < k.dims[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// transposeT moves 4-byte elements (float32, int32) with typed loads;
// when the innermost output dim is strided, it walks 2-D tiles of the last
// two merged dims so that both sides stay in cache. It moves the output
// units [u0, u1): rows of the last merged dim when that dim is contiguous
// in the input, else R x C blocks of the last two.
func transposeT(k *transposeK, s, d any, u0, u1 int) {
	var src, dst []uint32
	switch v := s.(type) {
	case []float32:
		src = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
		dv := d.([]float32)
		dst = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(dv))), len(dv))
	default:
		b := rawBytes4(s)
		src = b
		dst = rawBytes4(d)
	}
	r := len(k.dims)
	if k.rows || r == 1 {
		var idx [16]int
		k.unitIndex(idx[:r-1], u0)
		last := k.dims[r-1]
		for o := u0 * last; o < u1*last; o += last {
			off := 0
			for dd := 0; dd < r-1; dd++ {
				off += idx[dd] * k.istr[dd]
			}
			if k.rows {
				copy(dst[o:o+last], src[off:off+last])
			} else {
				st := k.istr[r-1]
				for j := range last {
					dst[o+j] = src[off+j*st]
				}
			}
			for dd := r - 2; dd >= 0; dd-- {
				idx[dd]++
				if idx[dd] < k.dims[dd] {
					break
				}
				idx[dd] = 0
			}
		}
		return
	}
	// Outer dims [0, r-2), then an R x C tile loop over the last two.
	R, C := k.dims[r-2], k.dims[r-1]
	sr, sc := k.istr[r-2], k.istr[r-1]
	var idx [16]int
	k.unitIndex(idx[:r-2], u0)
	const tb = 32
	for o := u0 * R * C; o < u1*R*C; o += R * C {
		off := 0
		for dd := 0; dd < r-2; dd++ {
			off += idx[dd] * k.istr[dd]
		}
		blk := dst[o : o+R*C]
		for i0 := 0; i0 < R; i0 += tb {
			for j0 := 0; j0 < C; j0 += tb {
				for i := i0; i < min(i0+tb, R); i++ {
					row := blk[i*C : (i+1)*C]
					b := off + i*sr
					for j := j0; j < min(j0+tb, C); j++ {
						row[j] = src[b+j*sc]
					}
				}
			}
		}
		for dd := r - 3; dd >= 0; dd-- {
			idx[dd]++
			if idx[dd] < k.dims[dd] {
				break
			}
			idx[dd] = 0
		}
	}
}

// unitIndex sets idx to the multi-index (over the leading merged dims
// len(idx) of them) of output unit u.
func (k *transposeK) unitIndex(idx []int, u int) {
	for dd := len(idx) - 1; dd >= 0; dd-- {
		idx[dd] = u % k.dims[dd]
		u /= k.dims[dd]
	}
}

func rawBytes4(d any) []uint32 {
	switch v := d.(type) {
	case []int32:
		return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
	case []uint32:
		return v
	}
	panic("kernel: transpose: not a 4-byte type")
}

// ---- Expand (numpy broadcast of the input to the planned output shape)

func expandKernel(s *Spec) Kernel {
	if len(s.In) < 1 || len(s.Out) != 1 || !movable(s.In[0]) || s.In[0].DType != s.Out[0].DType {
		return nil
	}
	idx := tensor.BroadcastIndex(s.In[0].Shape, s.Out[0].Shape)
	es := elemSize(s.In[0].DType)
	return KernelFunc(func(env *Env, in, out []*tensor.Tensor) {
		src, dst := rawBytes(in[0]), rawBytes(out[0])
		for i, j := range idx {
			copy(dst[i*es:(i+1)*es], src[j*es:(j+1)*es])
		}
	})
}

func init() {
	for _, op := range []string{"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"} {
		Register("", op, op+"/copy", 10, copyKernel)
	}
	Register("", "Shape", "Shape/fixed", 10, shapeKernel)
	Register("", "Constant", "Constant/copy", 10, constantKernel)
	Register("", "ConstantOfShape", "ConstantOfShape/fill", 10, constantOfShapeKernel)
	Register("", "Gather", "Gather/bytes", 10, gatherKernel)
	Register("", "Concat", "Concat/bytes", 10, concatKernel)
	Register("", "Split", "Split/bytes", 10, splitKernel)
	Register("", "Slice", "Slice/bytes", 10, sliceKernel)
	Register("", "Transpose", "Transpose/bytes", 10, transposeKernel)
	Register("", "Expand", "Expand/bytes", 10, expandKernel)
}
