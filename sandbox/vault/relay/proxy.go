package main

// The egress proxy the harness's HTTP(S)_PROXY points at.
//
//   CONNECT host:port  -> control plane admits it -> 200 -> if the client speaks TLS,
//                         terminate it with a leaf for the SNI name and forward each
//                         decrypted request over a verified TLS connection upstream;
//                         anything else is tunnelled as raw bytes (no swapping possible).
//   GET http://host/.. -> control plane admits it -> forwarded over plain HTTP.
//
// Stubs are swapped for real values (headers, URL, text bodies) only for the credentials
// the control plane bound to the destination. Bodies stream both ways with backpressure.

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// copyBufferBytes is each body copy's buffer; sync.Pool keeps them off the allocator.
const copyBufferBytes = 256 * 1024

const tlsHandshakeRecord = 0x16

var hopByHop = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Proxy-Authorization": true,
	"Proxy-Authenticate": true, "Keep-Alive": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true,
}

var textContentType = regexp.MustCompile(
	`(?i)^(text/|application/([\w.+-]*\+)?(json|xml|x-www-form-urlencoded|javascript|graphql|x-ndjson|yaml)\b)`)

var copyBuffers = sync.Pool{New: func() any { buffer := make([]byte, copyBufferBytes); return &buffer }}

type targetKey struct{}

type proxy struct {
	control *control
	// policyHeader names, on a refusal, the rule list that refused (from @lap/sandbox-protocol).
	policyHeader string
	transport    *http.Transport
	interceptor  *http.Server
	intercepted  *connQueue
	certs        sync.Map // server name -> *tls.Certificate
}

func newProxy(ctl *control, upstreamTLS *tls.Config, policyHeader string) *proxy {
	p := &proxy{control: ctl, policyHeader: policyHeader, intercepted: newConnQueue()}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network string) (net.Conn, error) {
		t := ctx.Value(targetKey{}).(*target)
		conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(t.Address, strconv.Itoa(t.Port)))
		if err != nil {
			return nil, err
		}
		return newReaderConn(conn, nil), nil
	}
	p.transport = &http.Transport{
		// Dial the address the policy checked; TLS verifies the name the agent asked for.
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dial(ctx, network)
		},
		DialTLSContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			conn, err := dial(ctx, network)
			if err != nil {
				return nil, err
			}
			config := upstreamTLS.Clone()
			config.ServerName = ctx.Value(targetKey{}).(*target).Host
			upstream := newBatchedTLS(&batchingConn{Conn: conn}, func(c net.Conn) *tls.Conn { return tls.Client(c, config) })
			handshake, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := upstream.HandshakeContext(handshake); err != nil {
				conn.Close()
				return nil, err
			}
			return upstream, nil
		},
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     60 * time.Second,
		// Passed through as the client sent them: no HTTP/2, no transparent gzip.
		DisableCompression: true,
		WriteBufferSize:    64 * 1024,
		ReadBufferSize:     64 * 1024,
	}
	// Decrypted requests from intercepted tunnels; it never listens on a port itself.
	p.interceptor = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.forward(w, r, r.Context().Value(targetKey{}).(*target), "https", r.RequestURI)
		}),
		ConnContext: func(ctx context.Context, conn net.Conn) context.Context {
			return context.WithValue(ctx, targetKey{}, conn.(*interceptedConn).target)
		},
		IdleTimeout:       60 * time.Second,
		ReadHeaderTimeout: 60 * time.Second,
		ErrorLog:          quietLog,
	}
	go func() { _ = p.interceptor.Serve(p.intercepted) }()
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.connect(w, r)
		return
	}
	answer, err := p.control.call(controlRequest{Op: "plain", URL: r.RequestURI})
	if err != nil {
		answer = controlAnswer{Status: http.StatusBadGateway, Error: err.Error()}
	}
	if !answer.OK {
		p.reject(w, answer)
		return
	}
	p.forward(w, r, answer.Target, "http", answer.Path)
}

func (p *proxy) connect(w http.ResponseWriter, r *http.Request) {
	answer, err := p.control.call(controlRequest{Op: "connect", Authority: r.RequestURI})
	if err != nil {
		answer = controlAnswer{Status: http.StatusBadGateway, Error: err.Error()}
	}
	if !answer.OK {
		w.Header().Set("Connection", "close")
		p.reject(w, answer)
		return
	}
	conn, buffered, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		conn.Close()
		return
	}
	// The hijacked reader may already hold the client's first bytes: read through it.
	client := newReaderConn(conn, buffered.Reader)
	first, err := client.reader.(*bufio.Reader).Peek(1)
	if err != nil {
		conn.Close()
		return
	}
	if first[0] == tlsHandshakeRecord {
		p.intercept(client, answer.Target)
	} else {
		p.tunnel(client, answer.Target)
	}
}

func (p *proxy) intercept(client net.Conn, t *target) {
	config := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		// The agent is on loopback: small first records would buy no latency, only CPU.
		DynamicRecordSizingDisabled: true,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			name := hello.ServerName
			if name == "" {
				name = t.Host
			}
			return p.certificate(name)
		},
	}
	server := newBatchedTLS(&batchingConn{Conn: client}, func(c net.Conn) *tls.Conn { return tls.Server(c, config) })
	p.intercepted.push(&interceptedConn{batchedTLS: server, target: t})
}

