package serve

import "bytes"

// Decoding a v2 request with encoding/json scans every byte of the tensor
// data twice (validation, then skipping the json.RawMessage) before the
// tensor parser reads it a third time; for a small model most of a
// request's CPU went there. decodeV2Request first walks the body with a
// plain byte loop that finds each inputs[i].data value and replaces it
// with null in a copy, lets encoding/json decode that small envelope, and
// hands the data values to the tensor parser as they were. Any body the
// walk is not sure about (malformed JSON, escaped keys) takes the
// encoding/json path whole, so errors and results are the same either way.

// v2Fast switches the walk on (tests compare both paths).
var v2Fast = true

func decodeV2Request(body []byte, req *v2Request) *apiError {
	if !v2Fast {
		return decodeJSON(body, req)
	}
	env, spans, ok := hollowData(body)
	if !ok {
		return decodeJSON(body, req)
	}
	if aerr := decodeJSON(env, req); aerr != nil {
		return decodeJSON(body, req) // report positions in the real body
	}
	if len(spans) != len(req.Inputs) {
		*req = v2Request{}
		return decodeJSON(body, req)
	}
	for i, sp := range spans {
		if sp[0] >= 0 {
			req.Inputs[i].Data = body[sp[0]:sp[1]]
		}
	}
	return nil
}

// hollowData returns a copy of body in which the value of every "data"
// member of the objects of the top-level "inputs" list is null, and the
// span of each original value by input ({-1, -1} for an input without
// data). Keys match as encoding/json matches them (ASCII case folded; the
// last of a repeated key wins). ok is false when the body is not a JSON
// object the walk fully understands.
func hollowData(body []byte) (env []byte, spans [][2]int, ok bool) {
	w := &jwalk{s: body}
	w.space()
	if !w.peek('{') {
		return nil, nil, false
	}
	env = make([]byte, 0, 256)
	last := 0 // body[last:] not yet copied to env
	w.i++
	first := true
	seenInputs := false
	for {
		w.space()
		if w.peek('}') {
			w.i++
			break
		}
		if !first {
			if !w.peek(',') {
				return nil, nil, false
			}
			w.i++
			w.space()
		}
		first = false
		key, kok := w.key()
		if !kok {
			return nil, nil, false
		}
		if !bytes.EqualFold(key, []byte("inputs")) {
			if !w.skip(0) {
				return nil, nil, false
			}
			continue
		}
		// The inputs list: each element an object whose data is cut. A
		// second list would leave the first one's data unchecked.
		if seenInputs {
			return nil, nil, false
		}
		seenInputs = true
		spans = spans[:0]
		if !w.peek('[') {
			if !w.skip(0) {
				return nil, nil, false
			}
			spans = nil
			continue
		}
		w.i++
		firstIn := true
		for {
			w.space()
			if w.peek(']') {
				w.i++
				break
			}
			if !firstIn {
				if !w.peek(',') {
					return nil, nil, false
				}
				w.i++
				w.space()
			}
			firstIn = false
			sp := [2]int{-1, -1}
			if !w.peek('{') {
				if !w.skip(1) {
					return nil, nil, false
				}
				spans = append(spans, sp)
				continue
			}
			w.i++
			firstKey := true
			for {
				w.space()
				if w.peek('}') {
					w.i++
					break
				}
				if !firstKey {
					if !w.peek(',') {
						return nil, nil, false
					}
					w.i++
					w.space()
				}
				firstKey = false
				k, kok := w.key()
				if !kok {
					return nil, nil, false
				}
				start := w.i
				if !w.skip(2) {
					return nil, nil, false
				}
				if bytes.EqualFold(k, []byte("data")) {
					if sp[0] >= 0 || w.i == start {
						return nil, nil, false // repeated (one unchecked) or empty
					}
					sp = [2]int{start, w.i}
					env = append(env, body[last:start]...)
					env = append(env, "null"...)
					last = w.i
				}
			}
			spans = append(spans, sp)
		}
	}
	w.space()
	if w.i != len(body) {
		return nil, nil, false
	}
	env = append(env, body[last:]...)
	return env, spans, true
}

// jwalk is a minimal JSON structure walker: it checks brackets, strings
// and literal characters, not every rule (numbers are not validated), so
// its verdict is only trusted together with encoding/json's on the
// hollowed body.
type jwalk struct {
	s []byte
	i int
}

func (w *jwalk) peek(c byte) bool { return w.i < len(w.s) && w.s[w.i] == c }

func (w *jwalk) space() {
	for w.i < len(w.s) {
		switch w.s[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// key reads `"name" :` and returns name; keys with escapes are refused.
func (w *jwalk) key() ([]byte, bool) {
	if !w.peek('"') {
		return nil, false
	}
	start := w.i + 1
	for j := start; j < len(w.s); j++ {
		switch w.s[j] {
		case '\\':
			return nil, false
		case '"':
			w.i = j + 1
			w.space()
			if !w.peek(':') {
				return nil, false
			}
			w.i++
			w.space()
			return w.s[start:j], true
		}
	}
	return nil, false
}

// skip moves past one value (arrays and objects matched by depth, strings
// with their escapes), depth being the nesting already around it.
func (w *jwalk) skip(depth int) bool {
	w.space()
	if w.i >= len(w.s) {
		return false
	}
	level := 0
	for w.i < len(w.s) {
		c := w.s[w.i]
		switch c {
		case '"':
			w.i++
			for w.i < len(w.s) && w.s[w.i] != '"' {
				if w.s[w.i] == '\\' {
					w.i++
				}
				w.i++
			}
			if w.i >= len(w.s) {
				return false
			}
			w.i++
		case '[', '{':
			level++
			if depth+level > 10000 {
				return false
			}
			w.i++
		case ']', '}':
			if level == 0 {
				return true
			}
			level--
			w.i++
		case ',':
			if level == 0 {
				return true
			}
			w.i++
		default:
			w.i++
		}
		if level == 0 && (c == '"' || c == ']' || c == '}') {
			return true
		}
	}
	return level == 0
}
