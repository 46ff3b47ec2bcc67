package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/rotation"
)

func TestProgressPrinterThrottles(t *testing.T) {
	var b bytes.Buffer
	p := &progressPrinter{w: &b, every: time.Hour}
	for i := 1; i <= 5; i++ {
		p.rewrap(rotation.RewrapProgress{Done: i * 10, Total: 50, Rewrapped: i * 9, User: i, Users: 5})
	}
	if got := b.String(); got != "rewrapped 10/50 secrets (user 1/5; 9 needed it)\n" {
		t.Fatalf("before flush: %q", got)
	}
	p.flush()
	p.flush() // nothing more
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || lines[1] != "rewrapped 50/50 secrets (user 5/5; 45 needed it)" || p.last.Done != 50 {
		t.Fatalf("after flush: %q", b.String())
	}

	b.Reset()
	p = &progressPrinter{w: &b}
	p.scan(1, 2)
	p.scan(2, 2)
	if strings.Count(b.String(), "\n") != 2 {
		t.Fatalf("interval 0 prints every line: %q", b.String())
	}
}
