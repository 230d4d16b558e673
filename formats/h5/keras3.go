package h5

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/train"
	"github.com/kiln-ml/kiln/train/layer"
	"gonum.org/v1/hdf5"
)

// Keras 3 (and tf.keras 2.13+) model.weights.h5 layout: a model's layers
// live in the group "layers" (tf.keras 2.13 on Windows wrote
// "_layer_checkpoint_dependencies\<name>" at the root), one subgroup per
// layer named after the layer's class in snake case, with "_1", "_2", ...
// for repeats in order ("dense", "dense_1"). A layer's own variables are
// datasets "vars/0", "vars/1", ...; sublayers have their own groups
// ("cell/vars/0", "forward_layer/cell/vars/0", "query_dense/vars/0"), which
// the layer gives as Weight.Path. A nested model's group holds "layers"
// again.
//
// Names are not recomputed arithmetically: shared layers and older
// writers skip numbers. Instead, for each class the file's groups are
// sorted by their number and paired in order with the model's layers of
// that class that have weights.

var snakeRe1 = regexp.MustCompile(`(.)([A-Z][a-z]+)`)
var snakeRe2 = regexp.MustCompile(`([a-z])([A-Z])`)
var nonWord = regexp.MustCompile(`\W+`)

// snakeCase is Keras's naming.to_snake_case.
func snakeCase(s string) string {
	s = nonWord.ReplaceAllString(s, "")
	s = snakeRe1.ReplaceAllString(s, "${1}_${2}")
	return strings.ToLower(snakeRe2.ReplaceAllString(s, "${1}_${2}"))
}

var suffixRe = regexp.MustCompile(`^(.*)_([0-9]+)$`)