// certificate is a leaf for the name, signed by the deployment CA; issued once per name.
func (p *proxy) certificate(name string) (*tls.Certificate, error) {
	name = strings.ToLower(name)
	if cached, ok := p.certs.Load(name); ok {
		return cached.(*tls.Certificate), nil
	}
	answer, err := p.control.call(controlRequest{Op: "certificate", Host: name})
	if err != nil {
		return nil, err
	}
	if !answer.OK {
		return nil, errors.New(answer.Error)
	}
	issued, err := tls.X509KeyPair([]byte(answer.CertPem), []byte(answer.KeyPem))
	if err != nil {
		return nil, err
	}
	p.certs.Store(name, &issued)
	return &issued, nil
}

func (p *proxy) tunnel(client net.Conn, t *target) {
	p.control.log("info", map[string]any{"event": "egress_tunnel", "host": t.Host, "port": t.Port})
	upstream, err := net.DialTimeout("tcp", net.JoinHostPort(t.Address, strconv.Itoa(t.Port)), 30*time.Second)
	if err != nil {
		client.Close()
		return
	}
	done := make(chan struct{}, 2)
	relay := func(to, from net.Conn) {
		buffer := copyBuffers.Get().(*[]byte)
		_, _ = io.CopyBuffer(to, from, *buffer)
		copyBuffers.Put(buffer)
		done <- struct{}{}
	}
	go relay(upstream, client)
	go relay(client, upstream)
	<-done
	client.Close()
	upstream.Close()
	<-done
}

func (p *proxy) forward(w http.ResponseWriter, r *http.Request, t *target, scheme, path string) {
	started := time.Now()
	logFields := map[string]any{
		"event": "egress", "method": r.Method, "scheme": scheme, "host": t.Host, "port": t.Port,
		"path": strings.SplitN(path, "?", 2)[0],
	}
	answer, err := p.control.call(controlRequest{Op: "bindings", Target: t})
	if err != nil {
		p.reject(w, controlAnswer{Status: http.StatusBadGateway, Error: err.Error()})
		return
	}
	swap := newSwapper(answer.Substitutions)

	requestURL, err := url.ParseRequestURI(swap.swapString(path))
	if err != nil {
		p.reject(w, controlAnswer{Status: http.StatusBadRequest, Error: "the request target is not a valid path"})
		return
	}
	requestURL.Scheme = scheme
	requestURL.Host = net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	out := (&http.Request{
		Method:        r.Method,
		URL:           requestURL,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, len(r.Header)),
		Host:          swap.swapString(r.Host),
		Body:          r.Body,
		ContentLength: r.ContentLength,
	}).WithContext(context.WithValue(r.Context(), targetKey{}, t))
	for name, values := range r.Header {
		if hopByHop[name] {
			continue
		}
		swapped := make([]string, len(values))
		for i, value := range values {
			swapped[i] = swap.swapHeader(name, value)
		}
		out.Header[name] = swapped
	}
	if len(swap.subs) > 0 && r.ContentLength != 0 && textContentType.MatchString(r.Header.Get("Content-Type")) &&
		r.Header.Get("Content-Encoding") == "" {
		// A swap changes the length: send the body chunked.
		out.Header.Del("Content-Length")
		out.ContentLength = -1
		out.Body = newSwapReader(r.Body, swap)
	}
	if worthReadingAhead(r.ContentLength) {
		// Decrypt from the agent while encrypting to the upstream; a chunked body goes in large chunks.
		out.Body = newReadAhead(out.Body)
	}

	response, err := p.transport.RoundTrip(out)
	if err != nil {
		logFields["error"] = err.Error()
		p.control.log("info", logFields)
		p.reject(w, controlAnswer{Status: http.StatusBadGateway,
			Error: "upstream " + t.Host + ":" + strconv.Itoa(t.Port) + " failed: " + err.Error()})
		return
	}
	defer response.Body.Close()
	for name, values := range response.Header {
		if !hopByHop[name] {
			w.Header()[name] = values
		}
	}
	w.WriteHeader(response.StatusCode)
	err = copyResponse(w, response)
	logFields["status"] = response.StatusCode
	logFields["swapped"] = swap.names()
	logFields["ms"] = float64(time.Since(started).Microseconds()) / 1000
	if err != nil {
		logFields["error"] = err.Error()
	}
	p.control.log("info", logFields)
}

// copyResponse streams the body; a body of unknown length (server-sent events, a
// streamed completion) is flushed write by write so no token waits in a buffer.
func copyResponse(w http.ResponseWriter, response *http.Response) error {
	if !worthReadingAhead(response.ContentLength) {
		buffer := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(buffer)
		_, err := io.CopyBuffer(w, response.Body, *buffer)
		return err
	}
	var flush func()
	if flusher, ok := w.(http.Flusher); ok && response.ContentLength < 0 {
		flush = flusher.Flush
	}
	body := newReadAhead(response.Body)
	defer body.Close()
	_, err := body.copyTo(w, flush)
	return err
}

// worthReadingAhead: a body of unknown length, or larger than one copy buffer. A small body
// of known length (most API requests and answers) is copied without a second goroutine.
func worthReadingAhead(contentLength int64) bool {
	return contentLength < 0 || contentLength > copyBufferBytes
}

// reject answers with a JSON error, naming the policy that refused the destination.
func (p *proxy) reject(w http.ResponseWriter, answer controlAnswer) {
	status := answer.Status
	if status == 0 {
		status = http.StatusBadGateway
	}
	w.Header().Set("Content-Type", "application/json")
	if answer.Policy != "" {
		w.Header().Set(p.policyHeader, answer.Policy)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": answer.Error})
}
