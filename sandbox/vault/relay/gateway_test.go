package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fakeGateway answers one CONNECT per connection with status, then writes greeting (the
// upstream speaking first) and echoes what follows. It records each request.
func fakeGateway(t *testing.T, status int, greeting string) (address, caPem string, requests chan *http.Request) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	template := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"lap-egress-gateway"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	listener, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	requests = make(chan *http.Request, 4)
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				reader := bufio.NewReader(conn)
				request, err := http.ReadRequest(reader)
				if err != nil {
					return
				}
				requests <- request
				if status != http.StatusOK {
					_, _ = io.WriteString(conn, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 9\r\n\r\nno token!")
					return
				}
				_, _ = io.WriteString(conn, "HTTP/1.1 200 Connection Established\r\n\r\n"+greeting)
				_, _ = io.Copy(conn, reader)
			}()
		}
	}()
	return listener.Addr().String(), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), requests
}

func TestDialsTheApprovedAddressThroughTheGatewayWithTheToken(t *testing.T) {
	address, caPem, requests := fakeGateway(t, http.StatusOK, "220 upstream speaks first\n")
	gateway, err := newEgressGateway(address, caPem, "lap-egress-gateway")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := gateway.dial(context.Background(), &net.Dialer{}, "2001:db8::7", 443, "sbx.abcdef")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	request := <-requests
	if request.Method != http.MethodConnect || request.RequestURI != "[2001:db8::7]:443" ||
		request.Header.Get("Proxy-Authorization") != "Bearer sbx.abcdef" {
		t.Errorf("sent %s %s %v", request.Method, request.RequestURI, request.Header)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	reader := bufio.NewReader(conn)
	if line, _ := reader.ReadString('\n'); line != "220 upstream speaks first\n" {
		t.Errorf("the bytes after the 200 were lost: %q", line)
	}
	_, _ = io.WriteString(conn, "ping\n")
	if line, _ := reader.ReadString('\n'); line != "ping\n" {
		t.Errorf("got %q", line)
	}
}

func TestReportsARefusalAndAMissingToken(t *testing.T) {
	address, caPem, _ := fakeGateway(t, http.StatusProxyAuthRequired, "")
	gateway, _ := newEgressGateway(address, caPem, "lap-egress-gateway")
	if _, err := gateway.dial(context.Background(), &net.Dialer{}, "203.0.113.7", 443, "sbx.bad"); err == nil ||
		!strings.Contains(err.Error(), "407") {
		t.Errorf("got %v", err)
	}
	if _, err := gateway.dial(context.Background(), &net.Dialer{}, "203.0.113.7", 443, ""); err != errNoEgressToken {
		t.Errorf("got %v", err)
	}
}

func TestVerifiesTheGatewayCertificate(t *testing.T) {
	address, _, _ := fakeGateway(t, http.StatusOK, "")
	_, otherCa, _ := fakeGateway(t, http.StatusOK, "")
	gateway, _ := newEgressGateway(address, otherCa, "lap-egress-gateway")
	if _, err := gateway.dial(context.Background(), &net.Dialer{}, "203.0.113.7", 443, "sbx.x"); err == nil {
		t.Error("a gateway with a certificate from another CA was trusted")
	}
}
