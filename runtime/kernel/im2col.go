package kernel

// Im2col unrolls one NCHW image for Conv as GEMM: with the image x of
// shape [c, h, w], kernel [kh, kw], strides [sh, sw], dilations [dh, dw]
// and padding top/left [pt, pl] (bottom/right follow from oh, ow), it
// writes the (c*kh*kw) x (oh*ow) matrix col, row-major,
//
//	col[((ci*kh+ki)*kw+kj)*oh*ow + oy*ow + ox] = x[ci][oy*sh-pt+ki*dh][ox*sw-pl+kj*dw]
//
// with zeros where the index falls in the padding. Then, for the weights
// W [m, c*kh*kw] (ONNX Conv's [M, C/group, kH, kW] with group 1),
// Y[m, oh*ow] = W * col. col must hold c*kh*kw*oh*ow floats.
func Im2col(col, x []float32, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow int) {
	n := oh * ow
	for ci := 0; ci < c; ci++ {
		img := x[ci*h*w : (ci+1)*h*w]
		for ki := 0; ki < kh; ki++ {
			for kj := 0; kj < kw; kj++ {
				row := col[((ci*kh+ki)*kw+kj)*n : ((ci*kh+ki)*kw+kj+1)*n]
				// Columns ox in [ox0, ox1) read inside the image.
				x0 := kj*dw - pl
				ox0 := 0
				if x0 < 0 {
					ox0 = min((-x0+sw-1)/sw, ow)
				}
				ox1 := ow
				if last := x0 + (ow-1)*sw; last >= w {
					ox1 = max(min((w-1-x0)/sw+1, ow), ox0)
				}
				for oy := 0; oy < oh; oy++ {
					out := row[oy*ow : oy*ow+ow]
					iy := oy*sh - pt + ki*dh
					if iy < 0 || iy >= h {
						clear(out)
						continue
					}
					src := img[iy*w : iy*w+w]
					clear(out[:ox0])
					clear(out[ox1:])
					if sw == 1 {
						copy(out[ox0:ox1], src[x0+ox0:x0+ox1])
						continue
					}
					for ox := ox0; ox < ox1; ox++ {
						out[ox] = src[x0+ox*sw]
					}
				}
			}
		}
	}
}
