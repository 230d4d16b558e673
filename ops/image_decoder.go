package ops

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // registers GIF with image.Decode
	"image/jpeg"
	_ "image/png" // registers PNG with image.Decode
	"strconv"

	_ "golang.org/x/image/bmp"  // registers BMP with image.Decode
	_ "golang.org/x/image/tiff" // registers TIFF with image.Decode
	"golang.org/x/image/webp"

	"github.com/kiln-ml/kiln/ops/graph"
	"github.com/kiln-ml/kiln/ops/tensor"
)

// ImageDecoder decodes an encoded image (ONNX ImageDecoder-20): the 1-D
// uint8 tensor encoded_stream holds a whole file; the output is the [H, W,
// C] uint8 image with C = 3 for pixel_format "RGB" (default) or "BGR" and
// C = 1 for "Grayscale". Alpha is dropped.
//
// Formats: JPEG, PNG, GIF (first frame), BMP, TIFF, WebP and binary or ASCII
// PNM (P2/P3/P5/P6). JPEG 2000 is not supported (ErrUnsupported).
// ONNX's reference decodes with Pillow, i.e. libjpeg(-turbo) and libwebp, so
// kiln reproduces their colour pipelines: chroma subsampled 2x horizontally
// and/or vertically is upsampled with the libjpeg "fancy" (triangular) filter
// for JPEG and libwebp's fancy upsampler for WebP, then converted to RGB with
// each library's fixed-point formulas; Grayscale from colour is
// (19595·R + 38470·G + 7471·B + 2^15) >> 16 as in Pillow. JPEG's inverse DCT
// is Go's, which may differ from libjpeg's by ±1 in a few pixels.
var ImageDecoder = &Def{Name: "ImageDecoder", Infer: rsImageInfer, Kernel: rsImageKernel}

func init() { Register(ImageDecoder) }

func rsImageChannels(n *graph.Node) (int, error) {
	switch f := n.Attrs.String("pixel_format", "RGB"); f {
	case "RGB", "BGR":
		return 3, nil
	case "Grayscale":
		return 1, nil
	default:
		return 0, Errorf(n, "pixel_format %q must be RGB, BGR or Grayscale", f)
	}
}

func rsImageInfer(ic *InferContext) ([]graph.Type, error) {
	c, err := rsImageChannels(ic.Node)
	if err != nil {
		return nil, err
	}
	return []graph.Type{graph.TensorType(tensor.Uint8, -1, -1, c)}, nil
}

func rsImageKernel(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x := rsIn(in, 0)
	if x == nil || x.DType() != tensor.Uint8 || x.Rank() != 1 {
		return nil, Errorf(n, "encoded_stream must be a 1-D uint8 tensor")
	}
	C, err := rsImageChannels(n)
	if err != nil {
		return nil, err
	}
	data := x.U8()
	var rgb []uint8 // H·W·3, or H·W for a grayscale source
	var W, H int
	gray := false
	switch {
	case len(data) >= 12 && (bytes.HasPrefix(data, []byte{0, 0, 0, 0x0c, 'j', 'P', ' ', ' '}) || bytes.HasPrefix(data, []byte{0xff, 0x4f, 0xff, 0x51})):
		return nil, Unsupported(n, "JPEG 2000 images")
	case len(data) >= 2 && data[0] == 'P' && data[1] >= '2' && data[1] <= '6' && data[1] != '4':
		rgb, W, H, gray, err = rsDecodePNM(data)
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		var img image.Image
		if img, err = webp.Decode(bytes.NewReader(data)); err == nil {
			rgb, W, H, gray = rsPixels(img, rsWebPToRGB, true)
		}
	case len(data) >= 2 && data[0] == 0xff && data[1] == 0xd8:
		var img image.Image
		if img, err = jpeg.Decode(bytes.NewReader(data)); err == nil {
			rgb, W, H, gray = rsPixels(img, rsJPEGToRGB, false)
		}
	default:
		var img image.Image
		if img, _, err = image.Decode(bytes.NewReader(data)); err == nil {
			rgb, W, H, gray = rsPixels(img, nil, false)
		}
	}
	if err != nil {
		return nil, Errorf(n, "cannot decode the image: %v", err)
	}
	out := make([]uint8, H*W*C)
	bgr := n.Attrs.String("pixel_format", "RGB") == "BGR"
	for i := 0; i < H*W; i++ {
		var r, g, b uint8
		if gray {
			r, g, b = rgb[i], rgb[i], rgb[i]
		} else {
			r, g, b = rgb[3*i], rgb[3*i+1], rgb[3*i+2]
		}
		switch {
		case C == 1 && gray:
			out[i] = r
		case C == 1:
			out[i] = uint8((19595*int(r) + 38470*int(g) + 7471*int(b) + 1<<15) >> 16)
		case bgr:
			out[3*i], out[3*i+1], out[3*i+2] = b, g, r
		default:
			out[3*i], out[3*i+1], out[3*i+2] = r, g, b
		}
	}
	return []*tensor.Tensor{tensor.From(tensor.Shape{H, W, C}, out)}, nil
}

