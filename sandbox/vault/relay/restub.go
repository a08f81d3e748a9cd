package main

// Re-stubbing: every real value the vault holds (bound or not) is replaced by its stub in
// what upstreams answer, headers and streamed bodies, before it reaches the agent, so a
// server that echoes a value (an LLM repeating its prompt, a debugging endpoint) cannot hand
// it back. Besides the value itself, its standard base64 forms are replaced (how an echoed
// Basic credential carries it).
//
// Content encodings: the vault must see the plain bytes. Requests that carry a swapped value
// ask for `identity`; every other request may offer only what the vault can decode (gzip,
// deflate). A gzip or deflate answer is decoded, re-stubbed and encoded again the same way;
// any other encoding (br, zstd, ...) cannot be inspected and is refused with 502.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// minRestubBytes: shorter values are not re-stubbed. They are not credentials, and replacing
// them would rewrite unrelated text in every answer ("true", a region name).
const minRestubBytes = 8

// restubPair is one value held, as the control plane sends it.
type restubPair struct {
	Name string `json:"name"`
	Stub string `json:"stub"`
	Real string `json:"real"`
}

// restubSet is the relay's copy of every value held, refreshed when the control plane's
// generation moves (once per sandbox: the admin push).
type restubSet struct {
	mu         sync.Mutex
	generation int64
	replacer   *replacer
}

func (s *restubSet) current() (int64, *replacer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.generation, s.replacer
}

