package logsetup

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/internal/exit"
)

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	log, err := New("brokerd", "BROKER_LOG_LEVEL", "warn", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("dropped")
	log.Warn().Str("component", "x").Msg("kept")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line at warn, got %q", buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	if m["service"] != "brokerd" || m["level"] != "warn" || m["message"] != "kept" || m["time"] == nil {
		t.Fatalf("line %v", m)
	}
	for _, bad := range []string{"", "loud"} {
		_, err := New("egressd", "EGRESS_LOG_LEVEL", bad, &buf)
		if err == nil || exit.Code("egressd", err, &bytes.Buffer{}) != 2 || !strings.Contains(err.Error(), "EGRESS_LOG_LEVEL") {
			t.Fatalf("level %q: %v", bad, err)
		}
	}
}
