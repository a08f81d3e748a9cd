package main

// Connection wrappers: buffered reads under TLS, one write syscall per TLS write, and the
// listener that hands intercepted connections to the interceptor.

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"sync"
)

// socketReadBytes buffers reads under each TLS connection: one read syscall then brings in
// many TLS records instead of about one (a record is at most 16 KB).
const socketReadBytes = 256 * 1024

// readerConn reads through a buffer (that may already hold the client's first bytes).
type readerConn struct {
	net.Conn
	reader io.Reader
}

func (c *readerConn) Read(p []byte) (int, error) { return c.reader.Read(p) }

func newReaderConn(conn net.Conn, buffered io.Reader) *readerConn {
	if buffered != nil {
		return &readerConn{Conn: conn, reader: bufio.NewReaderSize(io.MultiReader(buffered, conn), socketReadBytes)}
	}
	return &readerConn{Conn: conn, reader: bufio.NewReaderSize(conn, socketReadBytes)}
}

// batchingConn sits under a TLS connection. crypto/tls writes each record (at most 16 KB)
// with its own syscall; while a batch is open, the records are gathered and go out in one.
type batchingConn struct {
	net.Conn
	mu       sync.Mutex
	batching bool
	pending  []byte
}

func (c *batchingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.batching {
		c.pending = append(c.pending, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *batchingConn) begin() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

func (c *batchingConn) end() error {
	c.mu.Lock()
	pending := c.pending
	c.pending = c.pending[:0]
	c.batching = false
	c.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	_, err := c.Conn.Write(pending)
	return err
}

// batchedTLS is a TLS connection whose every Write reaches the socket in one syscall.
type batchedTLS struct {
	*tls.Conn
	under *batchingConn
	// writes serializes Write: a batch belongs to one Write.
	writes sync.Mutex
}

func newBatchedTLS(under *batchingConn, wrap func(net.Conn) *tls.Conn) *batchedTLS {
	return &batchedTLS{Conn: wrap(under), under: under}
}

func (c *batchedTLS) Write(p []byte) (int, error) {
	c.writes.Lock()
	defer c.writes.Unlock()
	c.under.begin()
	n, err := c.Conn.Write(p)
	if flushErr := c.under.end(); err == nil {
		err = flushErr
	}
	return n, err
}

// interceptedConn carries the CONNECT target into the interceptor's request context.
type interceptedConn struct {
	*batchedTLS
	target *target
}

// connQueue is the interceptor's listener: intercepted connections are pushed, not accepted.
type connQueue struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (q *connQueue) push(conn net.Conn) {
	select {
	case q.conns <- conn:
	case <-q.closed:
		conn.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case conn := <-q.conns:
		return conn, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return &net.TCPAddr{} }