func (s *restubSet) update(generation int64, pairs []restubPair) *replacer {
	r := newRestubReplacer(pairs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation, s.replacer = generation, r
	return r
}

// base64Cores are the base64 characters that encode only bytes of value, for each of the
// three alignments the value can have inside a longer encoded string.
func base64Cores(value []byte) [3][]byte {
	var cores [3][]byte
	for shift := 0; shift < 3; shift++ {
		padded := append(make([]byte, shift), value...)
		encoded := base64.StdEncoding.EncodeToString(padded)
		// Character k holds bits [6k, 6k+6): keep those wholly inside the value's bits.
		first := (8*shift + 5) / 6
		last := (8*(shift+len(value)))/6 - 1
		if last >= first {
			cores[shift] = []byte(encoded[first : last+1])
		}
	}
	return cores
}

func newRestubReplacer(pairs []restubPair) *replacer {
	seen := map[string]bool{}
	var patterns []pattern
	for _, pair := range pairs {
		if len(pair.Real) < minRestubBytes || seen[pair.Real] {
			continue
		}
		seen[pair.Real] = true
		patterns = append(patterns, pattern{name: pair.Name, from: []byte(pair.Real), to: []byte(pair.Stub)})
		realCores, stubCores := base64Cores([]byte(pair.Real)), base64Cores([]byte(pair.Stub))
		for shift := range realCores {
			patterns = append(patterns, pattern{name: pair.Name, from: realCores[shift], to: stubCores[shift]})
		}
	}
	return newReplacer(patterns)
}

// decodableEncodings are the content codings the vault can look inside.
var decodableEncodings = map[string]bool{"gzip": true, "x-gzip": true, "deflate": true, "identity": true}

// acceptEncoding is what the vault lets the client offer upstream: identity when the request
// carries a real value, else only the codings it can decode ("" drops the header).
func acceptEncoding(offered string, carriesValue bool) string {
	if carriesValue {
		return "identity"
	}
	var kept []string
	for _, item := range strings.Split(offered, ",") {
		coding := strings.ToLower(strings.TrimSpace(strings.SplitN(item, ";", 2)[0]))
		if decodableEncodings[coding] {
			kept = append(kept, strings.TrimSpace(item))
		}
	}
	return strings.Join(kept, ", ")
}

// restubHeaders replaces real values in every header value, in place.
func restubHeaders(header http.Header, r *replacer, hit func(string)) {
	if r.empty() {
		return
	}
	for name, values := range header {
		for i, value := range values {
			values[i] = r.replaceString(value, hit)
		}
		header[name] = values
	}
}

// errUninspectable: the answer's encoding hides its bytes from the vault.
var errUninspectable = errors.New("uninspectable content encoding")

// restubBody wraps a response body so it reaches the agent re-stubbed. changed tells the
// caller the length may differ (drop Content-Length). An encoding the vault cannot decode
// is errUninspectable.
func restubBody(response *http.Response, method string, r *replacer, hit func(string)) (body io.ReadCloser, changed bool, err error) {
	if r.empty() || method == http.MethodHead || response.StatusCode == http.StatusNoContent ||
		response.StatusCode == http.StatusNotModified || response.ContentLength == 0 {
		return response.Body, false, nil
	}
	coding := strings.ToLower(strings.TrimSpace(response.Header.Get("Content-Encoding")))
	switch coding {
	case "", "identity":
		return newReplaceReader(response.Body, r, hit), true, nil
	case "gzip", "x-gzip", "deflate":
		// A range of a compressed stream cannot be decoded on its own.
		if response.StatusCode == http.StatusPartialContent {
			return nil, false, fmt.Errorf("%w: a partial %s answer", errUninspectable, coding)
		}
		return newRecoder(response.Body, coding, r, hit), true, nil
	default:
		return nil, false, fmt.Errorf("%w: %q", errUninspectable, coding)
	}
}

// recoder decodes a gzip or deflate body, re-stubs it and encodes it again the same way,
// flushing the encoder after every read so a streamed answer is never held back.
type recoder struct {
	src      io.ReadCloser
	coding   string
	replacer *replacer
	hit      func(string)
	plain    io.Reader
	encoded  bytes.Buffer
	encoder  interface {
		io.WriteCloser
		Flush() error
	}
	buffer []byte
	done   bool
	err    error
}

func newRecoder(src io.ReadCloser, coding string, r *replacer, hit func(string)) *recoder {
	return &recoder{src: src, coding: coding, replacer: r, hit: hit, buffer: make([]byte, 64*1024)}
}

// start opens the decoder (reading the first bytes: a zlib header or raw deflate) and the
// matching encoder.
func (c *recoder) start() error {
	source := bufio.NewReader(c.src)
	var decoded io.ReadCloser
	switch c.coding {
	case "gzip", "x-gzip":
		reader, err := gzip.NewReader(source)
		if err != nil {
			return err
		}
		decoded = reader
		c.encoder, _ = gzip.NewWriterLevel(&c.encoded, gzip.BestSpeed)
	default:
		// "deflate" is zlib-wrapped by the standard; some servers send raw deflate.
		header, err := source.Peek(2)
		if err == nil && header[0]&0x0f == 8 && (uint16(header[0])<<8|uint16(header[1]))%31 == 0 {
			reader, err := zlib.NewReader(source)
			if err != nil {
				return err
			}
			decoded = reader
			c.encoder, _ = zlib.NewWriterLevel(&c.encoded, zlib.BestSpeed)
		} else {
			decoded = flate.NewReader(source)
			c.encoder, _ = flate.NewWriter(&c.encoded, flate.BestSpeed)
		}
	}
	c.plain = newReplaceReader(decoded, c.replacer, c.hit)
	return nil
}

func (c *recoder) Read(p []byte) (int, error) {
	if c.plain == nil && c.err == nil {
		c.err = c.start()
	}
	for c.encoded.Len() == 0 && !c.done && c.err == nil {
		n, err := c.plain.Read(c.buffer)
		if n > 0 {
			if _, writeErr := c.encoder.Write(c.buffer[:n]); writeErr != nil {
				c.err = writeErr
				break
			}
		}
		switch {
		case err == io.EOF:
			c.done = true
			c.err = c.encoder.Close()
		case err != nil:
			c.err = err
		case n > 0:
			c.err = c.encoder.Flush()
		}
	}
	if c.encoded.Len() > 0 {
		return c.encoded.Read(p)
	}
	if c.err != nil {
		return 0, c.err
	}
	return 0, io.EOF
}

func (c *recoder) Close() error { return c.src.Close() }
