package train

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"
)

// Verbosity selects Fit's and Evaluate's output, as Keras's verbose does.
type Verbosity int

const (
	// VerboseAuto shows a progress bar on a terminal and one line per
	// epoch otherwise (Keras's "auto").
	VerboseAuto Verbosity = iota
	// VerboseSilent prints nothing (Keras's 0).
	VerboseSilent
	// VerboseBar shows a progress bar (Keras's 1).
	VerboseBar
	// VerboseLine prints one line per epoch (Keras's 2).
	VerboseLine
)

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress prints Keras 3's progress display:
//
//	Epoch 1/4
//	 12/63 ━━━━━━━━━━━━━━━━━━━━ 3s 65ms/step - accuracy: 0.5400 - loss: 1.6000
//
// redrawn after every batch on a terminal (the time is the ETA while the
// epoch runs and the epoch's time at its end), or one line per epoch,
// "63/63 - 5s - 70ms/step - accuracy: 0.9012 - loss: 0.3101", otherwise.
type progress struct {
	CallbackBase
	out     io.Writer
	bar     bool
	color   bool
	epochs  int
	steps   int
	start   time.Time
	lastLen int
	last    time.Time
}

func newProgress(out io.Writer, v Verbosity, epochs, steps int) *progress {
	if out == nil {
		out = os.Stdout
	}
	term := isTerminal(out)
	bar := v == VerboseBar || (v == VerboseAuto && term)
	return &progress{out: out, bar: bar, color: bar && term, epochs: epochs, steps: steps}
}

func (p *progress) OnEpochBegin(m *Model, epoch int, _ Logs) error {
	fmt.Fprintf(p.out, "Epoch %d/%d\n", epoch+1, p.epochs)
	p.start = time.Now()
	p.last = time.Time{}
	p.lastLen = 0
	return nil
}

func (p *progress) OnBatchEnd(m *Model, batch int, logs Logs) error {
	if !p.bar {
		return nil
	}
	now := time.Now()
	// Redraw at most 20 times a second, and always on the last batch.
	if batch+1 < p.steps && now.Sub(p.last) < 50*time.Millisecond {
		return nil
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	perStep := el / float64(batch+1)
	eta := perStep * float64(p.steps-batch-1)
	p.draw(batch+1, fmt.Sprintf("%s %s", fmtSeconds(eta), fmtPerStep(perStep)), logs, false)
	return nil
}

func (p *progress) OnEpochEnd(m *Model, epoch int, logs Logs) error {
	el := time.Since(p.start).Seconds()
	perStep := el / float64(max(p.steps, 1))
	if p.bar {
		p.draw(p.steps, fmt.Sprintf("%s %s", fmtSeconds(el), fmtPerStep(perStep)), logs, true)
		return nil
	}
	w := len(fmt.Sprint(p.steps))
	fmt.Fprintf(p.out, "%*d/%d - %s - %s%s\n", w, p.steps, p.steps, fmtSeconds(el), fmtPerStep(perStep), fmtLogs(logs))
	return nil
}

func (p *progress) draw(done int, times string, logs Logs, final bool) {
	const width = 20
	n := int(math.Round(float64(width) * float64(done) / float64(max(p.steps, 1))))
	var bar string
	if p.color {
		bar = "\x1b[32m" + strings.Repeat("━", n) + "\x1b[0m\x1b[37m" + strings.Repeat("━", width-n) + "\x1b[0m"
	} else {
		bar = strings.Repeat("━", n) + strings.Repeat("─", width-n)
	}
	w := len(fmt.Sprint(p.steps))
	line := fmt.Sprintf("%*d/%d %s %s%s", w, done, p.steps, bar, times, fmtLogs(logs))
	pad := ""
	if l := len([]rune(line)); l < p.lastLen {
		pad = strings.Repeat(" ", p.lastLen-l)
	}
	p.lastLen = len([]rune(line))
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.out, "\r%s%s%s", line, pad, end)
}

// fmtLogs renders " - key: value" pairs, training keys sorted, then the
// validation keys sorted, values as Keras prints them (4 decimals, or
// scientific below 1e-3).
func fmtLogs(logs Logs) string {
	var keys, val []string
	for k := range logs {
		if strings.HasPrefix(k, "val_") {
			val = append(val, k)
		} else {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	sort.Strings(val)
	var b strings.Builder
	for _, k := range append(keys, val...) {
		fmt.Fprintf(&b, " - %s: %s", k, fmtValue(logs[k]))
	}
	return b.String()
}

func fmtValue(v float64) string {
	if v != 0 && math.Abs(v) < 1e-3 {
		return fmt.Sprintf("%.4e", v)
	}
	return fmt.Sprintf("%.4f", v)
}

func fmtSeconds(s float64) string {
	switch {
	case s >= 3600:
		return fmt.Sprintf("%d:%02d:%02d", int(s)/3600, int(s)%3600/60, int(s)%60)
	case s >= 60:
		return fmt.Sprintf("%d:%02d", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%.0fs", s)
}

func fmtPerStep(s float64) string {
	switch {
	case s >= 1:
		return fmt.Sprintf("%.0fs/step", s)
	case s >= 1e-3:
		return fmt.Sprintf("%.0fms/step", s*1e3)
	}
	return fmt.Sprintf("%.0fus/step", s*1e6)
}