const legacyPrefix = `_layer_checkpoint_dependencies\`

func loadKeras3Weights(f *hdf5.File, m kerasModel) error {
	gs, _, err := children(&f.CommonFG)
	if err != nil {
		return err
	}
	if slices.Contains(gs, "layers") {
		return loadKeras3Container(&f.CommonFG, "layers", m.Layers())
	}
	var names []string
	for _, g := range gs {
		if strings.HasPrefix(g, legacyPrefix) {
			names = append(names, g)
		}
	}
	if len(names) == 0 && slices.Contains(gs, "_layer_checkpoint_dependencies") {
		return loadKeras3Container(&f.CommonFG, "_layer_checkpoint_dependencies", m.Layers())
	}
	if len(names) == 0 && len(allWeights(m)) > 0 {
		return fmt.Errorf("model.weights.h5 has no layers group (top-level groups: %s)", short(strings.Join(gs, ", ")))
	}
	return pairKeras3(&f.CommonFG, "", legacyPrefix, names, m.Layers())
}

func loadKeras3Container(g *hdf5.CommonFG, path string, layers []layer.Layer) error {
	sub, err := g.OpenGroup(path)
	if err != nil {
		return fmt.Errorf("group %s cannot be opened", path)
	}
	gs, _, err := children(&sub.CommonFG)
	sub.Close()
	if err != nil {
		return fmt.Errorf("group %s: %w", path, err)
	}
	return pairKeras3(g, path+"/", "", gs, layers)
}

// pairKeras3 pairs the groups (named prefix+snake[_n]) under dir with the
// layers, then loads each layer.
func pairKeras3(g *hdf5.CommonFG, dir, prefix string, groups []string, layers []layer.Layer) error {
	type numbered struct {
		n    int
		name string
	}
	byBase := map[string][]numbered{}
	for _, name := range groups {
		if !groupHasData(g, dir+name, 0) {
			continue
		}
		base, n := strings.TrimPrefix(name, prefix), 0
		if s := suffixRe.FindStringSubmatch(base); s != nil {
			if k, err := strconv.Atoi(s[2]); err == nil {
				base, n = s[1], k
			}
		}
		byBase[base] = append(byBase[base], numbered{n, name})
	}
	for _, v := range byBase {
		sort.Slice(v, func(i, j int) bool { return v[i].n < v[j].n })
	}
	used := map[string]int{}
	for _, l := range uniqueLayers(layers) {
		if !hasWeights(l) {
			continue
		}
		base := snakeCase(l.Class())
		cands := byBase[base]
		k := used[base]
		if k >= len(cands) {
			have := slices.Sorted(func(yield func(string) bool) {
				for b := range byBase {
					if !yield(b) {
						return
					}
				}
			})
			return fmt.Errorf("layer %q (%s): model.weights.h5 has no group for it under %q (want %s_%d; groups with weights: %s)", l.Name(), l.Class(), strings.TrimSuffix(dir, "/"), base, k, short(strings.Join(have, ", ")))
		}
		used[base]++
		if err := loadKeras3Layer(g, dir+cands[k].name, l); err != nil {
			return err
		}
	}
	for base, c := range byBase {
		if used[base] < len(c) {
			return fmt.Errorf("model.weights.h5 holds weights under %s%s that no layer of the model takes (the architecture does not match the weights)", dir, c[used[base]].name)
		}
	}
	return nil
}

func loadKeras3Layer(g *hdf5.CommonFG, path string, l layer.Layer) error {
	if c, ok := l.(container); ok {
		return loadKeras3Container(g, path+"/layers", c.Layers())
	}
	own := 0
	for i, w := range l.Weights() {
		p := w.Path
		if p == "" {
			p = fmt.Sprintf("vars/%d", own)
			own++
		}
		a, err := readArray(g, path+"/"+p)
		if err != nil {
			return fmt.Errorf("layer %q (%s) weight %d %q: %w", l.Name(), l.Class(), i, w.Name, err)
		}
		if err := assign(w, a, fmt.Sprintf("layer %q (%s) weight %d (%s/%s)", l.Name(), l.Class(), i, path, p)); err != nil {
			return err
		}
	}
	return nil
}

// groupHasData reports whether a group holds any dataset below it.
// depth bounds the walk: HDF5 hard links can form cycles.
func groupHasData(g *hdf5.CommonFG, path string, depth int) bool {
	if depth > 16 {
		return false
	}
	sub, err := g.OpenGroup(path)
	if err != nil {
		return false
	}
	defer sub.Close()
	gs, ds, err := children(&sub.CommonFG)
	if err != nil {
		return false
	}
	if len(ds) > 0 {
		return true
	}
	for _, c := range gs {
		if groupHasData(&sub.CommonFG, c, depth+1) {
			return true
		}
	}
	return false
}

// optimizerSetter is implemented by models that record a stored
// optimizer's size (train.Model).
type optimizerSetter interface {
	SetOptimizerParams(*train.OptimizerParams)
}

// loadKeras3Optimizer records the size of the optimizer state a .keras
// file stores under "optimizer" (vars/0 iterations, vars/1 learning_rate,
// then the slots; a wrapped optimizer nests its own group): Keras loads a
// compiled model with its optimizer built and counts these variables in
// model.summary(). Element sizes come from the file's dtypes (iterations
// is int64).
func loadKeras3Optimizer(f *hdf5.File, m kerasModel) error {
	s, ok := m.(optimizerSetter)
	if !ok || !f.LinkExists("optimizer") {
		return nil
	}
	g, err := f.OpenGroup("optimizer")
	if err != nil {
		return nil
	}
	defer g.Close()
	p := &train.OptimizerParams{}
	var walk func(g *hdf5.CommonFG, depth int) error
	walk = func(g *hdf5.CommonFG, depth int) error {
		gs, ds, err := children(g)
		if err != nil {
			return err
		}
		for _, d := range ds {
			dset, err := g.OpenDataset(d)
			if err != nil {
				return err
			}
			sp := dset.Space()
			n := sp.SimpleExtentNPoints()
			sp.Close()
			dt, err := dset.Datatype()
			size := 4
			if err == nil {
				size = int(dt.Size())
				dt.Close()
			}
			dset.Close()
			p.Count += n
			p.Bytes += float64(n * size)
		}
		if depth >= 8 {
			return nil
		}
		for _, name := range gs {
			sub, err := g.OpenGroup(name)
			if err != nil {
				return err
			}
			err = walk(&sub.CommonFG, depth+1)
			sub.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(&g.CommonFG, 0); err != nil {
		return fmt.Errorf("optimizer state: %w", err)
	}
	if p.Count > 0 {
		s.SetOptimizerParams(p)
	}
	return nil
}
