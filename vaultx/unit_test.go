package vaultx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

func TestNewRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	roleFile := filepath.Join(dir, "role-id")
	if err := os.WriteFile(roleFile, []byte("r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope", "secret-id")
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"malformed address", Config{Addr: "::not a url", Token: "t"}, "malformed"},
		{"no scheme", Config{Addr: "127.0.0.1:8200", Token: "t"}, "malformed"},
		{"bad scheme", Config{Addr: "ftp://127.0.0.1:8200", Token: "t"}, "scheme"},
		{"empty address", Config{Token: "t"}, "empty"},
		{"no auth", Config{Addr: "http://127.0.0.1:8200"}, "auth"},
		{"unreadable secret_id file", Config{Addr: "http://127.0.0.1:8200", RoleIDFile: roleFile, SecretIDFile: missing}, missing},
		{"bad mount", Config{Addr: "http://127.0.0.1:8200", Token: "t", KVMount: "a/../b"}, "kv mount"},
		{"half client cert", Config{Addr: "https://127.0.0.1:8200", Token: "t", ClientCert: "c.pem"}, "client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(context.Background(), tc.cfg, zerolog.Nop())
			if err == nil {
				c.Close()
				t.Fatal("New succeeded")
			}
			if !broker.IsCode(err, broker.CodeInvalid) {
				t.Fatalf("code = %s, want invalid (%v)", broker.ErrorCode(err), err)
			}
			var be *broker.Error
			errors.As(err, &be)
			if !strings.Contains(be.Message, tc.want) || strings.Contains(be.Message, "\n") {
				t.Fatalf("message %q: want one line containing %q", be.Message, tc.want)
			}
		})
	}
}

func TestNewUnreachableVaultIsDeferred(t *testing.T) {
	// Nothing listens on port 1: New must not fail, Health must say why.
	c, err := New(context.Background(), Config{Addr: "http://127.0.0.1:1", Token: "t", MaxRetries: -1}, zerolog.Nop())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	err = c.Health(context.Background())
	if !broker.IsCode(err, broker.CodeUnavailable) {
		t.Fatalf("Health = %v, want unavailable", err)
	}
	var be *broker.Error
	errors.As(err, &be)
	if be.Message != "vault unreachable: connection refused" {
		t.Fatalf("message = %q", be.Message)
	}
	if c.RoundTrips() == 0 {
		t.Fatal("round trips not counted")
	}
}

func TestConfigStringHidesToken(t *testing.T) {
	c := Config{Addr: "http://x", Token: "hvs.secret-token"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%+v", c)} {
		if strings.Contains(s, "hvs.secret-token") {
			t.Fatalf("token printed: %s", s)
		}
	}
}

func TestMapErr(t *testing.T) {
	re := func(code int, msgs ...string) error { return &api.ResponseError{StatusCode: code, Errors: msgs} }
	cases := []struct {
		err  error
		want broker.Code
	}{
		{re(404), broker.CodeNotFound},
		{re(400, "check-and-set parameter did not match the current version"), broker.CodeConflict},
		{re(400, "bad input"), broker.CodeInternal},
		{re(403, "permission denied"), broker.CodeForbidden},
		{re(429), broker.CodeUnavailable},
		{re(503, "Vault is sealed"), broker.CodeUnavailable},
		{re(500, "raft is shut down"), broker.CodeUnavailable},
		{re(502), broker.CodeUnavailable},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), broker.CodeUnavailable},
		{errors.New("connection reset"), broker.CodeUnavailable},
		{errNoData, broker.CodeNotFound},
	}
	for _, tc := range cases {
		got := mapErr(tc.err, "op", nil)
		if broker.ErrorCode(got) != tc.want {
			t.Errorf("mapErr(%v) = %s, want %s", tc.err, broker.ErrorCode(got), tc.want)
		}
		var be *broker.Error
		if errors.As(got, &be) && strings.Contains(be.Message, "check-and-set") {
			t.Errorf("vault text leaked into message: %q", be.Message)
		}
	}
	nf := mapErr(re(404), "read", broker.Errorf(broker.CodeNotFound, "secret not found"))
	var be *broker.Error
	if !errors.As(nf, &be) || be.Message != "secret not found" || be.Err == nil {
		t.Fatalf("custom not found: %#v", nf)
	}
}

func TestPathSegment(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "a/../b", "x..y", `a\b`, "a?b", "a#b", "a%2fb", "a\nb"} {
		if err := pathSegment("f", bad); !broker.IsCode(err, broker.CodeInvalid) {
			t.Errorf("pathSegment(%q) = %v, want invalid", bad, err)
		}
	}
	for _, ok := range []string{"alice", "3f1c6a2e-0b7e-4c9e-9b1e-1d2f3a4b5c6d", "OPENAI_API_KEY", "user@example.com"} {
		if err := pathSegment("f", ok); err != nil {
			t.Errorf("pathSegment(%q) = %v", ok, err)
		}
	}
}

func TestShortFingerprint(t *testing.T) {
	got, err := shortFingerprint("vault:v1:3mB8wTbdLbYwHMVR7kqcIsCdS3W8xvOa7x0tN8E1v4Y=")
	if err != nil || got != "hmac:3mB8wTbdLbYwHMVR" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := shortFingerprint("garbage"); err == nil {
		t.Fatal("malformed hmac accepted")
	}
}

func TestParallelBoundsAndStopsOnError(t *testing.T) {
	var running, peak atomic.Int32
	err := parallel(context.Background(), 100, func(ctx context.Context, i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		return nil
	})
	if err != nil || peak.Load() > maxParallel {
		t.Fatalf("err=%v peak=%d", err, peak.Load())
	}
	var calls atomic.Int32
	boom := errors.New("boom")
	err = parallel(context.Background(), 1000, func(ctx context.Context, i int) error {
		calls.Add(1)
		if i == 3 {
			return boom
		}
		// Wait for the cancellation (bounded): a fast fn could otherwise let the
		// other workers run all 1000 before the failing one is scheduled.
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
		return nil
	})
	if !errors.Is(err, boom) || calls.Load() == 1000 {
		t.Fatalf("err=%v calls=%d", err, calls.Load())
	}
}

func TestPolicyGrantsNothingUnderSys(t *testing.T) {
	p := PolicyHCL("broker", "transit", "broker-secrets")
	if strings.Contains(p, `"sys/`) {
		t.Fatalf("policy grants sys/: %s", p)
	}
	for _, want := range []string{`"broker/data/users/*"`, `"transit/decrypt/broker-secrets"`, `"auth/token/revoke-accessor"`} {
		if !strings.Contains(p, want) {
			t.Errorf("policy lacks %s", want)
		}
	}
}

// A revoke whose token is already gone is done, whichever way Vault says so;
// any other 400 is still an error.
func TestIsUnknownAccessor(t *testing.T) {
	for _, c := range []struct {
		status int
		errs   []string
		want   bool
	}{
		{400, []string{"invalid accessor"}, true},
		{400, []string{"token not found"}, true},
		{400, []string{"missing accessor"}, false},
		{403, []string{"token not found"}, false},
		{500, []string{"invalid accessor"}, false},
	} {
		err := &api.ResponseError{StatusCode: c.status, Errors: c.errs}
		if got := isUnknownAccessor(err); got != c.want {
			t.Errorf("%d %v: isUnknownAccessor = %t, want %t", c.status, c.errs, got, c.want)
		}
	}
}
