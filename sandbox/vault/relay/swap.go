package main

// Swapping stubs for real values in outgoing bytes: header values, URLs and streamed
// text bodies. A body goes through swapReader, which never holds more than one read plus
// the longest stub, so a stub split across reads is still found and a large upload is
// never buffered.

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
)

// substitution is one credential the control plane bound to the destination.
type substitution struct {
	// Name is the env var name, for logs ("swapped LITELLM_API_KEY"); never the value.
	Name string `json:"name"`
	Stub string `json:"stub"`
	Real string `json:"real"`
}

// stubPrefix starts every stub; searching for it first keeps the no-stub case at memchr speed.
var stubPrefix = []byte("stub_")

type swapper struct {
	subs    []substitution
	longest int
	// swapped names the credentials swapped in so far (for the egress log line).
	swapped map[string]bool
}

func newSwapper(subs []substitution) *swapper {
	s := &swapper{subs: subs, swapped: map[string]bool{}}
	for _, sub := range subs {
		if len(sub.Stub) > s.longest {
			s.longest = len(sub.Stub)
		}
	}
	return s
}

func (s *swapper) names() []string {
	names := make([]string, 0, len(s.swapped))
	for name := range s.swapped {
		names = append(names, name)
	}
	return names
}

func (s *swapper) matchAt(buf []byte, index int) *substitution {
	for i := range s.subs {
		stub := s.subs[i].Stub
		if index+len(stub) <= len(buf) && string(buf[index:index+len(stub)]) == stub {
			return &s.subs[i]
		}
	}
	return nil
}

// isPartialStub: could tail grow into some stub once more bytes arrive?
func (s *swapper) isPartialStub(tail []byte) bool {
	for _, sub := range s.subs {
		if len(tail) < len(sub.Stub) && sub.Stub[:len(tail)] == string(tail) {
			return true
		}
	}
	return false
}

// swap replaces every complete stub in buf. Unless final, it holds back the shortest
// suffix that may begin a stub continued in the next read. out may alias buf.
func (s *swapper) swap(buf []byte, final bool) (out, heldBack []byte) {
	var result []byte
	start, cursor := 0, 0
	for {
		index := bytes.Index(buf[cursor:], stubPrefix)
		if index < 0 {
			break
		}
		index += cursor
		if match := s.matchAt(buf, index); match != nil {
			result = append(append(result, buf[start:index]...), match.Real...)
			s.swapped[match.Name] = true
			start = index + len(match.Stub)
			cursor = start
		} else {
			cursor = index + 1
		}
	}
	end := len(buf)
	if !final {
		from := len(buf) - s.longest + 1
		if from < start {
			from = start
		}
		// Only a position holding the stub prefix's first byte can start a stub.
		for index := from; index < len(buf); index++ {
			next := bytes.IndexByte(buf[index:], stubPrefix[0])
			if next < 0 {
				break
			}
			index += next
			if s.isPartialStub(buf[index:]) {
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

// swapString swaps stubs in a header value or a URL.
func (s *swapper) swapString(text string) string {
	if len(s.subs) == 0 || !strings.Contains(text, "stub_") {
		return text
	}
	out, _ := s.swap([]byte(text), true)
	return string(out)
}

// swapHeader also looks inside Basic credentials, which carry the stub base64-encoded
// (git does this): decode, swap, re-encode.
func (s *swapper) swapHeader(name, value string) string {
	if name != "Authorization" || len(value) < 6 || !strings.EqualFold(value[:6], "basic ") {
		return s.swapString(value)
	}
	decoded, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[6:]))
	if err != nil {
		return s.swapString(value)
	}
	swapped := s.swapString(string(decoded))
	if swapped == string(decoded) {
		return s.swapString(value)
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(swapped))
}

// swapReader streams a body through the swapper, reading into the caller's buffer: a
// read without stubs (and no bytes held back from the one before) is returned in place.
type swapReader struct {
	src     io.ReadCloser
	swapper *swapper
	carry   []byte
	pending []byte
	done    bool
}

func newSwapReader(src io.ReadCloser, s *swapper) *swapReader {
	return &swapReader{src: src, swapper: s}
}

func (r *swapReader) Read(p []byte) (int, error) {
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
		out, held := r.swapper.swap(input, r.done)
		// Copied before p is written: held may be a view of p.
		r.carry = append([]byte(nil), held...)
		if len(out) > 0 && &out[0] == &p[0] {
			return len(out), nil
		}
		// Swapped, or joined to the carry: out is not p, and may be longer than p.
		r.pending = out
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

func (r *swapReader) Close() error { return r.src.Close() }