// rsPixels flattens a decoded image to RGB bytes (or gray bytes when the
// image is single-channel). conv, when set, converts a YCbCr image the way
// the format's reference library does (webpStyle picks libwebp's chroma
// upsampler over libjpeg's).
func rsPixels(img image.Image, conv func(y, cb, cr uint8) (uint8, uint8, uint8), webpStyle bool) ([]uint8, int, int, bool) {
	bd := img.Bounds()
	W, H := bd.Dx(), bd.Dy()
	switch m := img.(type) {
	case *image.Gray:
		out := make([]uint8, W*H)
		for y := 0; y < H; y++ {
			copy(out[y*W:(y+1)*W], m.Pix[y*m.Stride:y*m.Stride+W])
		}
		return out, W, H, true
	case *image.YCbCr:
		if conv != nil {
			return rsYCbCr(m, conv, webpStyle), W, H, false
		}
	}
	out := make([]uint8, 3*W*H)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			c := color.NRGBAModel.Convert(img.At(bd.Min.X+x, bd.Min.Y+y)).(color.NRGBA)
			i := 3 * (y*W + x)
			out[i], out[i+1], out[i+2] = c.R, c.G, c.B
		}
	}
	return out, W, H, false
}

// rsYCbCr upsamples the chroma planes of m to full resolution and converts
// to RGB with conv. JPEG uses libjpeg's fancy upsampling, WebP libwebp's
// (they agree for the 2x2 case up to rounding, which differs; each is
// reproduced).
func rsYCbCr(m *image.YCbCr, conv func(y, cb, cr uint8) (uint8, uint8, uint8), webpStyle bool) []uint8 {
	bd := m.Rect
	W, H := bd.Dx(), bd.Dy()
	cw, ch := W, H
	sx, sy := 1, 1
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		sx, cw = 2, (W+1)/2
	case image.YCbCrSubsampleRatio420:
		sx, sy, cw, ch = 2, 2, (W+1)/2, (H+1)/2
	case image.YCbCrSubsampleRatio440:
		sy, ch = 2, (H+1)/2
	case image.YCbCrSubsampleRatio444:
	default:
		return nil
	}
	plane := func(p []uint8) []uint8 {
		out := make([]uint8, cw*ch)
		for y := 0; y < ch; y++ {
			copy(out[y*cw:(y+1)*cw], p[y*m.CStride:y*m.CStride+cw])
		}
		return out
	}
	up := func(p []uint8) []uint8 {
		if sx == 1 && sy == 1 {
			return p
		}
		if webpStyle && sx == 2 && sy == 2 {
			return rsUpWebP(p, cw, ch, W, H)
		}
		return rsUpJPEG(p, cw, ch, W, H, sx, sy)
	}
	cb, cr := up(plane(m.Cb)), up(plane(m.Cr))
	out := make([]uint8, 3*W*H)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			i := y*W + x
			out[3*i], out[3*i+1], out[3*i+2] = conv(m.Y[y*m.YStride+x], cb[i], cr[i])
		}
	}
	return out
}

