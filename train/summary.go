package train

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/ops/tensor"
	"github.com/kiln-ml/kiln/train/layer"
)

// DefaultSummaryWidth is the line length Keras 3's model.summary() uses
// when its output is not a terminal (a script's stdout redirected, a
// notebook, print_fn): min(88 or 108, 80 - 4) = 76 characters.
const DefaultSummaryWidth = 76

// Summary prints the model as Keras 3's model.summary() prints it when
// its output is not a terminal (keras/src/utils/summary_utils.py, rendered
// by rich without colours): the title `Model: "name"`, a table with the
// columns "Layer (type)", "Output Shape", "Param #" and, for a functional
// model that is not a plain chain, "Connected to", drawn with rich's
// HEAVY_HEAD box and a rule between rows, then the total, trainable and
// non-trainable parameter counts with their sizes ("10.79 KB") and, for a
// model stored with its optimizer state (SetOptimizerParams), the
// optimizer's, which Keras adds to the total.
//
// It differs from Keras where kiln knows less than Keras: a layer class
// registered under an alias (a Keras 1 name such as "Convolution2D") is
// shown by that name, and a fixed batch size in an input shape is shown as
// None. Optimizer parameters are shown only when a loader recorded them
// (a Keras 3 .keras file stores them; for a legacy .h5 file Keras 3 builds a
// fresh optimizer from training_config, which kiln does not do).
func (m *Model) Summary(w io.Writer) error { return m.SummaryWidth(w, DefaultSummaryWidth) }

// SummaryWidth is Summary with Keras's line_length argument (88 is what
// Keras uses for a Sequential model on a wide terminal, 108 for a
// functional one).
func (m *Model) SummaryWidth(w io.Writer, lineLength int) error {
	if !m.Built {
		if _, err := m.Build(nil); err != nil {
			return err
		}
	}
	var layers []layer.Layer
	sequentialLike := true
	var relevant map[*Call]bool
	if m.sequential {
		layers = m.Layers()
	} else {
		var nodesByDepth map[int][]*Call
		layers, nodesByDepth = m.mapGraph()
		relevant = map[*Call]bool{}
		for _, v := range nodesByDepth {
			if len(v) > 1 || (len(v) == 1 && len(v[0].Connected) > 1) {
				sequentialLike = false
			}
			for _, c := range v {
				relevant[c] = true
			}
		}
		if sequentialLike {
			for _, l := range layers {
				n := 0
				for _, c := range m.calls[l.Name()] {
					if relevant[c] {
						n++
					}
				}
				if n > 1 {
					sequentialLike = false
				}
			}
		}
	}
	var positions []float64
	var header []string
	var right []bool
	if sequentialLike {
		positions = []float64{0.45, 0.80, 1.0}
		header = []string{"Layer (type)", "Output Shape", "Param #"}
		right = []bool{false, false, true}
	} else {
		positions = []float64{0.3, 0.56, 0.74, 1.0}
		header = []string{"Layer (type)", "Output Shape", "Param #", "Connected to"}
		right = []bool{false, false, true, false}
	}
	widths, err := columnWidths(positions, lineLength)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, l := range layers {
		row := []string{
			fmt.Sprintf("%s (%s)", l.Name(), displayClass(l)),
			m.formatOutputShape(l),
			m.formatParams(l),
		}
		if !sequentialLike {
			row = append(row, m.connections(l, relevant))
		}
		rows = append(rows, row)
	}

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Model: %q\n", m.Name())
	writeTable(bw, widths, right, header, rows)
	var tr, nt []*layer.Weight
	for _, lw := range m.leafWeights(true) {
		if lw.trainable {
			tr = append(tr, lw.w)
		} else {
			nt = append(nt, lw.w)
		}
	}
	trN, trB := countWeights(tr)
	ntN, ntB := countWeights(nt)
	opN, opB := 0, 0.0
	if m.optimizer != nil {
		opN, opB = m.optimizer.Count, m.optimizer.Bytes
	}
	fmt.Fprintf(bw, " Total params: %s (%s)\n", commas(trN+ntN+opN), readableSize(trB+ntB+opB))
	fmt.Fprintf(bw, " Trainable params: %s (%s)\n", commas(trN), readableSize(trB))
	fmt.Fprintf(bw, " Non-trainable params: %s (%s)\n", commas(ntN), readableSize(ntB))
	if m.optimizer != nil {
		fmt.Fprintf(bw, " Optimizer params: %s (%s)\n", commas(opN), readableSize(opB))
	}
	return bw.Flush()
}

// displayClass is the Python class Keras 3 shows for a layer.
func displayClass(l layer.Layer) string {
	if sub, ok := l.(*Model); ok {
		if sub.sequential {
			return "Sequential"
		}
		return "Functional"
	}
	return l.Class()
}

