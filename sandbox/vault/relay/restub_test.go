package main

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

const (
	realValue = "ghp_realGithubToken0123456789"
	stubValue = "stub_github_token_0123456789abcdef"
)

func testRestub() *replacer {
	return newRestubReplacer([]restubPair{
		{Name: "GITHUB_TOKEN", Stub: stubValue, Real: realValue},
		{Name: "SHORT", Stub: "stub_short_00", Real: "true"},
	})
}

func answer(body []byte, header http.Header, status int) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(&chunkedReader{body, 3}),
		ContentLength: int64(len(body))}
}

func readRestubbed(t *testing.T, response *http.Response) (string, []string) {
	t.Helper()
	hits := &nameSet{}
	body, changed, err := restubBody(response, http.MethodGet, testRestub(), hits.add)
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Error("a re-stubbed body kept its Content-Length")
	}
	out, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), hits.list()
}

func TestRestubsAValueSplitAcrossReads(t *testing.T) {
	out, names := readRestubbed(t, answer([]byte(`{"echo":"`+realValue+`","flag":true}`), nil, 200))
	if out != `{"echo":"`+stubValue+`","flag":true}` {
		t.Errorf("got %q", out)
	}
	if len(names) != 1 || names[0] != "GITHUB_TOKEN" {
		t.Errorf("restubbed %v", names)
	}
}

func TestRestubsTheBase64FormsOfAValue(t *testing.T) {
	for _, prefix := range []string{"", "x", "xy", "x-access-token:"} {
		encoded := base64.StdEncoding.EncodeToString([]byte(prefix + realValue + "!"))
		out, _ := readRestubbed(t, answer([]byte(`{"authorization":"Basic `+encoded+`"}`), nil, 200))
		echoed := strings.TrimSuffix(strings.TrimPrefix(out, `{"authorization":"Basic `), `"}`)
		decoded, _ := base64.StdEncoding.DecodeString(echoed)
		if strings.Contains(out, encoded) || bytes.Contains(decoded, []byte(realValue)) ||
			bytes.Contains(decoded, []byte(realValue[2:len(realValue)-2])) {
			t.Errorf("prefix %q: the value survives in %q", prefix, out)
		}
	}
}

func TestLeavesShortValuesAlone(t *testing.T) {
	out, _ := readRestubbed(t, answer([]byte(`{"ok":true}`), nil, 200))
	if out != `{"ok":true}` {
		t.Errorf("got %q", out)
	}
}

func TestRestubsHeaders(t *testing.T) {
	header := http.Header{"X-Echo": {"token " + realValue}}
	restubHeaders(header, testRestub(), nil)
	if header.Get("X-Echo") != "token "+stubValue {
		t.Errorf("got %q", header.Get("X-Echo"))
	}
}

func compress(t *testing.T, coding string, text string) []byte {
	t.Helper()
	var buffer bytes.Buffer
	var writer io.WriteCloser
	switch coding {
	case "gzip":
		writer = gzip.NewWriter(&buffer)
	case "zlib":
		writer = zlib.NewWriter(&buffer)
	default:
		writer, _ = flate.NewWriter(&buffer, flate.DefaultCompression)
	}
	_, _ = writer.Write([]byte(text))
	_ = writer.Close()
	return buffer.Bytes()
}

func decompress(t *testing.T, coding string, data []byte) string {
	t.Helper()
	var reader io.Reader
	var err error
	switch coding {
	case "gzip":
		reader, err = gzip.NewReader(bytes.NewReader(data))
	case "zlib":
		reader, err = zlib.NewReader(bytes.NewReader(data))
	default:
		reader = flate.NewReader(bytes.NewReader(data))
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(reader)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestRestubsCompressedAnswersAndEncodesThemAgain(t *testing.T) {
	text := strings.Repeat("padding ", 5000) + realValue + strings.Repeat(" more", 5000)
	for _, c := range []struct{ coding, header string }{{"gzip", "gzip"}, {"zlib", "deflate"}, {"raw", "deflate"}} {
		response := answer(compress(t, c.coding, text), http.Header{"Content-Encoding": {c.header}}, 200)
		out, names := readRestubbed(t, response)
		plain := decompress(t, c.coding, []byte(out))
		if strings.Contains(plain, realValue) || !strings.Contains(plain, stubValue) || len(names) != 1 {
			t.Errorf("%s: value still there or not re-stubbed (%v)", c.coding, names)
		}
	}
}

func TestRefusesEncodingsItCannotInspect(t *testing.T) {
	for _, response := range []*http.Response{
		answer([]byte("x"), http.Header{"Content-Encoding": {"br"}}, 200),
		answer([]byte("x"), http.Header{"Content-Encoding": {"gzip, br"}}, 200),
		answer([]byte("x"), http.Header{"Content-Encoding": {"gzip"}}, http.StatusPartialContent),
	} {
		if _, _, err := restubBody(response, http.MethodGet, testRestub(), nil); !errors.Is(err, errUninspectable) {
			t.Errorf("%v (%d): got %v", response.Header, response.StatusCode, err)
		}
	}
	// Nothing to inspect: a HEAD answer or an empty body passes unchanged.
	head := answer(nil, http.Header{"Content-Encoding": {"br"}}, 200)
	if _, changed, err := restubBody(head, http.MethodHead, testRestub(), nil); err != nil || changed {
		t.Errorf("HEAD: %v %v", changed, err)
	}
}

func TestOffersOnlyEncodingsItCanDecode(t *testing.T) {
	for offered, want := range map[string]string{
		"gzip, deflate, br, zstd": "gzip, deflate",
		"br":                      "",
		"*":                       "",
		"gzip;q=1.0, identity":    "gzip;q=1.0, identity",
	} {
		if got := acceptEncoding(offered, false); got != want {
			t.Errorf("%q: got %q", offered, got)
		}
	}
	if got := acceptEncoding("gzip", true); got != "identity" {
		t.Errorf("a request carrying a value: got %q", got)
	}
}
