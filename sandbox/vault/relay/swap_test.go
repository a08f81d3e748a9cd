package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"testing"
)

var testSubs = []substitution{
	{Name: "A", Stub: "stub_a_0123456789abcdef", Real: "REAL-A"},
	{Name: "B", Stub: "stub_b_fedcba9876543210", Real: "REAL-B-LONGER-VALUE", Headers: []string{"private-token"}},
	{Name: "C", Stub: "stub_c_00112233445566ff", Real: "REAL-C", Body: true},
}

// chunkedReader hands out its text at most size bytes at a time, as a socket might.
type chunkedReader struct {
	text []byte
	size int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.text) == 0 {
		return 0, io.EOF
	}
	n := r.size
	if n > len(r.text) {
		n = len(r.text)
	}
	if n > len(p) {
		n = len(p)
	}
	n = copy(p[:n], r.text[:n])
	r.text = r.text[n:]
	return n, nil
}

func TestSwapsEveryBoundStubInCredentialHeaders(t *testing.T) {
	s := newSwapper(testSubs)
	got := s.swapHeaders(http.Header{
		"Authorization": {"Bearer stub_a_0123456789abcdef"},
		"X-Api-Key":     {"stub_b_fedcba9876543210"},
		"Private-Token": {"stub_b_fedcba9876543210"},
	})
	if got.Get("Authorization") != "Bearer REAL-A" || got.Get("X-Api-Key") != "REAL-B-LONGER-VALUE" {
		t.Errorf("credential headers: %v", got)
	}
	if got.Get("Private-Token") != "REAL-B-LONGER-VALUE" {
		t.Errorf("a header the binding names was not swapped: %v", got)
	}
	if names := s.names(); len(names) != 2 || names[0] != "A" || names[1] != "B" {
		t.Errorf("swapped %v", names)
	}
}

func TestNeverSwapsIntoOtherHeaders(t *testing.T) {
	s := newSwapper(testSubs)
	got := s.swapHeaders(http.Header{
		"X-Echo":        {"stub_a_0123456789abcdef"},
		"Cookie":        {"session=stub_b_fedcba9876543210"},
		"Private-Token": {"stub_a_0123456789abcdef"}, // B's header, not A's
		"User-Agent":    {"stub_c_00112233445566ff"},
	})
	for name, want := range map[string]string{
		"X-Echo": "stub_a_0123456789abcdef", "Cookie": "session=stub_b_fedcba9876543210",
		"Private-Token": "stub_a_0123456789abcdef", "User-Agent": "stub_c_00112233445566ff",
	} {
		if got.Get(name) != want {
			t.Errorf("%s: got %q", name, got.Get(name))
		}
	}
	if len(s.names()) != 0 {
		t.Errorf("swapped %v", s.names())
	}
}

func TestSwapsInsideBasicCredentials(t *testing.T) {
	s := newSwapper(testSubs)
	encoded := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:stub_a_0123456789abcdef"))
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:REAL-A"))
	if got := s.swapHeader("Authorization", encoded); got != want {
		t.Errorf("got %q", got)
	}
	// Only credential headers are decoded: elsewhere base64 is just text.
	if got := s.swapHeader("X-Other", encoded); got != encoded {
		t.Errorf("got %q", got)
	}
}

func TestSwapsURLsOnlyForBodyBindings(t *testing.T) {
	s := newSwapper(testSubs)
	got := s.swapURL("/x?a=stub_a_0123456789abcdef&c=stub_c_00112233445566ff")
	if got != "/x?a=stub_a_0123456789abcdef&c=REAL-C" {
		t.Errorf("got %q", got)
	}
}

func TestSwapsBodiesOnlyForBodyBindings(t *testing.T) {
	s := newSwapper(testSubs)
	input := `{"a":"stub_a_0123456789abcdef","c":"stub_c_00112233445566ff"}`
	for _, size := range []int{1, 3, 7, 1000} {
		out, err := io.ReadAll(newReplaceReader(io.NopCloser(&chunkedReader{[]byte(input), size}), s.body, s.hit))
		if err != nil || string(out) != `{"a":"stub_a_0123456789abcdef","c":"REAL-C"}` {
			t.Errorf("%d-byte reads: got %q (%v)", size, out, err)
		}
	}
}

func TestSwapsNothingWithoutBindings(t *testing.T) {
	s := newSwapper(nil)
	if got := s.swapHeader("Authorization", "Bearer stub_a_0123456789abcdef"); got != "Bearer stub_a_0123456789abcdef" {
		t.Errorf("got %q", got)
	}
	if got := s.swapHeader("Authorization", "Basic eA=="); got != "Basic eA==" {
		t.Errorf("an unbound Basic header changed: %q", got)
	}
}
