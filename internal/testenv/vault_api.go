package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"testing"
	"time"
)

const pollInterval = 50 * time.Millisecond

// Seal seals the server with the root token and waits until it reports sealed.
func (v *Vault) Seal(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if _, err := v.call(ctx, http.MethodPut, "/v1/sys/seal", nil, nil); err != nil {
		t.Fatalf("testenv: seal Vault: %v", err)
	}
	if err := v.waitHealth(ctx, http.StatusServiceUnavailable); err != nil {
		t.Fatalf("testenv: seal Vault: %v", err)
	}
}

// Unseal unseals the server with its unseal key and waits until it is active.
func (v *Vault) Unseal(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := v.unseal(ctx); err != nil {
		t.Fatalf("testenv: unseal Vault: %v", err)
	}
}

func (v *Vault) initialize(ctx context.Context) error {
	var out struct {
		Keys      []string `json:"keys_base64"`
		RootToken string   `json:"root_token"`
	}
	body := map[string]int{"secret_shares": 1, "secret_threshold": 1}
	if _, err := v.call(ctx, http.MethodPut, "/v1/sys/init", body, &out); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if len(out.Keys) == 0 || out.RootToken == "" {
		return errors.New("init: answer without keys or root token")
	}
	v.UnsealKeys, v.Token = out.Keys, out.RootToken
	return nil
}

func (v *Vault) unseal(ctx context.Context) error {
	for _, k := range v.UnsealKeys {
		var out struct {
			Sealed bool `json:"sealed"`
		}
		if _, err := v.call(ctx, http.MethodPut, "/v1/sys/unseal", map[string]string{"key": k}, &out); err != nil {
			return fmt.Errorf("unseal: %w", err)
		}
		if !out.Sealed {
			break
		}
	}
	return v.waitHealth(ctx, http.StatusOK)
}

// waitHealth polls /v1/sys/health until it answers with status want (any status if 0).
// 200 means initialised, unsealed and active; 503 sealed; 501 not initialised.
func (v *Vault) waitHealth(ctx context.Context, want int) error {
	last := "no answer yet"
	for {
		code, err := v.healthCode(ctx)
		switch {
		case err == nil && (want == 0 || code == want):
			return nil
		case err == nil:
			last = fmt.Sprintf("health status %d", code)
		default:
			last = err.Error()
		}
		if v.exited() {
			return fmt.Errorf("%w (%s)", errExited, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Vault at %s not ready in time, waiting for status %d: %s", v.Addr, want, last)
		case <-time.After(pollInterval):
		}
	}
}

func (v *Vault) healthCode(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.Addr+"/v1/sys/health", nil)
	if err != nil {
		return 0, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// call sends a JSON request with the root token and decodes a 2xx answer into out.
func (v *Vault) call(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.Addr+path, body)
	if err != nil {
		return 0, err
	}
	if v.Token != "" {
		req.Header.Set("X-Vault-Token", v.Token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// awaitDevUnsealKey reads the unseal key a dev server prints, from the log written since offset.
func (v *Vault) awaitDevUnsealKey(ctx context.Context, offset int64) (string, error) {
	unsealKeyLine := regexp.MustCompile(`(?m)^Unseal Key: (\S+)`)
	for {
		if b, err := os.ReadFile(v.logPath); err == nil && int64(len(b)) >= offset {
			if m := unsealKeyLine.FindAllSubmatch(b[offset:], -1); len(m) > 0 {
				return string(m[len(m)-1][1]), nil
			}
		}
		select {
		case <-ctx.Done():
			return "", errors.New("dev server printed no unseal key")
		case <-time.After(pollInterval):
		}
	}
}
