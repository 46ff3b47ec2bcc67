package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

var env testenv.Shared

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// run runs a command to completion (60 s at most) and returns its stdout,
// stderr and exit code; a command that cannot start fails the test.
func run(t *testing.T, environ []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = environ
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("%s: %v", name, err)
	}
	return o.String(), e.String(), code
}

// apiKey issues an API key for user straight into Vault with the root
// token, as `brokerctl apikeys create` does.
func apiKey(t *testing.T, v *testenv.Vault, user string) string {
	t.Helper()
	ctx := testenv.Context(t, 30*time.Second)
	vc, err := vaultx.New(ctx, vaultx.Config{Addr: v.Addr, Token: v.Token}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	k, _, err := broker.CreateAPIKey(ctx, vc, user, "e2e", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// recorder is an http.RoundTripper that keeps every response body the SDK
// read, for the leak scan of "any API response".
type recorder struct {
	next http.RoundTripper
	buf  testenv.SyncBuffer
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	_, _ = r.buf.Write(b)
	_, _ = r.buf.Write([]byte("\n"))
	for k, vs := range resp.Header {
		_, _ = r.buf.Write([]byte(k + ": " + strings.Join(vs, ", ") + "\n"))
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// pythonWithRequests is /usr/bin/python3 if it imports requests, else
// python3 on PATH if it does; the test is skipped (failed under
// BROKER_REQUIRE_INTEGRATION=1) when neither does.
func pythonWithRequests(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if p, err := exec.LookPath(py); err == nil && exec.Command(p, "-c", "import requests").Run() == nil {
			return p
		}
	}
	if testenv.RequireIntegration() {
		t.Fatal("no python3 that imports requests (Debian: apt-get install python3-requests)")
	}
	t.Skip("no python3 that imports requests (Debian: apt-get install python3-requests)")
	return ""
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
