package train

import (
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Plot writes the history as a PNG (or SVG/PDF, by the file extension):
// one panel for the losses and one for the other metrics, each training
// curve solid and its "val_" counterpart dashed, against the epoch
// (counted from 1), as the usual matplotlib plot of history.history.
func (h *History) Plot(path, title string) error {
	if len(h.Epoch) == 0 {
		return fmt.Errorf("train: history plot: no epochs recorded")
	}
	var lossKeys, metricKeys []string
	for _, k := range h.Keys() {
		if k == "learning_rate" {
			continue
		}
		if strings.HasSuffix(k, "loss") {
			lossKeys = append(lossKeys, k)
		} else {
			metricKeys = append(metricKeys, k)
		}
	}
	panels := [][]string{lossKeys}
	if len(metricKeys) > 0 {
		panels = append(panels, metricKeys)
	}
	palette := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255}}
	var plots []*plot.Plot
	for pi, keys := range panels {
		p := plot.New()
		p.Title.Text = title
		if pi == 0 {
			p.Y.Label.Text = "loss"
		} else {
			p.Y.Label.Text = "metric"
		}
		p.X.Label.Text = "epoch"
		p.Add(plotter.NewGrid())
		base := map[string]int{}
		for _, k := range keys {
			name := strings.TrimPrefix(k, "val_")
			if _, ok := base[name]; !ok {
				base[name] = len(base)
			}
			pts := make(plotter.XYs, len(h.History[k]))
			for i, v := range h.History[k] {
				pts[i].X = float64(h.Epoch[i] + 1)
				pts[i].Y = v
			}
			line, dots, err := plotter.NewLinePoints(pts)
			if err != nil {
				return fmt.Errorf("train: history plot: %w", err)
			}
			c := palette[base[name]%len(palette)]
			line.Color, dots.Color = c, c
			line.Width = vg.Points(1.5)
			if strings.HasPrefix(k, "val_") {
				line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			p.Add(line, dots)
			p.Legend.Add(k, line)
		}
		// Losses fall and metrics rise: keep the legend out of the curves.
		p.Legend.Top = pi == 0
		plots = append(plots, p)
	}
	if len(plots) == 1 {
		return saveErr(plots[0].Save(6*vg.Inch, 4*vg.Inch, path))
	}
	return saveErr(savePanels(plots, path))
}

func saveErr(err error) error {
	if err != nil {
		return fmt.Errorf("train: history plot: %w", err)
	}
	return nil
}
