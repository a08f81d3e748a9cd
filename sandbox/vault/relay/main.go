// vault-relay is the credential vault's data plane: the egress proxy that terminates the
// agent's TLS, swaps stubs for real values and re-encrypts upstream. The vault's Node
// control plane (sandbox/vault/src/relay.ts) starts it and answers its questions over
// stdin/stdout; see control.go. It is native code because the relay is the hot path of
// every byte the agent sends or receives: Node's TLS stack cost twice the CPU per byte
// and held throughput near half of a direct connection (bench:vault).
//
// Environment:
//
//	VAULT_RELAY_LISTEN        host:port to listen on (port 0: any free port)
//	VAULT_RELAY_POLICY_HEADER the response header naming the egress rule list that refused a destination
//	VAULT_RELAY_EXTRA_CA_PEM  certificates to trust upstream besides the system roots (tests, private CAs)
//	VAULT_RELAY_EGRESS_GATEWAY         host:port of the egress gateway; every upstream is dialled through it
//	VAULT_RELAY_EGRESS_GATEWAY_CA_PEM  the CA its certificate is verified against (the deployment CA)
//	VAULT_RELAY_EGRESS_GATEWAY_NAME    the server name of its certificate
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

var quietLog = log.New(io.Discard, "", 0)

func upstreamTLS() (*tls.Config, error) {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if extra := os.Getenv("VAULT_RELAY_EXTRA_CA_PEM"); extra != "" && !roots.AppendCertsFromPEM([]byte(extra)) {
		return nil, fmt.Errorf("VAULT_RELAY_EXTRA_CA_PEM holds no PEM certificate")
	}
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "vault-relay: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	upstream, err := upstreamTLS()
	if err != nil {
		return err
	}
	policyHeader := os.Getenv("VAULT_RELAY_POLICY_HEADER")
	if policyHeader == "" {
		return fmt.Errorf("VAULT_RELAY_POLICY_HEADER is required (the vault control plane sets it)")
	}
	gateway, err := newEgressGateway(os.Getenv("VAULT_RELAY_EGRESS_GATEWAY"),
		os.Getenv("VAULT_RELAY_EGRESS_GATEWAY_CA_PEM"), os.Getenv("VAULT_RELAY_EGRESS_GATEWAY_NAME"))
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", os.Getenv("VAULT_RELAY_LISTEN"))
	if err != nil {
		return err
	}
	ctl := newControl(os.Stdout)
	server := &http.Server{
		Handler:           newProxy(ctl, upstream, policyHeader, gateway),
		IdleTimeout:       60 * time.Second,
		ReadHeaderTimeout: 60 * time.Second,
		ErrorLog:          quietLog,
	}
	go func() { _ = server.Serve(listener) }()
	if err := ctl.send(controlRequest{Op: "listening", Port: listener.Addr().(*net.TCPAddr).Port}); err != nil {
		return err
	}
	// Until the control plane goes away: then so does the relay.
	ctl.serve(os.Stdin)
	return nil
}
