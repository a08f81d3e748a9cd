package main

// Streaming find-and-replace of secret strings, both ways: stubs for real values in the
// request headers (and, where a binding allows it, URLs and bodies) the agent sends, and
// real values for stubs in everything the upstream answers. A stream goes through
// replaceReader, which never holds more than one read plus the longest pattern, so a
// pattern split across reads is still found and a large body is never buffered.

import (
	"bytes"
	"io"
)

// pattern is one string to replace, with the name of the credential it belongs to (for the
// egress log line: "swapped LITELLM_API_KEY"; never the value).
type pattern struct {
	name string
	from []byte
	to   []byte
}

// replacer is immutable once built, so one is shared by every request of a destination.
type replacer struct {
	patterns []pattern
	longest  int
	// prefix starts every pattern (all stubs start "stub_"): searching for it first keeps
	// text without stubs at memchr speed. Empty when the patterns share none (real values).
	prefix []byte
	// starts marks the bytes some pattern begins with: only they can start a held-back tail.
	starts [256]bool
}

func newReplacer(patterns []pattern) *replacer {
	r := &replacer{}
	for _, p := range patterns {
		if len(p.from) == 0 {
			continue
		}
		r.patterns = append(r.patterns, p)
		if len(p.from) > r.longest {
			r.longest = len(p.from)
		}
		r.starts[p.from[0]] = true
	}
	if len(r.patterns) > 0 {
		r.prefix = r.patterns[0].from
		for _, p := range r.patterns[1:] {
			n := 0
			for n < len(r.prefix) && n < len(p.from) && r.prefix[n] == p.from[n] {
				n++
			}
			r.prefix = r.prefix[:n]
		}
	}
	return r
}

func (r *replacer) empty() bool { return r == nil || len(r.patterns) == 0 }

// matchAt is the longest pattern starting at buf[index:], if any.
func (r *replacer) matchAt(buf []byte, index int) *pattern {
	var best *pattern
	for i := range r.patterns {
		p := &r.patterns[i]
		if bytes.HasPrefix(buf[index:], p.from) && (best == nil || len(p.from) > len(best.from)) {
			best = p
		}
	}
	return best
}

// next is the first position at or after cursor where some pattern starts.
func (r *replacer) next(buf []byte, cursor int, nextOf []int) (int, *pattern) {
	if len(r.prefix) > 0 {
		for {
			index := bytes.Index(buf[cursor:], r.prefix)
			if index < 0 {
				return -1, nil
			}
			index += cursor
			if match := r.matchAt(buf, index); match != nil {
				return index, match
			}
			cursor = index + 1
		}
	}
	// No shared prefix: each pattern's next occurrence, remembered until the cursor passes it,
	// so each pattern scans the buffer about once.
	best := -1
	for i := range r.patterns {
		if nextOf[i] != -1 && nextOf[i] < cursor {
			index := bytes.Index(buf[cursor:], r.patterns[i].from)
			if index >= 0 {
				index += cursor
			}
			nextOf[i] = index
		}
		if nextOf[i] >= 0 && (best < 0 || nextOf[i] < best) {
			best = nextOf[i]
		}
	}
	if best < 0 {
		return -1, nil
	}
	return best, r.matchAt(buf, best)
}

// isPartial: could tail grow into some pattern once more bytes arrive?
func (r *replacer) isPartial(tail []byte) bool {
	for _, p := range r.patterns {
		if len(tail) < len(p.from) && bytes.HasPrefix(p.from, tail) {
			return true
		}
	}
	return false
}

// replace replaces every complete pattern in buf, calling hit with each one's name. Unless
// final, it holds back the shortest suffix that may begin a pattern continued in the next
// read. out may alias buf (when nothing was replaced).
func (r *replacer) replace(buf []byte, final bool, hit func(name string)) (out, heldBack []byte) {
	if r.empty() {
		return buf, nil
	}
	var result []byte
	var nextOf []int
	if len(r.prefix) == 0 {
		nextOf = make([]int, len(r.patterns))
		for i := range nextOf {
			nextOf[i] = -2 // not searched yet (any value below the cursor)
		}
	}
	start := 0
	for start < len(buf) {
		index, match := r.next(buf, start, nextOf)
		if index < 0 {
			break
		}
		result = append(append(result, buf[start:index]...), match.to...)
		if hit != nil {
			hit(match.name)
		}
		start = index + len(match.from)
	}
	end := len(buf)
	if !final {
		from := len(buf) - r.longest + 1
		if from < start {
			from = start
		}
		for index := from; index < len(buf); index++ {
			if r.starts[buf[index]] && r.isPartial(buf[index:]) {
				end = index
				break
			}
		}
	}
	if result == nil {
		return buf[start:end], buf[end:]
	}
	return append(result, buf[start:end]...), buf[end:]
}

// replaceString replaces every pattern in a header value or a URL.
func (r *replacer) replaceString(text string, hit func(name string)) string {
	if r.empty() {
		return text
	}
	out, _ := r.replace([]byte(text), true, hit)
	return string(out)
}

// replaceReader streams a body through a replacer, reading into the caller's buffer: a read
// without matches (and no bytes held back from the one before) is returned in place.
type replaceReader struct {
	src      io.ReadCloser
	replacer *replacer
	hit      func(name string)
	carry    []byte
	pending  []byte
	done     bool
}

func newReplaceReader(src io.ReadCloser, r *replacer, hit func(name string)) *replaceReader {
	return &replaceReader{src: src, replacer: r, hit: hit}
}

func (r *replaceReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.done {
			return 0, io.EOF
		}
		n, err := r.src.Read(p)
		if err != nil && err != io.EOF {
			return 0, err
		}
		r.done = err == io.EOF
		input := p[:n]
		if len(r.carry) > 0 {
			input = append(r.carry, input...)
		}
		out, held := r.replacer.replace(input, r.done, r.hit)
		// Copied before p is written: held may be a view of p.
		r.carry = append(r.carry[:0:0], held...)
		if len(out) > 0 && &out[0] == &p[0] {
			return len(out), nil
		}
		// Replaced, or joined to the carry: out is not p, and may be longer than p.
		r.pending = out
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

func (r *replaceReader) Close() error { return r.src.Close() }