// columnWidths reproduces Keras's column split (int(pos * line_length)
// minus the previous edge) and how rich then fits the padded columns into
// the table width: when they do not fit, the excess is taken from the
// columns evenly, rounding half to even, first column first.
func columnWidths(positions []float64, lineLength int) ([]int, error) {
	var widths []int
	cur := 0
	for _, p := range positions {
		w := int(p*float64(lineLength)) - cur
		if w < 4 {
			return nil, fmt.Errorf("train: summary line length %d is too small", lineLength)
		}
		widths = append(widths, w+2) // rich adds one space of padding each side
		cur += w
	}
	max := lineLength - (len(widths) + 1)
	total := 0
	for _, w := range widths {
		total += w
	}
	if total > max {
		excess := total - max
		ratio := len(widths)
		for i := range widths {
			d := int(math.RoundToEven(float64(excess) / float64(ratio)))
			if d > widths[i] {
				d = widths[i]
			}
			widths[i] -= d
			excess -= d
			ratio--
		}
	}
	return widths, nil
}

// writeTable draws the table as rich does with box.HEAVY_HEAD and
// show_lines=True. Each width includes the one-space padding.
func writeTable(w io.Writer, widths []int, right []bool, header []string, rows [][]string) {
	rule := func(l, fill, mid, r string) {
		var sb strings.Builder
		sb.WriteString(l)
		for i, wd := range widths {
			if i > 0 {
				sb.WriteString(mid)
			}
			sb.WriteString(strings.Repeat(fill, wd))
		}
		sb.WriteString(r)
		fmt.Fprintln(w, sb.String())
	}
	row := func(cells []string, edge string) {
		lines := make([][]string, len(cells))
		h := 1
		for i, c := range cells {
			lines[i] = wrapCell(c, widths[i]-2, right[i])
			if len(lines[i]) > h {
				h = len(lines[i])
			}
		}
		for k := 0; k < h; k++ {
			var sb strings.Builder
			sb.WriteString(edge)
			for i := range cells {
				if i > 0 {
					sb.WriteString(edge)
				}
				text := strings.Repeat(" ", widths[i]-2)
				if k < len(lines[i]) {
					text = lines[i][k]
				}
				sb.WriteString(" " + text + " ")
			}
			sb.WriteString(edge)
			fmt.Fprintln(w, sb.String())
		}
	}
	rule("┏", "━", "┳", "┓")
	row(header, "┃")
	rule("┡", "━", "╇", "┩")
	for i, r := range rows {
		if i > 0 {
			rule("├", "─", "┼", "┤")
		}
		row(r, "│")
	}
	rule("└", "─", "┴", "┘")
}

var wordRE = regexp.MustCompile(`\s*\S+\s*`)

// wrapCell wraps text to width as rich does for a column with the default
// "ellipsis" overflow: break before a word that does not fit, never inside
// a word; a word longer than the width is cut with "…". Lines are padded
// to the width, left or right justified.
func wrapCell(text string, width int, right bool) []string {
	var out []string
	for _, para := range strings.Split(text, "\n") {
		var breaks []int
		pos := 0
		for _, loc := range wordRE.FindAllStringIndex(para, -1) {
			word := para[loc[0]:loc[1]]
			wl := runeLen(strings.TrimRight(word, " \t"))
			if pos+wl > width {
				if wl > width || (pos > 0 && loc[0] > 0) {
					if loc[0] > 0 {
						breaks = append(breaks, loc[0])
					}
					pos = runeLen(word)
					continue
				}
			}
			pos += runeLen(word)
		}
		start := 0
		breaks = append(breaks, len(para))
		for _, b := range breaks {
			line := strings.TrimRight(para[start:b], " \t")
			start = b
			r := []rune(line)
			if len(r) > width {
				r = append(r[:width-1], '…')
			}
			line = string(r)
			pad := strings.Repeat(" ", width-len(r))
			if right {
				out = append(out, pad+line)
			} else {
				out = append(out, line+pad)
			}
		}
	}
	return out
}

func runeLen(s string) int { return len([]rune(s)) }

