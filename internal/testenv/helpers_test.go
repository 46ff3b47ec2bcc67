package testenv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// vaultReq sends a JSON request to Vault with plain net/http and the root token.
// It returns the status and the decoded body (nil when empty), or err on transport failure.
func vaultReq(t *testing.T, v *testenv.Vault, method, path string, body any) (int, map[string]any, error) {
	t.Helper()
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		in = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, v.Addr+path, in)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", v.Token)
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: undecodable answer %q", method, path, b)
		}
	}
	return resp.StatusCode, out, nil
}

// mustVault is vaultReq that fails the test unless the status is want.
func mustVault(t *testing.T, v *testenv.Vault, want int, method, path string, body any) map[string]any {
	t.Helper()
	code, out, err := vaultReq(t, v, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %v", method, path, code, want, out)
	}
	return out
}

// kvValue reads field "k" of a KV v2 secret, or "" with the status when absent.
func kvValue(t *testing.T, v *testenv.Vault, path string) (string, int) {
	t.Helper()
	code, out, err := vaultReq(t, v, http.MethodGet, path, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if code != http.StatusOK {
		return "", code
	}
	data, _ := out["data"].(map[string]any)
	inner, _ := data["data"].(map[string]any)
	s, _ := inner["k"].(string)
	return s, code
}
