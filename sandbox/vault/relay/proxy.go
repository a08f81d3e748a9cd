package main

// The egress proxy the harness's HTTP(S)_PROXY points at.
//
//   CONNECT host:port  -> control plane admits it -> 200 -> if the client speaks TLS,
//                         terminate it with a leaf for the SNI name and forward each
//                         decrypted request over a verified TLS connection upstream;
//                         anything else is tunnelled as raw bytes (no swapping possible).
//   GET http://host/.. -> control plane admits it -> forwarded over plain HTTP.
//
// Stubs are swapped for real values only for the credentials the control plane bound to the
// destination, and only where their binding allows (swap.go); every real value held is
// replaced by its stub in answers (restub.go). Bodies stream both ways with backpressure.
// Upstreams are dialled at the address the policy approved, directly or through the egress
// gateway (gateway.go).

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
	dialer       *net.Dialer
	// gateway, when set, carries every upstream connection (enforced egress).
	gateway *egressGateway
	restub  restubSet
}

func newProxy(ctl *control, upstreamTLS *tls.Config, policyHeader string, gateway *egressGateway) *proxy {
	p := &proxy{control: ctl, policyHeader: policyHeader, intercepted: newConnQueue(), gateway: gateway,
		dialer: &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}}
	dial := func(ctx context.Context) (net.Conn, error) {
		conn, err := p.dialUpstream(ctx, ctx.Value(targetKey{}).(*target))
		if err != nil {
			return nil, err
		}
		return newReaderConn(conn, nil), nil
	}
	p.transport = &http.Transport{
		// Dial the address the policy checked; TLS verifies the name the agent asked for.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dial(ctx)
		},
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := dial(ctx)
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
	answer.Target.egressToken = answer.EgressToken
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
	answer.Target.egressToken = answer.EgressToken
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

// tunnel relays a connection that is not TLS as raw bytes: nothing can be swapped into it,
// and what comes back is still re-stubbed.
func (p *proxy) tunnel(client net.Conn, t *target) {
	logFields := map[string]any{"event": "egress_tunnel", "host": t.Host, "port": t.Port}
	_, restub, err := p.bindings(t)
	if err != nil {
		client.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	upstream, err := p.dialUpstream(ctx, t)
	cancel()
	if err != nil {
		logFields["error"] = err.Error()
		p.control.log("info", logFields)
		client.Close()
		return
	}
	p.control.log("info", logFields)
	done := make(chan struct{}, 2)
	relay := func(to io.Writer, from io.Reader) {
		buffer := copyBuffers.Get().(*[]byte)
		_, _ = io.CopyBuffer(to, from, *buffer)
		copyBuffers.Put(buffer)
		done <- struct{}{}
	}
	go relay(upstream, client)
	go relay(client, newReplaceReader(io.NopCloser(upstream), restub, nil))
	<-done
	client.Close()
	upstream.Close()
	<-done
}

// bindings asks the control plane for the credentials bound to t, and refreshes the
// re-stub list when the control plane's values changed since the relay's copy.
func (p *proxy) bindings(t *target) ([]substitution, *replacer, error) {
	generation, restub := p.restub.current()
	answer, err := p.control.call(controlRequest{Op: "bindings", Target: t, Generation: generation})
	if err != nil {
		return nil, nil, err
	}
	if !answer.OK {
		return nil, nil, errors.New(answer.Error)
	}
	if answer.Restub != nil || answer.Generation != generation {
		restub = p.restub.update(answer.Generation, answer.Restub)
	}
	return answer.Substitutions, restub, nil
}

func (p *proxy) forward(w http.ResponseWriter, r *http.Request, t *target, scheme, path string) {
	started := time.Now()
	logFields := map[string]any{
		"event": "egress", "method": r.Method, "scheme": scheme, "host": t.Host, "port": t.Port,
		"path": strings.SplitN(path, "?", 2)[0],
	}
	subs, restub, err := p.bindings(t)
	if err != nil {
		p.reject(w, controlAnswer{Status: http.StatusBadGateway, Error: err.Error()})
		return
	}
	swap := newSwapper(subs)

	requestURL, err := url.ParseRequestURI(swap.swapURL(path))
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
		Header:        swap.swapHeaders(r.Header),
		Host:          r.Host,
		Body:          r.Body,
		ContentLength: r.ContentLength,
	}).WithContext(context.WithValue(r.Context(), targetKey{}, t))
	if !swap.body.empty() && r.ContentLength != 0 && textContentType.MatchString(r.Header.Get("Content-Type")) &&
		r.Header.Get("Content-Encoding") == "" {
		// A swap changes the length: send the body chunked.
		out.Header.Del("Content-Length")
		out.ContentLength = -1
		out.Body = newReplaceReader(r.Body, swap.body, swap.hit)
	}
	if !restub.empty() {
		// The answer must come back in an encoding the vault can re-stub.
		carriesValue := len(swap.names()) > 0 || !swap.body.empty()
		if accept := acceptEncoding(r.Header.Get("Accept-Encoding"), carriesValue); accept != "" {
			out.Header.Set("Accept-Encoding", accept)
		} else {
			out.Header.Del("Accept-Encoding")
		}
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
	restubbed := &nameSet{}
	body, lengthChanged, err := restubBody(response, r.Method, restub, restubbed.add)
	if err != nil {
		logFields["status"] = response.StatusCode
		logFields["error"] = err.Error()
		p.control.log("info", logFields)
		p.reject(w, controlAnswer{Status: http.StatusBadGateway,
			Error: "the answer of " + t.Host + " uses an encoding the vault cannot inspect (" + err.Error() + ")"})
		return
	}
	restubHeaders(response.Header, restub, restubbed.add)
	for name, values := range response.Header {
		if !hopByHop[name] && !(lengthChanged && name == "Content-Length") {
			w.Header()[name] = values
		}
	}
	w.WriteHeader(response.StatusCode)
	// The upstream's length decides how to copy (a small answer needs no read-ahead), even
	// when re-stubbing sends it on chunked.
	err = copyResponse(w, body, response.ContentLength)
	logFields["status"] = response.StatusCode
	logFields["swapped"] = swap.names()
	if names := restubbed.list(); len(names) > 0 {
		logFields["restubbed"] = names
	}
	logFields["ms"] = float64(time.Since(started).Microseconds()) / 1000
	if err != nil {
		logFields["error"] = err.Error()
	}
	p.control.log("info", logFields)
}

// copyResponse streams the body; a body of unknown length (server-sent events, a
// streamed completion) is flushed write by write so no token waits in a buffer.
func copyResponse(w http.ResponseWriter, source io.ReadCloser, contentLength int64) error {
	if !worthReadingAhead(contentLength) {
		buffer := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(buffer)
		_, err := io.CopyBuffer(w, source, *buffer)
		return err
	}
	var flush func()
	if flusher, ok := w.(http.Flusher); ok && contentLength < 0 {
		flush = flusher.Flush
	}
	body := newReadAhead(source)
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
