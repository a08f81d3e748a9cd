package main

// The channel to the vault's control plane (the Node process that started this one):
// JSON lines, requests out on stdout, answers in on stdin. The control plane owns every
// decision (egress policy, credential bindings, leaf certificates) so each rule lives in
// one place; this process only moves bytes. When stdin closes, the control plane is gone
// and this process exits with it.

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"
)

// target is a destination the control plane admitted: the address is the one the policy
// checked, so it is the one dialled.
type target struct {
	Host      string   `json:"host"`
	Port      int      `json:"port"`
	Address   string   `json:"address"`
	Addresses []string `json:"addresses"`
	// egressToken is presented to the egress gateway (from the connect or plain answer; never sent back).
	egressToken string
}

type controlRequest struct {
	ID uint64 `json:"id,omitempty"`
	// Op: connect | plain | bindings | certificate (answered); listening | log (not).
	Op        string         `json:"op"`
	Authority string         `json:"authority,omitempty"`
	URL       string         `json:"url,omitempty"`
	Target    *target        `json:"target,omitempty"`
	Host      string         `json:"host,omitempty"`
	Port      int            `json:"port,omitempty"`
	Level     string         `json:"level,omitempty"`
	Fields    map[string]any `json:"fields,omitempty"`
	// Generation of the relay's re-stub list (bindings): the answer carries the list when it is older.
	Generation int64 `json:"generation,omitempty"`
}

type controlAnswer struct {
	ID     uint64 `json:"id"`
	OK     bool   `json:"ok"`
	Status int    `json:"status"`
	Error  string `json:"error"`
	// Policy names the egress rule list that refused the destination (allow_out, deny_out).
	Policy        string         `json:"policy"`
	Target        *target        `json:"target"`
	Path          string         `json:"path"`
	Substitutions []substitution `json:"substitutions"`
	Generation    int64          `json:"generation"`
	Restub        []restubPair   `json:"restub"`
	EgressToken   string         `json:"egress_token"`
	CertPem       string         `json:"cert_pem"`
	KeyPem        string         `json:"key_pem"`
}

const controlTimeout = 15 * time.Second

var errControlClosed = errors.New("the vault control plane is gone")

type control struct {
	mu      sync.Mutex
	out     *json.Encoder
	nextID  uint64
	pending map[uint64]chan controlAnswer
	closed  bool
}

func newControl(out io.Writer) *control {
	return &control{out: json.NewEncoder(out), pending: map[uint64]chan controlAnswer{}}
}

func (c *control) send(request controlRequest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errControlClosed
	}
	return c.out.Encode(request)
}

// call sends a request and waits for its answer.
func (c *control) call(request controlRequest) (controlAnswer, error) {
	answer := make(chan controlAnswer, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return controlAnswer{}, errControlClosed
	}
	c.nextID++
	request.ID = c.nextID
	c.pending[request.ID] = answer
	err := c.out.Encode(request)
	c.mu.Unlock()
	if err != nil {
		return controlAnswer{}, err
	}
	// A stopped timer, not time.After: every request asks, and an unfired After timer would
	// live on for the whole timeout.
	timeout := time.NewTimer(controlTimeout)
	defer timeout.Stop()
	select {
	case result, ok := <-answer:
		if !ok {
			return controlAnswer{}, errControlClosed
		}
		return result, nil
	case <-timeout.C:
		c.mu.Lock()
		delete(c.pending, request.ID)
		c.mu.Unlock()
		return controlAnswer{}, errors.New("the vault control plane did not answer")
	}
}

func (c *control) log(level string, fields map[string]any) {
	_ = c.send(controlRequest{Op: "log", Level: level, Fields: fields})
}

// serve delivers answers until the control plane closes stdin.
func (c *control) serve(in io.Reader) {
	scanner := bufio.NewScanner(in)
	// An answer carries at most a certificate chain or a destination's credentials.
	scanner.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for scanner.Scan() {
		var answer controlAnswer
		if json.Unmarshal(scanner.Bytes(), &answer) != nil {
			continue
		}
		c.mu.Lock()
		waiting := c.pending[answer.ID]
		delete(c.pending, answer.ID)
		c.mu.Unlock()
		if waiting != nil {
			waiting <- answer
		}
	}
	c.mu.Lock()
	c.closed = true
	for id, waiting := range c.pending {
		close(waiting)
		delete(c.pending, id)
	}
	c.mu.Unlock()
}
