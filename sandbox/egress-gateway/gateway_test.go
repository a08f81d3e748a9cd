package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var testKey = []byte("egress-test-key-0123456789")

func tokenFor(sandboxID, source string) string {
	return sandboxID + "." + hex.EncodeToString(expectedToken(testKey, sandboxID, netip.MustParseAddr(source)))
}

func TestTokenIsBoundToTheSandboxAndTheSourceAddress(t *testing.T) {
	source := netip.MustParseAddr("10.0.3.7")
	token := tokenFor("sbx-1", "10.0.3.7")
	if id, ok := verifyToken(testKey, "Bearer "+token, source); !ok || id != "sbx-1" {
		t.Fatalf("a valid token was refused (%q)", id)
	}
	for name, header := range map[string]string{
		"another source":  "Bearer " + tokenFor("sbx-1", "10.0.3.8"),
		"another sandbox": "Bearer sbx-2." + strings.SplitN(token, ".", 2)[1],
		"no scheme":       token,
		"basic":           "Basic " + token,
		"no dot":          "Bearer " + strings.Replace(token, ".", "", 1),
		"not hex":         "Bearer sbx-1.zz",
		"empty":           "",
	} {
		if _, ok := verifyToken(testKey, header, source); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	// An IPv4-mapped source is the IPv4 address it carries.
	if _, ok := verifyToken(testKey, "Bearer "+token, netip.MustParseAddr("::ffff:10.0.3.7")); !ok {
		t.Error("a mapped source address was refused")
	}
}

func TestRefusesInternalDestinationsInEveryNotation(t *testing.T) {
	rules := &destinationRules{ports: map[int]bool{443: true, 80: true}}
	rules.deny, _ = parsePrefixes("deny", "203.0.113.0/24")
	rules.allow, _ = parsePrefixes("allow", "127.0.0.2,169.254.169.254,10.9.0.0/16")
	for target, allowed := range map[string]bool{
		"93.184.215.14:443":           true,
		"[2606:2800:21f:cb07::1]:443": true,
		"93.184.215.14:22":            false, // port
		"203.0.113.9:443":             false, // deny list
		"10.0.0.5:443":                false, // private
		"10.9.1.1:443":                true,  // exempted range
		"172.16.0.1:443":              false,
		"192.168.1.1:80":              false,
		"100.64.0.1:443":              false, // carrier-grade NAT
		"127.0.0.1:443":               false,
		"127.0.0.2:443":               true, // exempted address
		"0.0.0.0:443":                 false,
		"169.254.169.254:80":          false, // metadata: never exempted
		"169.254.170.2:80":            false,
		"[fd00:ec2::254]:80":          false,
		"[::ffff:169.254.169.254]:80": false, // IPv4-mapped
		"[::ffff:7f00:1]:443":         false,
		"[64:ff9b::a9fe:a9fe]:80":     false, // NAT64 of 169.254.169.254
		"[64:ff9b::5db8:d70e]:443":    true,  // NAT64 of a public address
		"[2002:a00:5::1]:443":         false, // 6to4 of 10.0.0.5
		"[fe80::1]:443":               false,
		"[::1]:443":                   false,
		"[fc00::1]:443":               false,
		"224.0.0.1:443":               false,
		"255.255.255.255:443":         false,
		"[::ffff:93.184.215.14]:443":  true,
		"[2001:db8::1]:443":           false,
	} {
		why := rules.check(netip.MustParseAddrPort(target))
		if (why == "") != allowed {
			t.Errorf("%s: allowed=%v, reason %q", target, why == "", why)
		}
	}
}

// testCertificate is a self-signed certificate for lap-egress-gateway.
func testCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lap-egress-gateway"},
		DNSNames: []string{"lap-egress-gateway"}, NotBefore: time.Now().Add(-time.Minute),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

type testGateway struct {
	address string
	roots   *x509.CertPool
	logs    *bytes.Buffer
}

func startGateway(t *testing.T, allow string, ports map[int]bool) *testGateway {
	t.Helper()
	certificate, roots := testCertificate(t)
	rules := &destinationRules{ports: ports}
	rules.allow, _ = parsePrefixes("allow", allow)
	logs := &bytes.Buffer{}
	g := &gateway{tokenKey: testKey, rules: rules, log: &logger{out: json.NewEncoder(logs)},
		tls: &tls.Config{Certificates: []tls.Certificate{certificate}}}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.serve(listener) }()
	t.Cleanup(func() { listener.Close() })
	return &testGateway{address: listener.Addr().String(), roots: roots, logs: logs}
}

