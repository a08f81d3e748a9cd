package main

// One connection: TLS handshake, one `CONNECT <ip>:<port>` request, token and destination
// checks, dial, `200`, then bytes both ways until either side closes. Anything else gets an
// HTTP error and the connection is closed. JSON log lines (the answer, and the bytes moved
// when a tunnel closes), never a token.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// handshakeTimeout bounds the TLS handshake plus the CONNECT request.
	handshakeTimeout = 10 * time.Second
	dialTimeout      = 10 * time.Second
	maxHeaderBytes   = 16 * 1024
	copyBufferBytes  = 256 * 1024
)

type gateway struct {
	tokenKey []byte
	rules    *destinationRules
	tls      *tls.Config
	log      *logger
	dialer   net.Dialer
	// tunnels counts open tunnels, for a graceful stop.
	tunnels sync.WaitGroup
	open    atomic.Int64
}

// serve accepts connections until the listener closes.
func (g *gateway) serve(listener net.Listener) error {
	for {
		conn, err := listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var temporary interface{ Temporary() bool }
			if errors.As(err, &temporary) && temporary.Temporary() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		g.tunnels.Add(1)
		go func() {
			defer g.tunnels.Done()
			g.handle(conn)
		}()
	}
}

// refusal is an HTTP error answer to a CONNECT.
type refusal struct {
	status int
	reason string
}

func (g *gateway) handle(raw net.Conn) {
	started := time.Now()
	source, _ := netip.ParseAddrPort(raw.RemoteAddr().String())
	fields := map[string]any{"event": "egress_connect", "source": source.Addr().Unmap().String()}
	defer raw.Close()

	_ = raw.SetDeadline(started.Add(handshakeTimeout))
	client := tls.Server(raw, g.tls)
	if err := client.Handshake(); err != nil {
		fields["event"], fields["error"] = "tls_handshake_failed", err.Error()
		g.log.write("info", fields)
		return
	}
	reader := bufio.NewReaderSize(io.LimitReader(client, maxHeaderBytes), maxHeaderBytes)
	request, err := http.ReadRequest(reader)
	if err != nil {
		g.refuse(client, fields, refusal{http.StatusBadRequest, "not an HTTP request"})
		return
	}
	destination, sandboxID, denied := g.authorize(request, source.Addr())
	if sandboxID != "" {
		fields["sandbox_id"] = sandboxID
	}
	if destination.IsValid() {
		fields["destination"], fields["port"] = destination.Addr().String(), destination.Port()
	}
	if denied != nil {
		g.refuse(client, fields, *denied)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	upstream, err := g.dialer.DialContext(ctx, "tcp", destination.String())
	cancel()
	if err != nil {
		fields["error"] = err.Error()
		g.refuse(client, fields, refusal{http.StatusBadGateway, "cannot connect to the destination"})
		return
	}
	defer upstream.Close()
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		return
	}
	_ = raw.SetDeadline(time.Time{})
	fields["status"] = http.StatusOK
	g.log.write("info", fields)
	g.open.Add(1)
	defer g.open.Add(-1)

	// The reader may hold bytes the vault sent right after its request (a TLS ClientHello).
	buffered := make([]byte, reader.Buffered())
	_, _ = io.ReadFull(reader, buffered)
	up, down := g.splice(client, upstream, buffered)
	closed := map[string]any{"event": "egress_closed", "source": fields["source"], "sandbox_id": sandboxID,
		"destination": fields["destination"], "port": fields["port"], "bytes_up": up, "bytes_down": down,
		"ms": time.Since(started).Milliseconds()}
	g.log.write("info", closed)
}

// authorize checks the request: CONNECT to an IP literal, a token valid for this source, an
// allowed destination.
func (g *gateway) authorize(request *http.Request, source netip.Addr) (netip.AddrPort, string, *refusal) {
	if request.Method != http.MethodConnect {
		return netip.AddrPort{}, "", &refusal{http.StatusMethodNotAllowed, "only CONNECT <ip>:<port> is served"}
	}
	destination, err := netip.ParseAddrPort(request.RequestURI)
	if err != nil || destination.Port() == 0 {
		return netip.AddrPort{}, "", &refusal{http.StatusBadRequest,
			"the CONNECT target must be an IP address and port (the vault resolves names)"}
	}
	sandboxID, valid := verifyToken(g.tokenKey, request.Header.Get("Proxy-Authorization"), source)
	if !valid {
		return destination, sandboxID, &refusal{http.StatusProxyAuthRequired,
			"a valid egress token for this source address is required"}
	}
	if why := g.rules.check(destination); why != "" {
		return destination, sandboxID, &refusal{http.StatusForbidden, "destination refused: " + why}
	}
	return destination, sandboxID, nil
}

func (g *gateway) refuse(client net.Conn, fields map[string]any, answer refusal) {
	body, _ := json.Marshal(map[string]string{"error": answer.reason})
	_, _ = fmt.Fprintf(client, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		answer.status, http.StatusText(answer.status), len(body), body)
	fields["status"], fields["reason"] = answer.status, answer.reason
	g.log.write("info", fields)
}

var copyBuffers = sync.Pool{New: func() any { buffer := make([]byte, copyBufferBytes); return &buffer }}

// splice copies both ways until one side ends, then closes both; it returns the bytes moved.
func (g *gateway) splice(client *tls.Conn, upstream net.Conn, buffered []byte) (up, down int64) {
	done := make(chan struct{}, 2)
	relay := func(to io.Writer, from io.Reader, counter *int64) {
		buffer := copyBuffers.Get().(*[]byte)
		n, _ := io.CopyBuffer(to, from, *buffer)
		copyBuffers.Put(buffer)
		atomic.AddInt64(counter, n)
		done <- struct{}{}
	}
	if len(buffered) > 0 {
		n, err := upstream.Write(buffered)
		up += int64(n)
		if err != nil {
			return up, down
		}
	}
	go relay(upstream, client, &up)
	go relay(client, upstream, &down)
	<-done
	client.Close()
	upstream.Close()
	<-done
	return atomic.LoadInt64(&up), atomic.LoadInt64(&down)
}
