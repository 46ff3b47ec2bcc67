package vaultx

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
)

func TestHealthSealedStoppedAndBack(t *testing.T) {
	v := testenv.StartVault(t)
	ctx := testCtx(t)
	c, err := New(ctx, Config{Addr: v.Addr, Token: v.Token}, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("healthy Vault: %v", err)
	}
	wantCause := func(cause string) {
		t.Helper()
		err := c.Health(ctx)
		wantCode(t, err, broker.CodeUnavailable)
		var be *broker.Error
		errors.As(err, &be)
		if !strings.Contains(be.Message, cause) {
			t.Fatalf("message %q does not name %q", be.Message, cause)
		}
		t.Logf("health: %s", be.Message)
	}

	v.Seal(t)
	wantCause("vault is sealed")
	// A data call on a sealed Vault is unavailable too, once its deadline
	// has passed (it is retried until then).
	_, err = c.CountSecrets(shortCtx(t), "alice")
	wantCode(t, err, broker.CodeUnavailable)

	v.Unseal(t)
	if err := c.Health(ctx); err != nil {
		t.Fatalf("after unseal: %v", err)
	}

	v.Stop(t)
	wantCause("vault unreachable")
	_, err = c.CountSecrets(shortCtx(t), "alice")
	wantCode(t, err, broker.CodeUnavailable)

	v.Start(t)
	if err := c.Health(ctx); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

// shortCtx bounds a call that retries until its deadline while Vault is down.
func shortCtx(t *testing.T) context.Context { return testenv.Context(t, time.Second) }
