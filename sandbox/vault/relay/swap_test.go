package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"sort"
	"testing"
)

var testSubs = []substitution{
	{Name: "A", Stub: "stub_a_0123456789abcdef", Real: "REAL-A"},
	{Name: "B", Stub: "stub_b_fedcba9876543210", Real: "REAL-B-LONGER-VALUE"},
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

func swapInReads(t *testing.T, text string, size int) (string, []string) {
	t.Helper()
	s := newSwapper(testSubs)
	out, err := io.ReadAll(newSwapReader(io.NopCloser(&chunkedReader{[]byte(text), size}), s))
	if err != nil {
		t.Fatal(err)
	}
	names := s.names()
	sort.Strings(names)
	return string(out), names
}

func TestSwapsEveryStubWhateverTheReadSize(t *testing.T) {
	input := "stub_stub_a_0123456789abcdef|stub_b_fedcba9876543210 stub_a_01234 stub_b_fedcba9876543210stub_"
	expected := "stub_REAL-A|REAL-B-LONGER-VALUE stub_a_01234 REAL-B-LONGER-VALUEstub_"
	for _, size := range []int{1, 2, 3, 5, 7, 22, 23, 24, 1000} {
		out, names := swapInReads(t, input, size)
		if out != expected {
			t.Errorf("%d-byte reads: got %q", size, out)
		}
		if len(names) != 2 || names[0] != "A" || names[1] != "B" {
			t.Errorf("%d-byte reads: swapped %v", size, names)
		}
	}
}

func TestLeavesTextWithoutStubsByteIdentical(t *testing.T) {
	input := "nothing to see, not even stu"
	for _, size := range []int{1, 4, 1000} {
		out, names := swapInReads(t, input, size)
		if out != input || len(names) != 0 {
			t.Errorf("%d-byte reads: got %q, swapped %v", size, out, names)
		}
	}
}

func TestHoldsBackOnlyWhatCouldStartAStub(t *testing.T) {
	s := newSwapper(testSubs)
	out, held := s.swap([]byte("abc stub_a_0123"), false)
	if string(out) != "abc " || string(held) != "stub_a_0123" {
		t.Errorf("got %q / %q", out, held)
	}
	out, held = s.swap([]byte("abc stub_x"), false)
	if string(out) != "abc stub_x" || len(held) != 0 {
		t.Errorf("a suffix no stub starts with was held back: %q / %q", out, held)
	}
	buf := []byte("no stub here at all")
	out, _ = s.swap(buf, false)
	if &out[0] != &buf[0] {
		t.Error("a chunk without stubs was copied")
	}
}

func TestSwapsInsideBasicCredentials(t *testing.T) {
	s := newSwapper(testSubs)
	encoded := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:stub_a_0123456789abcdef"))
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:REAL-A"))
	if got := s.swapHeader("Authorization", encoded); got != want {
		t.Errorf("got %q", got)
	}
	if got := s.swapHeader("Authorization", "Bearer stub_b_fedcba9876543210"); got != "Bearer REAL-B-LONGER-VALUE" {
		t.Errorf("got %q", got)
	}
	// Only the Authorization header is decoded: elsewhere base64 is just text.
	if got := s.swapHeader("X-Other", encoded); got != encoded {
		t.Errorf("got %q", got)
	}
}

func TestSwapsNothingWithoutBindings(t *testing.T) {
	s := newSwapper(nil)
	if got := s.swapString("Bearer stub_a_0123456789abcdef"); got != "Bearer stub_a_0123456789abcdef" {
		t.Errorf("got %q", got)
	}
	if !bytes.Equal([]byte(s.swapHeader("Authorization", "Basic eA==")), []byte("Basic eA==")) {
		t.Error("an unbound Basic header changed")
	}
}
