package main

import (
	"io"
	"sync"
)

// readAheadBytes bounds what a read-ahead body holds (and so what one coalesced write carries).
const readAheadBytes = 256 * 1024

// readAhead reads a body in its own goroutine while the consumer is busy, so decrypting
// one side and encrypting the other run on two cores instead of taking turns on one.
// WriteTo also coalesces: each write carries everything read meanwhile, so a fast stream
// goes out in large writes (fewer syscalls, TLS records and HTTP chunks on both sides)
// while a slow one (server-sent events, a streamed completion) is written the moment
// each piece arrives, never held back waiting for more. The reader waits while a full
// buffer is pending: backpressure, bounded memory.
type readAhead struct {
	src     io.ReadCloser
	mu      sync.Mutex
	changed *sync.Cond
	pending []byte
	// spare is the buffer handed out last; it is refilled only after the consumer is done with it.
	spare   []byte
	readErr error
	stopped bool
	// current is what Read has yet to return of the last buffer taken.
	current []byte
}

func newReadAhead(src io.ReadCloser) *readAhead {
	// pending and spare grow as needed: a short body never takes the full bound.
	r := &readAhead{src: src}
	r.changed = sync.NewCond(&r.mu)
	go r.fill()
	return r
}

func (r *readAhead) fill() {
	buffer := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buffer)
	for {
		n, err := r.src.Read((*buffer)[:readAheadBytes/4])
		r.mu.Lock()
		for len(r.pending) >= readAheadBytes && !r.stopped {
			r.changed.Wait()
		}
		r.pending = append(r.pending, (*buffer)[:n]...)
		r.readErr = err
		done := err != nil || r.stopped
		r.changed.Broadcast()
		r.mu.Unlock()
		if done {
			return
		}
	}
}

// take waits for data (or the end) and returns everything read so far.
func (r *readAhead) take() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.pending) == 0 && r.readErr == nil {
		r.changed.Wait()
	}
	taken := r.pending
	r.pending, r.spare = r.spare[:0], taken
	r.changed.Broadcast()
	if len(taken) > 0 {
		return taken, nil
	}
	return nil, r.readErr
}

func (r *readAhead) Read(p []byte) (int, error) {
	if len(r.current) == 0 {
		taken, err := r.take()
		if err != nil {
			return 0, err
		}
		r.current = taken
	}
	n := copy(p, r.current)
	r.current = r.current[n:]
	return n, nil
}

// WriteTo is what io.Copy uses: one write per take.
func (r *readAhead) WriteTo(w io.Writer) (int64, error) { return r.copyTo(w, nil) }

// copyTo writes everything to w, calling afterWrite (e.g. a flush) after each write.
func (r *readAhead) copyTo(w io.Writer, afterWrite func()) (int64, error) {
	var written int64
	if len(r.current) > 0 {
		n, err := w.Write(r.current)
		written += int64(n)
		r.current = nil
		if err != nil {
			return written, err
		}
	}
	for {
		batch, err := r.take()
		if err == io.EOF {
			return written, nil
		}
		if err != nil {
			return written, err
		}
		n, writeErr := w.Write(batch)
		written += int64(n)
		if writeErr != nil {
			return written, writeErr
		}
		if afterWrite != nil {
			afterWrite()
		}
	}
}

// Close stops the reader goroutine (once its read in flight returns) and closes the body.
func (r *readAhead) Close() error {
	r.mu.Lock()
	r.stopped = true
	r.changed.Broadcast()
	r.mu.Unlock()
	return r.src.Close()
}
