// egress-gateway is the only way out of a sandbox in AWS "enforced" egress mode: sandbox
// tasks sit in subnets without a route to the internet, and their security group reaches
// only this service. It forwards a TLS connection from a sandbox's vault to one public
// address, and only when the vault presents the egress token the platform computed for that
// sandbox and the connection's source address. The vault applies the agent's allow_out /
// deny_out and swaps credentials; this service makes sure nothing in the sandbox can go
// around the vault, and that no destination inside the VPC or the metadata endpoints is
// reachable through it.
//
// Environment:
//
//	EGRESS_GATEWAY_TLS_CERT       PEM certificate for lap-egress-gateway, signed by the deployment CA
//	EGRESS_GATEWAY_TLS_KEY        its PEM private key
//	EGRESS_TOKEN_KEY              the HMAC key egress tokens are derived with (shared with the worker)
//	EGRESS_GATEWAY_ALLOWED_PORTS  destination ports, comma list (default 443,80)
//	EGRESS_GATEWAY_DENY_CIDRS     more destinations to refuse, comma list of IPs / CIDR blocks
//	EGRESS_GATEWAY_ALLOW_CIDRS    internal ranges to forward to anyway (never metadata or link-local)
//	EGRESS_GATEWAY_LISTEN         TLS listener (default :8443)
//	EGRESS_GATEWAY_HEALTH_LISTEN  plain HTTP health listener, GET /healthz (default :8080)
//
// `egress-gateway -healthcheck` asks the local health listener and exits 0 or 1 (the image
// has no shell or curl).
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long open tunnels may finish after SIGTERM (ECS waits 30 s by default).
const stopGrace = 20 * time.Second

type logger struct {
	mu  sync.Mutex
	out *json.Encoder
}

func (l *logger) write(level string, fields map[string]any) {
	fields["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	fields["level"] = level
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.out.Encode(fields)
}

type config struct {
	tls          *tls.Config
	tokenKey     []byte
	rules        *destinationRules
	listen       string
	healthListen string
}

func envOr(key, fallback string) string {
	if value := strings.TrimSpace(os.Getenv(key)); value != "" {
		return value
	}
	return fallback
}

// loadConfig reports every problem at once, naming the variable and the fix.
func loadConfig() (*config, error) {
	var problems []string
	cfg := &config{
		listen:       envOr("EGRESS_GATEWAY_LISTEN", ":8443"),
		healthListen: envOr("EGRESS_GATEWAY_HEALTH_LISTEN", ":8080"),
		rules:        &destinationRules{},
	}
	certificate, err := tls.X509KeyPair([]byte(os.Getenv("EGRESS_GATEWAY_TLS_CERT")), []byte(os.Getenv("EGRESS_GATEWAY_TLS_KEY")))
	if err != nil {
		problems = append(problems, "EGRESS_GATEWAY_TLS_CERT / EGRESS_GATEWAY_TLS_KEY: set the PEM certificate "+
			"for lap-egress-gateway (signed by the deployment CA) and its key: "+err.Error())
	}
	cfg.tls = &tls.Config{Certificates: []tls.Certificate{certificate}, MinVersion: tls.VersionTLS12}
	cfg.tokenKey = []byte(os.Getenv("EGRESS_TOKEN_KEY"))
	if len(cfg.tokenKey) < 16 {
		problems = append(problems, "EGRESS_TOKEN_KEY: is required, at least 16 characters (the key the worker derives egress tokens with)")
	}
	if cfg.rules.ports, err = parsePorts(envOr("EGRESS_GATEWAY_ALLOWED_PORTS", "443,80")); err != nil {
		problems = append(problems, err.Error())
	}
	if cfg.rules.deny, err = parsePrefixes("EGRESS_GATEWAY_DENY_CIDRS", os.Getenv("EGRESS_GATEWAY_DENY_CIDRS")); err != nil {
		problems = append(problems, err.Error())
	}
	if cfg.rules.allow, err = parsePrefixes("EGRESS_GATEWAY_ALLOW_CIDRS", os.Getenv("EGRESS_GATEWAY_ALLOW_CIDRS")); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, errors.New("invalid egress gateway configuration:\n  - " + strings.Join(problems, "\n  - "))
	}
	return cfg, nil
}

func healthcheck() int {
	address := envOr("EGRESS_GATEWAY_HEALTH_LISTEN", ":8080")
	if strings.HasPrefix(address, ":") {
		address = "127.0.0.1" + address
	}
	client := &http.Client{Timeout: 3 * time.Second}
	response, err := client.Get("http://" + address + "/healthz")
	if err != nil {
		return 1
	}
	response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-healthcheck" {
		os.Exit(healthcheck())
	}
	log := &logger{out: json.NewEncoder(os.Stdout)}
	if err := run(log); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

func run(log *logger) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	g := &gateway{tokenKey: cfg.tokenKey, rules: cfg.rules, tls: cfg.tls, log: log,
		dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}}
	listener, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("EGRESS_GATEWAY_LISTEN: %w", err)
	}
	healthListener, err := net.Listen("tcp", cfg.healthListen)
	if err != nil {
		return fmt.Errorf("EGRESS_GATEWAY_HEALTH_LISTEN: %w", err)
	}
	health := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "open_tunnels": g.open.Load()})
		}),
	}
	go func() { _ = health.Serve(healthListener) }()
	log.write("info", map[string]any{
		"event": "listening", "address": listener.Addr().String(), "health_address": healthListener.Addr().String(),
		"allowed_ports": envOr("EGRESS_GATEWAY_ALLOWED_PORTS", "443,80"),
	})

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- g.serve(listener) }()
	select {
	case err := <-served:
		return err
	case signalled := <-stop:
		log.write("info", map[string]any{"event": "stopping", "signal": signalled.String(), "open_tunnels": g.open.Load()})
	}
	listener.Close()
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	_ = health.Shutdown(ctx)
	finished := make(chan struct{})
	go func() { g.tunnels.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
	}
	return nil
}
