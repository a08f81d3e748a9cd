package main

// Dialling upstreams, directly or (enforced egress on AWS) through the egress gateway: TLS
// to the gateway, verified against the deployment CA for its fixed server name, then
// `CONNECT <address>:<port>` for exactly the address the policy approved, authenticated
// with the sandbox's egress token. The sandbox's network has no other way out, so the
// harness cannot skip the vault: it holds no token, and a token is bound to the vault's
// source address.

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type egressGateway struct {
	address string
	tls     *tls.Config
}

// newEgressGateway reads VAULT_RELAY_EGRESS_GATEWAY (host:port), its CA and server name;
// nil when the variable is not set (upstreams are dialled directly).
func newEgressGateway(address, caPem, serverName string) (*egressGateway, error) {
	if address == "" {
		return nil, nil
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(caPem)) {
		return nil, fmt.Errorf("VAULT_RELAY_EGRESS_GATEWAY_CA_PEM holds no PEM certificate")
	}
	if serverName == "" {
		return nil, fmt.Errorf("VAULT_RELAY_EGRESS_GATEWAY_NAME is required with VAULT_RELAY_EGRESS_GATEWAY")
	}
	return &egressGateway{
		address: address,
		tls:     &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12},
	}, nil
}

var errNoEgressToken = errors.New("no egress token: the platform pushed none (EGRESS_TOKEN_KEY unset?)")

// dial opens a tunnel through the gateway to address:port.
func (g *egressGateway) dial(ctx context.Context, dialer *net.Dialer, address string, port int, token string) (net.Conn, error) {
	if token == "" {
		return nil, errNoEgressToken
	}
	tlsDialer := &tls.Dialer{NetDialer: dialer, Config: g.tls}
	conn, err := tlsDialer.DialContext(ctx, "tcp", g.address)
	if err != nil {
		return nil, fmt.Errorf("egress gateway %s: %w", g.address, err)
	}
	authority := net.JoinHostPort(address, strconv.Itoa(port))
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	request := "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority +
		"\r\nProxy-Authorization: Bearer " + token + "\r\n\r\n"
	if _, err := io.WriteString(conn, request); err != nil {
		conn.Close()
		return nil, fmt.Errorf("egress gateway %s: %w", g.address, err)
	}
	reader := bufio.NewReader(conn)
	response, err := http.ReadResponse(reader, &http.Request{Method: http.MethodConnect})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("egress gateway %s: %w", g.address, err)
	}
	if response.StatusCode != http.StatusOK {
		detail, _ := io.ReadAll(io.LimitReader(response.Body, 512))
		conn.Close()
		return nil, fmt.Errorf("egress gateway refused %s: %s %s", authority, response.Status,
			strings.TrimSpace(string(detail)))
	}
	_ = conn.SetDeadline(time.Time{})
	// The reader may already hold the upstream's first bytes.
	return &readerConn{Conn: conn, reader: reader}, nil
}

// dialUpstream dials the approved address of t, through the gateway when there is one.
func (p *proxy) dialUpstream(ctx context.Context, t *target) (net.Conn, error) {
	if p.gateway != nil {
		return p.gateway.dial(ctx, p.dialer, t.Address, t.Port, t.egressToken)
	}
	return p.dialer.DialContext(ctx, "tcp", net.JoinHostPort(t.Address, strconv.Itoa(t.Port)))
}
