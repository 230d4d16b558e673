package layer

import (
	"fmt"
	"strings"
)

// Keras 3 records a keras.ops call on a symbolic tensor inside a functional
// model (x[:, -1], x + 1.0, ops.mean(x, axis=1)) as an Operation "layer"
// whose config entry carries the op's class and its module
// ("keras.src.ops.numpy"). The class names collide with layer classes
// (numpy's Add is not keras.layers.Add: it takes two operands, either of
// which may be a constant, and broadcasts), so op layers are registered
// under OpClass(module, class) and a loader looks them up there.

// OpClass returns the registry name of a Keras 3 op layer: "keras.ops.numpy.GetItem"
// for module "keras.src.ops.numpy" (or "keras.ops.numpy") and class
// "GetItem". It returns "" when module is not a Keras ops module.
func OpClass(module, class string) string {
	m := strings.TrimPrefix(module, "keras.src.")
	m = strings.TrimPrefix(m, "keras.")
	if !strings.HasPrefix(m, "ops.") && m != "ops" {
		return ""
	}
	return "keras." + m + "." + class
}

// Registered reports whether a class (or op class) has a Go implementation.
func Registered(class string) bool {
	regMu.RLock()
	defer regMu.RUnlock()
	_, ok := factories[class]
	return ok
}

// OpAdvice is what a user can do about a Keras 3 op layer kiln does not
// implement.
const OpAdvice = "it records a keras.ops call made on a symbolic tensor in a functional model, and kiln does not implement that op; express it with built-in layers and re-save the model, or register a Go layer with layer.Register(layer.OpClass(module, class), ...)"

// opArgs rebuilds an op call's positional arguments from the flat tensor
// list and the constants: each entry is a tensor index into in (>= 0) or
// -1 for a constant (whose JSON is call.Consts[position]). Op layers take
// one tensor per positional argument.
func opArgs(in int, call *CallInfo) ([]int, error) {
	nargs := in
	if call != nil {
		nargs = call.NArgs
	}
	n := nargs
	if call != nil {
		n += len(call.Consts)
	}
	pos := make([]int, n)
	t := 0
	for i := range pos {
		if call != nil {
			if _, ok := call.Consts[i]; ok {
				pos[i] = -1
				continue
			}
		}
		if t >= nargs {
			return nil, fmt.Errorf("the call's positional arguments do not line up (%d tensors, constants at %v)", nargs, constKeys(call))
		}
		pos[i] = t
		t++
	}
	if t != nargs {
		return nil, fmt.Errorf("the call's positional arguments do not line up (%d tensors, constants at %v)", nargs, constKeys(call))
	}
	return pos, nil
}

func constKeys(call *CallInfo) []int {
	var out []int
	if call == nil {
		return out
	}
	for k := range call.Consts {
		out = append(out, k)
	}
	return out
}