// formatShape renders a shape as Keras's summary does: "(None, 28, 28)";
// a rank-1 shape is "(None)" there, not Python's "(None,)".
func formatShape(s layer.Shape) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "None"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// formatOutputShape shows the outputs of the layer's last call: one shape,
// or a list of shapes "[(None, 3), (None, 4)]".
func (m *Model) formatOutputShape(l layer.Layer) string {
	calls := m.calls[l.Name()]
	if len(calls) == 0 {
		return "?"
	}
	out := calls[len(calls)-1].OutShapes
	if len(out) == 1 {
		return formatShape(out[0])
	}
	parts := make([]string, len(out))
	for i, s := range out {
		parts[i] = formatShape(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (m *Model) formatParams(l layer.Layer) string {
	if len(m.calls[l.Name()]) == 0 && len(l.Weights()) == 0 {
		return "0 (unbuilt)"
	}
	n, _ := countWeights(l.Weights())
	return commas(n)
}

// connections lists the tensors a layer reads, "dense[0][0], input[0][0]",
// over its calls that belong to the model graph; "-" for none.
func (m *Model) connections(l layer.Layer, relevant map[*Call]bool) string {
	var parts []string
	for _, c := range m.calls[l.Name()] {
		if len(relevant) > 0 && !relevant[c] {
			continue
		}
		for _, r := range c.Connected {
			parts = append(parts, r.String())
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// countWeights returns the scalar count and the bytes of distinct weights.
func countWeights(ws []*layer.Weight) (int, float64) {
	seen := map[*layer.Weight]bool{}
	n := 0
	bytes := 0.0
	for _, w := range ws {
		if seen[w] {
			continue
		}
		seen[w] = true
		k := shapeSize(w.Shape)
		n += k
		size := 4
		if w.Value != nil && w.Value.DType() != tensor.Undefined {
			size = w.Value.DType().Size()
		}
		bytes += float64(k * size)
	}
	return n, bytes
}

// readableSize is Keras's readable_memory_size: two decimals in B, KB, MB,
// ... with 1024 steps.
func readableSize(b float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB"}
	for _, u := range units {
		if b/1024 < 1 {
			return fmt.Sprintf("%.2f %s", b, u)
		}
		b /= 1024
	}
	return fmt.Sprintf("%.2f %s", b, units[len(units)-1])
}

// commas formats n with thousands separators, as Python's "{:,}".
func commas(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var sb strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			sb.WriteByte(',')
		}
		sb.WriteRune(r)
	}
	if neg {
		return "-" + sb.String()
	}
	return sb.String()
}

// mapGraph orders a functional model's layers as Keras 3 does for its
// summary (keras/src/ops/function.py map_graph): a depth-first walk from
// the outputs numbers the layers and lists the calls; depths grow from the
// outputs (0) towards the inputs; layers are listed by decreasing depth,
// ties in walk order. It also returns the calls by depth.
func (m *Model) mapGraph() ([]layer.Layer, map[int][]*Call) {
	finished := map[*Call]bool{}
	var nodes []*Call
	opIndex := map[string]int{}
	isInput := map[TensorRef]bool{}
	for _, r := range m.inputs {
		isInput[r] = true
	}
	var walk func(r TensorRef)
	walk = func(r TensorRef) {
		c := m.calls[r.Layer][r.Node]
		if finished[c] {
			return
		}
		if _, ok := opIndex[r.Layer]; !ok {
			opIndex[r.Layer] = len(opIndex)
		}
		finished[c] = true // the config is acyclic (checked by Build)
		if len(c.Connected) > 0 && !isInput[r] {
			for _, p := range c.Connected {
				walk(p)
			}
		}
		nodes = append(nodes, c)
	}
	for _, r := range m.outputs {
		walk(r)
	}
	nodeDepth := map[*Call]int{}
	var nodeOrder []*Call
	setDepth := func(c *Call, d int) {
		if _, ok := nodeDepth[c]; !ok {
			nodeOrder = append(nodeOrder, c)
		}
		nodeDepth[c] = d
	}
	opDepth := map[string]int{}
	for i := len(nodes) - 1; i >= 0; i-- {
		c := nodes[i]
		d, ok := nodeDepth[c]
		if !ok {
			setDepth(c, 0)
		}
		if pd := opDepth[c.Layer.Name()]; pd > d {
			d = pd
		}
		opDepth[c.Layer.Name()] = d
		setDepth(c, d)
		for _, p := range c.Connected {
			pc := m.calls[p.Layer][p.Node]
			prev := nodeDepth[pc]
			if d+1 > prev {
				prev = d + 1
			}
			setDepth(pc, prev)
		}
	}
	for _, r := range m.inputs {
		if _, ok := opDepth[r.Layer]; !ok {
			opDepth[r.Layer] = 0
			opIndex[r.Layer] = -1
			setDepth(m.calls[r.Layer][0], 0)
		}
	}
	byDepth := map[int][]*Call{}
	for _, c := range nodeOrder {
		byDepth[nodeDepth[c]] = append(byDepth[nodeDepth[c]], c)
	}
	var names []string
	for n := range opDepth {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		di, dj := opDepth[names[i]], opDepth[names[j]]
		if di != dj {
			return di > dj
		}
		return opIndex[names[i]] < opIndex[names[j]]
	})
	out := make([]layer.Layer, len(names))
	for i, n := range names {
		out[i] = m.byName[n]
	}
	return out, byDepth
}
