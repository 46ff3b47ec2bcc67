package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/acme/secretsbroker/rotation"
)

// progressPrinter writes progress lines on stderr, at most one per interval
// (the latest state is flushed at the end).
type progressPrinter struct {
	w     io.Writer
	every time.Duration

	mu      sync.Mutex
	printed time.Time
	pending string // the latest line not printed yet
	last    rotation.RewrapProgress
}

func (p *progressPrinter) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); p.every <= 0 || now.Sub(p.printed) >= p.every {
		fmt.Fprintln(p.w, s)
		p.printed, p.pending = now, ""
		return
	}
	p.pending = s
}

// rewrap reports RewrapAll's progress: "rewrapped 120/500 secrets (user 3/10)"
// counts the secrets handled (rewrapped or found current) so far.
func (p *progressPrinter) rewrap(r rotation.RewrapProgress) {
	p.mu.Lock()
	p.last = r
	p.mu.Unlock()
	p.line(fmt.Sprintf("rewrapped %d/%d secrets (user %d/%d; %d needed it)", r.Done, r.Total, r.User, r.Users, r.Rewrapped))
}

// scan reports the version scan before raising the minimum.
func (p *progressPrinter) scan(done, total int) {
	p.line(fmt.Sprintf("checked the stored versions of %d/%d secrets", done, total))
}

// flush prints the latest line if the interval held it back.
func (p *progressPrinter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending != "" {
		fmt.Fprintln(p.w, p.pending)
		p.pending = ""
	}
}