// rsUpJPEG is libjpeg's fancy upsampling of a chroma plane (cw×ch) to W×H
// for 2x horizontal (h2v1) and/or 2x vertical subsampling: each output
// sample is the 3:1 weighted average of its nearest and next-nearest input
// samples per subsampled axis, with libjpeg's alternating rounding biases.
func rsUpJPEG(p []uint8, cw, ch, W, H, sx, sy int) []uint8 {
	at := func(x, y int) int {
		x = min(max(x, 0), cw-1)
		y = min(max(y, 0), ch-1)
		return int(p[y*cw+x])
	}
	out := make([]uint8, W*H)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			var v int
			switch {
			case sx == 2 && sy == 2:
				cy, cx := y/2, x/2
				ny := cy - 1
				if y%2 == 1 {
					ny = cy + 1
				}
				col := func(c int) int { return 3*at(c, cy) + at(c, ny) }
				this := col(cx)
				switch {
				case x%2 == 0 && cx == 0:
					v = (this*4 + 8) >> 4
				case x%2 == 0:
					v = (this*3 + col(cx-1) + 8) >> 4
				case cx == cw-1:
					v = (this*4 + 7) >> 4
				default:
					v = (this*3 + col(cx+1) + 7) >> 4
				}
			case sx == 2:
				cx := x / 2
				this := at(cx, y)
				switch {
				case x%2 == 0 && cx == 0, x%2 == 1 && cx == cw-1:
					v = this
				case x%2 == 0:
					v = (this*3 + at(cx-1, y) + 1) >> 2
				default:
					v = (this*3 + at(cx+1, y) + 2) >> 2
				}
			default: // sy == 2: libjpeg replicates rows (no fancy filter for h1v2 in older libjpeg); use the triangular filter like h2v2.
				cy := y / 2
				ny := cy - 1
				bias := 1
				if y%2 == 1 {
					ny, bias = cy+1, 2
				}
				v = (3*at(x, cy) + at(x, ny) + bias) >> 2
			}
			out[y*W+x] = uint8(v)
		}
	}
	return out
}

// rsUpWebP is libwebp's fancy 4:2:0 chroma upsampler: output pixels between
// four chroma samples get (9a + 3b + 3c + d)/16 computed in two rounded
// steps as libwebp does.
func rsUpWebP(p []uint8, cw, ch, W, H int) []uint8 {
	out := make([]uint8, W*H)
	row := func(y int) []int {
		r := make([]int, cw)
		for i := range r {
			r[i] = int(p[y*cw+i])
		}
		return r
	}
	// emit writes output row oy from chroma rows near (nearest) and far.
	emit := func(oy int, near, far []int) {
		o := out[oy*W : (oy+1)*W]
		o[0] = uint8((3*near[0] + far[0] + 2) >> 2)
		tl, l := far[0], near[0]
		for x := 1; x <= (W-1)>>1; x++ {
			t, u := far[x], near[x]
			avg := tl + t + l + u + 8
			d12 := (avg + 2*(t+l)) >> 3
			d03 := (avg + 2*(tl+u)) >> 3
			o[2*x-1] = uint8((d03 + l) >> 1)
			o[2*x] = uint8((d12 + u) >> 1)
			tl, l = t, u
		}
		if W&1 == 0 {
			o[W-1] = uint8((3*l + tl + 2) >> 2)
		}
	}
	for oy := 0; oy < H; oy++ {
		cy := oy / 2
		var near, far []int
		switch {
		case oy == 0:
			near, far = row(0), row(0)
		case oy%2 == 1: // top line of a pair: nearest chroma row is cy, the other cy+1
			near = row(cy)
			far = row(min(cy+1, ch-1))
			if cy+1 >= ch {
				far = near
			}
		default: // bottom line of a pair: nearest cy, other cy-1
			near, far = row(cy), row(cy-1)
		}
		emit(oy, near, far)
	}
	return out
}

