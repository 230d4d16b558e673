package train

import "sort"

// History is what Fit returns, as Keras's History callback records it:
// the epochs run and, per log key ("loss", "accuracy", "val_loss", ...),
// one value per epoch.
type History struct {
	Epoch   []int
	History map[string][]float64
	// Params are the Fit settings: "epochs", "steps".
	Params map[string]int
}

func (h *History) add(epoch int, logs Logs) {
	if h.History == nil {
		h.History = map[string][]float64{}
	}
	h.Epoch = append(h.Epoch, epoch)
	for k, v := range logs {
		h.History[k] = append(h.History[k], v)
	}
}

// Keys returns the recorded log keys, sorted.
func (h *History) Keys() []string {
	var out []string
	for k := range h.History {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