// startEcho is an upstream that answers every line with "echo: <line>".
func startEcho(t *testing.T) *net.TCPAddr {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				scanner := bufio.NewScanner(conn)
				for scanner.Scan() {
					_, _ = io.WriteString(conn, "echo: "+scanner.Text()+"\n")
				}
			}()
		}
	}()
	return listener.Addr().(*net.TCPAddr)
}

// connect opens a TLS connection to the gateway and sends one CONNECT.
func (g *testGateway) connect(t *testing.T, target, authorization string) (*http.Response, *bufio.Reader, net.Conn) {
	t.Helper()
	conn, err := tls.Dial("tcp", g.address, &tls.Config{RootCAs: g.roots, ServerName: "lap-egress-gateway"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	request := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if authorization != "" {
		request += "Proxy-Authorization: " + authorization + "\r\n"
	}
	// The first tunnelled line goes in the same write, as a TLS ClientHello would.
	if _, err := io.WriteString(conn, request+"\r\nhello\n"); err != nil {
		t.Fatal(err)
	}
	reader := bufio.NewReader(conn)
	response, err := http.ReadResponse(reader, nil)
	if err != nil {
		t.Fatal(err)
	}
	return response, reader, conn
}

func TestForwardsAnAuthenticatedConnectAndLogsNoToken(t *testing.T) {
	echo := startEcho(t)
	g := startGateway(t, "127.0.0.1", map[int]bool{echo.Port: true})
	token := tokenFor("sbx-ok", "127.0.0.1")
	response, reader, conn := g.connect(t, echo.String(), "Bearer "+token)
	if response.StatusCode != http.StatusOK {
		t.Fatalf("status %d", response.StatusCode)
	}
	if line, _ := reader.ReadString('\n'); line != "echo: hello\n" {
		t.Fatalf("got %q", line)
	}
	_, _ = io.WriteString(conn, "again\n")
	if line, _ := reader.ReadString('\n'); line != "echo: again\n" {
		t.Fatalf("got %q", line)
	}
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(g.logs.String(), `"egress_closed"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(g.logs.String(), `"sandbox_id":"sbx-ok"`) || strings.Contains(g.logs.String(), strings.Split(token, ".")[1]) {
		t.Errorf("log line: %s", g.logs.String())
	}
}

func TestRefusesWhatIsNotAnAuthenticatedConnectToAnAllowedAddress(t *testing.T) {
	echo := startEcho(t)
	g := startGateway(t, "127.0.0.1", map[int]bool{echo.Port: true, 80: true})
	valid := "Bearer " + tokenFor("sbx-1", "127.0.0.1")
	for name, c := range map[string]struct {
		target, authorization string
		status                int
	}{
		"no token":               {echo.String(), "", http.StatusProxyAuthRequired},
		"token for another IP":   {echo.String(), "Bearer " + tokenFor("sbx-1", "10.0.0.9"), http.StatusProxyAuthRequired},
		"a name, not an address": {"localhost:" + echo.String()[strings.LastIndex(echo.String(), ":")+1:], valid, http.StatusBadRequest},
		"metadata":               {"169.254.169.254:80", valid, http.StatusForbidden},
		"mapped metadata":        {"[::ffff:169.254.169.254]:80", valid, http.StatusForbidden},
		"loopback not exempted":  {"127.0.0.3:80", valid, http.StatusForbidden},
		"port not allowed":       {"127.0.0.1:1", valid, http.StatusForbidden},
	} {
		response, _, _ := g.connect(t, c.target, c.authorization)
		if response.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", name, response.StatusCode, c.status)
		}
	}
}

func TestRefusesPlainRequests(t *testing.T) {
	g := startGateway(t, "", map[int]bool{443: true})
	conn, err := tls.Dial("tcp", g.address, &tls.Config{RootCAs: g.roots, ServerName: "lap-egress-gateway"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
	response, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || response.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("got %v %v", response, err)
	}
}