// rsJPEGToRGB is libjpeg's YCbCr→RGB conversion (16-bit fixed point, the
// tables of jdcolor.c).
func rsJPEGToRGB(y, cb, cr uint8) (uint8, uint8, uint8) {
	const half = 1 << 15
	fix := func(f float64) int { return int(f*65536 + 0.5) }
	Y, b, r := int(y), int(cb)-128, int(cr)-128
	R := Y + ((fix(1.40200)*r + half) >> 16)
	G := Y + ((-fix(0.34414)*b - fix(0.71414)*r + half) >> 16)
	B := Y + ((fix(1.77200)*b + half) >> 16)
	return rsClip8(R), rsClip8(G), rsClip8(B)
}

// rsWebPToRGB is libwebp's YUV→RGB conversion (14-bit fixed point of
// dsp/yuv.h).
func rsWebPToRGB(y, u, v uint8) (uint8, uint8, uint8) {
	mh := func(v, c int) int { return (v * c) >> 8 }
	clip := func(v int) uint8 {
		if v&^((256<<6)-1) == 0 {
			return uint8(v >> 6)
		}
		if v < 0 {
			return 0
		}
		return 255
	}
	Y, U, V := int(y), int(u), int(v)
	R := clip(mh(Y, 19077) + mh(V, 26149) - 14234)
	G := clip(mh(Y, 19077) - mh(U, 6419) - mh(V, 13320) + 8708)
	B := clip(mh(Y, 19077) + mh(U, 33050) - 17685)
	return R, G, B
}

func rsClip8(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// rsDecodePNM decodes a PNM file: P2/P5 (gray) or P3/P6 (RGB), maxval up
// to 65535 (scaled to 8 bits).
func rsDecodePNM(d []byte) ([]uint8, int, int, bool, error) {
	kind := d[1]
	pos := 2
	field := func() (int, error) {
		for pos < len(d) {
			c := d[pos]
			if c == '#' {
				for pos < len(d) && d[pos] != '\n' {
					pos++
				}
				continue
			}
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				pos++
				continue
			}
			break
		}
		st := pos
		for pos < len(d) && d[pos] >= '0' && d[pos] <= '9' {
			pos++
		}
		if st == pos {
			return 0, fmt.Errorf("malformed PNM header")
		}
		return strconv.Atoi(string(d[st:pos]))
	}
	W, err := field()
	if err != nil {
		return nil, 0, 0, false, err
	}
	H, err := field()
	if err != nil {
		return nil, 0, 0, false, err
	}
	maxv, err := field()
	if err != nil {
		return nil, 0, 0, false, err
	}
	if W <= 0 || H <= 0 || maxv <= 0 || maxv > 65535 || W*H > 1<<28 {
		return nil, 0, 0, false, fmt.Errorf("bad PNM size %dx%d, maxval %d", W, H, maxv)
	}
	gray := kind == '2' || kind == '5'
	nc := 3
	if gray {
		nc = 1
	}
	n := W * H * nc
	out := make([]uint8, n)
	scale := func(v int) uint8 {
		if maxv == 255 {
			return uint8(v)
		}
		return uint8((min(v, maxv)*255 + maxv/2) / maxv)
	}
	if kind == '5' || kind == '6' {
		pos++ // the single whitespace after maxval
		bps := 1
		if maxv > 255 {
			bps = 2
		}
		if len(d)-pos < n*bps {
			return nil, 0, 0, false, fmt.Errorf("PNM data truncated")
		}
		for i := range out {
			v := int(d[pos+i*bps])
			if bps == 2 {
				v = v<<8 | int(d[pos+2*i+1])
			}
			out[i] = scale(v)
		}
		return out, W, H, gray, nil
	}
	for i := range out {
		v, err := field()
		if err != nil {
			return nil, 0, 0, false, err
		}
		out[i] = scale(v)
	}
	return out, W, H, gray, nil
}
