package main

import (
	"bytes"
	"io"
	"math/rand"
	"sort"
	"strings"
	"testing"
)

func stubPatterns() *replacer {
	return newReplacer([]pattern{
		{name: "A", from: []byte("stub_a_0123456789abcdef"), to: []byte("REAL-A")},
		{name: "B", from: []byte("stub_b_fedcba9876543210"), to: []byte("REAL-B-LONGER-VALUE")},
	})
}

func replaceInReads(t *testing.T, r *replacer, text string, size int) (string, []string) {
	t.Helper()
	hits := &nameSet{}
	out, err := io.ReadAll(newReplaceReader(io.NopCloser(&chunkedReader{[]byte(text), size}), r, hits.add))
	if err != nil {
		t.Fatal(err)
	}
	return string(out), hits.list()
}

func TestReplacesEveryPatternWhateverTheReadSize(t *testing.T) {
	input := "stub_stub_a_0123456789abcdef|stub_b_fedcba9876543210 stub_a_01234 stub_b_fedcba9876543210stub_"
	expected := "stub_REAL-A|REAL-B-LONGER-VALUE stub_a_01234 REAL-B-LONGER-VALUEstub_"
	for _, size := range []int{1, 2, 3, 5, 7, 22, 23, 24, 1000} {
		out, names := replaceInReads(t, stubPatterns(), input, size)
		if out != expected {
			t.Errorf("%d-byte reads: got %q", size, out)
		}
		if len(names) != 2 || names[0] != "A" || names[1] != "B" {
			t.Errorf("%d-byte reads: replaced %v", size, names)
		}
	}
}

func TestLeavesTextWithoutPatternsByteIdentical(t *testing.T) {
	input := "nothing to see, not even stu"
	for _, size := range []int{1, 4, 1000} {
		out, names := replaceInReads(t, stubPatterns(), input, size)
		if out != input || len(names) != 0 {
			t.Errorf("%d-byte reads: got %q, replaced %v", size, out, names)
		}
	}
}

func TestHoldsBackOnlyWhatCouldStartAPattern(t *testing.T) {
	r := stubPatterns()
	out, held := r.replace([]byte("abc stub_a_0123"), false, nil)
	if string(out) != "abc " || string(held) != "stub_a_0123" {
		t.Errorf("got %q / %q", out, held)
	}
	out, held = r.replace([]byte("abc stub_x"), false, nil)
	if string(out) != "abc stub_x" || len(held) != 0 {
		t.Errorf("a suffix no pattern starts with was held back: %q / %q", out, held)
	}
	buf := []byte("no stub here at all")
	out, _ = r.replace(buf, false, nil)
	if &out[0] != &buf[0] {
		t.Error("a chunk without patterns was copied")
	}
}

// Real values share no prefix: the search runs per pattern. Random text with the values
// sprinkled in, read in random sizes, must come out exactly as a one-shot replace says.
func TestReplacesValuesWithoutASharedPrefixInRandomReads(t *testing.T) {
	values := []string{"ghp_realGithubToken0123", "sk-real-gateway-key-99", "xoxb-1234-abcd-real"}
	var patterns []pattern
	for i, value := range values {
		patterns = append(patterns, pattern{name: value[:3], from: []byte(value), to: []byte("stub_" + strings.Repeat("x", i+3))})
	}
	r := newReplacer(patterns)
	random := rand.New(rand.NewSource(7))
	var text, want strings.Builder
	for i := 0; i < 2000; i++ {
		filler := make([]byte, random.Intn(40))
		for j := range filler {
			filler[j] = "abcdefghijklmnopqrstuvwxyz_-0123456789"[random.Intn(38)]
		}
		text.Write(filler)
		want.Write(filler)
		k := random.Intn(len(values))
		text.WriteString(values[k])
		want.Write(patterns[k].to)
	}
	for _, size := range []int{1, 5, 19, 64, 4096, 1 << 20} {
		out, names := replaceInReads(t, r, text.String(), size)
		if out != want.String() {
			t.Fatalf("%d-byte reads: output differs", size)
		}
		sort.Strings(names)
		if len(names) != 3 {
			t.Errorf("%d-byte reads: replaced %v", size, names)
		}
	}
}

func TestPrefersTheLongestPatternAtAPosition(t *testing.T) {
	r := newReplacer([]pattern{
		{name: "short", from: []byte("secret-value"), to: []byte("S1")},
		{name: "long", from: []byte("secret-value-longer"), to: []byte("S2")},
	})
	out, _ := r.replace([]byte("x secret-value-longer y"), true, nil)
	if !bytes.Equal(out, []byte("x S2 y")) {
		t.Errorf("got %q", out)
	}
}
