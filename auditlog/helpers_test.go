package auditlog

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// Recorded with a real Vault 1.21.4 (file audit device) by the brokerctl
// audit scenario: setup, create, rotate, list, provision (unwrapped by a
// token-less client, then replayed as unwrap and lookup), a token-less read
// (permission denied), a second provision never unwrapped, a third revoked
// by a runtime delete, and the secret's deletion.
const (
	scenarioUser      = "alice-audit"
	scenarioSecret    = "3a8a22c9-5e2f-49dc-9c2f-fb936895d17a"
	scenarioUsed      = "396e162f-9cd7-48dc-8c79-1353f472f299"
	scenarioUnused    = "a8edfe36-2a1a-487f-ac0c-45dd73ab9561"
	scenarioRevoked   = "2e1becd5-ef60-4b59-bc73-8a9f1deb357a"
	scenarioUsedAcc   = "hmac-sha256:c534c49dcb3866cf8f81a4115173eccce2931f63497a29035d1cbcde5d7d09d2"
	scenarioRevokeAcc = "hmac-sha256:c15eab639ebce78046ddadf61cf7c63307893b413b82925d0ace26809ee55fc6"
)

func scenarioLog(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/scenario.log")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll streams b in one write and returns the entries and the stream.
func readAll(t testing.TB, b []byte) ([]Entry, *Stream) {
	t.Helper()
	s := NewStream(Options{})
	if _, err := s.Write(b); err != nil {
		t.Fatal(err)
	}
	return s.Close(), s
}

func lines(b []byte) [][]byte { return bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n")) }

// fakeClock is a settable wall clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }
