package main

// Swapping stubs for real values in what the agent sends, under each credential's binding:
// only in request headers (the standard credential headers, plus the ones the binding
// names), Basic credentials decoded and re-encoded; in the URL and text bodies only for a
// binding with body: true. The control plane sends only the credentials bound to the
// request's destination, so nothing is ever swapped for another host.

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// substitution is one credential the control plane bound to the destination.
type substitution struct {
	// Name is the env var name, for logs; never the value.
	Name string `json:"name"`
	Stub string `json:"stub"`
	Real string `json:"real"`
	// Headers are extra request headers (lowercase) the value may go in.
	Headers []string `json:"headers"`
	// Body: also the URL and text bodies.
	Body bool `json:"body"`
}

// credentialHeaders are the headers every bound value may be swapped into
// (VAULT_SWAP_HEADERS in @lap/sandbox-protocol).
var credentialHeaders = map[string]bool{"authorization": true, "proxy-authorization": true, "x-api-key": true}

type swapper struct {
	subs []substitution
	// byHeader caches the replacer for each header name (only names holding a stub get one).
	byHeader map[string]*replacer
	body     *replacer
	// swapped names the credentials swapped in so far (for the egress log line).
	swapped *nameSet
}

// nameSet is a set of credential names, filled by body readers on other goroutines.
type nameSet struct {
	mu    sync.Mutex
	names map[string]bool
}

func (n *nameSet) add(name string) {
	n.mu.Lock()
	if n.names == nil {
		n.names = map[string]bool{}
	}
	n.names[name] = true
	n.mu.Unlock()
}

func (n *nameSet) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	names := make([]string, 0, len(n.names))
	for name := range n.names {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func newSwapper(subs []substitution) *swapper {
	s := &swapper{subs: subs, byHeader: map[string]*replacer{}, swapped: &nameSet{}}
	var body []pattern
	for _, sub := range subs {
		if sub.Body {
			body = append(body, pattern{name: sub.Name, from: []byte(sub.Stub), to: []byte(sub.Real)})
		}
	}
	s.body = newReplacer(body)
	return s
}

func (s *swapper) hit(name string) { s.swapped.add(name) }

func (s *swapper) names() []string { return s.swapped.list() }

// forHeader is the replacer of the credentials allowed in this header.
func (s *swapper) forHeader(name string) *replacer {
	name = strings.ToLower(name)
	if cached, ok := s.byHeader[name]; ok {
		return cached
	}
	var patterns []pattern
	for _, sub := range s.subs {
		allowed := credentialHeaders[name]
		for _, header := range sub.Headers {
			allowed = allowed || header == name
		}
		if allowed {
			patterns = append(patterns, pattern{name: sub.Name, from: []byte(sub.Stub), to: []byte(sub.Real)})
		}
	}
	r := newReplacer(patterns)
	s.byHeader[name] = r
	return r
}

// swapHeader swaps the stubs allowed in this header. Basic credentials carry the stub
// base64-encoded (git sends them so): decoded, swapped, re-encoded.
func (s *swapper) swapHeader(name, value string) string {
	if len(s.subs) == 0 || !strings.Contains(value, "stub_") && !isBasic(value) {
		return value
	}
	r := s.forHeader(name)
	if r.empty() {
		return value
	}
	if isBasic(value) {
		if decoded, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[6:])); err == nil {
			swapped := r.replaceString(string(decoded), s.hit)
			if swapped != string(decoded) {
				return value[:6] + base64.StdEncoding.EncodeToString([]byte(swapped))
			}
		}
	}
	return r.replaceString(value, s.hit)
}

func isBasic(value string) bool { return len(value) > 6 && strings.EqualFold(value[:6], "basic ") }

// swapHeaders returns the request headers to send: hop-by-hop ones dropped, stubs swapped
// where the bindings allow.
func (s *swapper) swapHeaders(in http.Header) http.Header {
	out := make(http.Header, len(in))
	for name, values := range in {
		if hopByHop[name] {
			continue
		}
		swapped := make([]string, len(values))
		for i, value := range values {
			swapped[i] = s.swapHeader(name, value)
		}
		out[name] = swapped
	}
	return out
}

// swapURL swaps stubs of body: true bindings in the request target (never the others).
func (s *swapper) swapURL(path string) string {
	return s.body.replaceString(path, s.hit)
}
