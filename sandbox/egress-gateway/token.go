package main

// The credential a vault presents: `Proxy-Authorization: Bearer <sandbox_id>.<hex>`, hex =
// HMAC-SHA256(EGRESS_TOKEN_KEY, "egress:" + sandbox_id + ":" + source IP). The platform's
// worker computes it for the task's own address (egressToken in
// platform/src/sandbox/tokens.ts) and pushes it to the vault only, so a token read
// elsewhere is useless from any other address, and the harness never holds one.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"regexp"
	"strings"
)

var sandboxIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// expectedToken is the hex HMAC for a sandbox connecting from source.
func expectedToken(key []byte, sandboxID string, source netip.Addr) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("egress:" + sandboxID + ":" + source.Unmap().String()))
	return mac.Sum(nil)
}

// verifyToken checks a Proxy-Authorization value; it returns the sandbox id it names, and
// whether it is valid for this source address.
func verifyToken(key []byte, header string, source netip.Addr) (string, bool) {
	if len(header) < 7 || !strings.EqualFold(header[:7], "bearer ") {
		return "", false
	}
	token := strings.TrimSpace(header[7:])
	dot := strings.LastIndexByte(token, '.')
	if dot < 0 {
		return "", false
	}
	sandboxID, presented := token[:dot], token[dot+1:]
	if !sandboxIDPattern.MatchString(sandboxID) {
		return "", false
	}
	mac, err := hex.DecodeString(presented)
	if err != nil {
		return sandboxID, false
	}
	return sandboxID, hmac.Equal(mac, expectedToken(key, sandboxID, source))
}
