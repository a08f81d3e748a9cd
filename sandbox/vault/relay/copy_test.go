package main

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// slowWriter takes its time per write, as a congested socket does.
type slowWriter struct {
	bytes.Buffer
	writes int
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.writes++
	time.Sleep(2 * time.Millisecond)
	return w.Buffer.Write(p)
}

func TestReadAheadKeepsEveryByteInOrder(t *testing.T) {
	input := bytes.Repeat([]byte("0123456789abcdef"), 100_000)
	for _, size := range []int{1, 1000, 16 * 1024, len(input)} {
		body := newReadAhead(io.NopCloser(&chunkedReader{append([]byte(nil), input...), size}))
		out, err := io.ReadAll(body)
		if err != nil || !bytes.Equal(out, input) {
			t.Fatalf("%d-byte reads: %d bytes back, err %v", size, len(out), err)
		}
	}
}

func TestReadAheadCoalescesWhileTheWriterIsBusy(t *testing.T) {
	input := bytes.Repeat([]byte{'x'}, 4*1024*1024)
	reads := len(input) / (16 * 1024)
	var out slowWriter
	n, err := newReadAhead(io.NopCloser(&chunkedReader{input, 16 * 1024})).WriteTo(&out)
	if err != nil || n != int64(len(input)) || !bytes.Equal(out.Bytes(), input) {
		t.Fatalf("copied %d bytes, err %v", n, err)
	}
	// 256 source reads; a busy writer gets them in a few large writes.
	if out.writes > reads/4 {
		t.Errorf("%d writes for %d reads: nothing was coalesced", out.writes, reads)
	}
}

// trickle hands out its first piece, then blocks until released: a stream that pauses.
type trickle struct {
	pieces  [][]byte
	release chan struct{}
	served  int
}

func (r *trickle) Read(p []byte) (int, error) {
	if r.served == 1 {
		<-r.release
	}
	if r.served == len(r.pieces) {
		return 0, io.EOF
	}
	r.served++
	return copy(p, r.pieces[r.served-1]), nil
}

type notifyingWriter struct{ got chan []byte }

func (w notifyingWriter) Write(p []byte) (int, error) {
	w.got <- append([]byte(nil), p...)
	return len(p), nil
}

func TestReadAheadWritesWhatArrivedWithoutWaitingForMore(t *testing.T) {
	source := &trickle{pieces: [][]byte{[]byte("data: one\n\n"), []byte("data: two\n\n")}, release: make(chan struct{})}
	got := make(chan []byte, 4)
	done := make(chan error, 1)
	go func() {
		_, err := newReadAhead(io.NopCloser(source)).WriteTo(notifyingWriter{got})
		done <- err
	}()
	select {
	case first := <-got:
		if string(first) != "data: one\n\n" {
			t.Fatalf("first write %q", first)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the first event was held back until the stream went on")
	}
	close(source.release)
	if second := <-got; string(second) != "data: two\n\n" {
		t.Fatalf("second write %q", second)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
