package train

import (
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// savePanels draws plots side by side into one PNG.
func savePanels(plots []*plot.Plot, path string) error {
	w, h := vg.Length(len(plots))*5*vg.Inch, 4*vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	grid := [][]*plot.Plot{plots}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var werr error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jpg", ".jpeg":
		_, werr = vgimg.JpegCanvas{Canvas: img}.WriteTo(f)
	default:
		_, werr = vgimg.PngCanvas{Canvas: img}.WriteTo(f)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}
