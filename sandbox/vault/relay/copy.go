package main

import (
	"io"
	"sync"
)

// coalesceBytes bounds what one coalesced write carries and what a copy buffers.
const coalesceBytes = 256 * 1024

// coalescingCopy copies src to dst. A goroutine keeps reading while dst is busy, and the
// next write carries everything read meanwhile: a fast stream goes out in large writes
// (fewer syscalls, TLS records and HTTP chunks on both sides), while a slow one
// (server-sent events, a streamed completion) is written the moment each piece arrives,
// never held back waiting for more. afterWrite (may be nil) runs after each write, e.g. a
// flush. The reader waits while a full batch is pending: backpressure, bounded memory.
func coalescingCopy(dst io.Writer, src io.Reader, afterWrite func()) (int64, error) {
	var (
		mu      sync.Mutex
		changed = sync.NewCond(&mu)
		pending = make([]byte, 0, coalesceBytes)
		readErr error
		stopped bool
	)
	go func() {
		buffer := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(buffer)
		for {
			n, err := src.Read((*buffer)[:coalesceBytes/4])
			mu.Lock()
			for len(pending) >= coalesceBytes && !stopped {
				changed.Wait()
			}
			pending = append(pending, (*buffer)[:n]...)
			readErr = err
			done := err != nil || stopped
			changed.Broadcast()
			mu.Unlock()
			if done {
				return
			}
		}
	}()
	stop := func() {
		mu.Lock()
		stopped = true
		changed.Broadcast()
		mu.Unlock()
	}

	var written int64
	batch := make([]byte, 0, coalesceBytes)
	for {
		mu.Lock()
		for len(pending) == 0 && readErr == nil {
			changed.Wait()
		}
		// Swap buffers: the reader appends to the one just written.
		batch, pending = pending, batch[:0]
		err := readErr
		changed.Broadcast()
		mu.Unlock()
		if len(batch) > 0 {
			n, writeErr := dst.Write(batch)
			written += int64(n)
			if writeErr != nil {
				stop()
				return written, writeErr
			}
			if afterWrite != nil {
				afterWrite()
			}
		}
		if err != nil {
			stop()
			if err == io.EOF {
				return written, nil
			}
			return written, err
		}
	}
}
