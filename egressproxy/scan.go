package egressproxy

import (
	"bytes"
	"io"

	"github.com/acme/secretsbroker/broker"
)

// maxCarry bounds what tokenScanner keeps of a token still running at the
// end of a read.
const maxCarry = 256

// keepTail is what tokenScanner keeps of a read's end when no token runs
// to it: enough for a marker and a minimal random part split across reads.
const keepTail = len(broker.PlaceholderMarker) + broker.PlaceholderMinRandom

// tokenScanner finds placeholder tokens in a stream written to it in
// pieces (a request body as it is forwarded): a token split across writes
// is found. Tokens are reported once each, in order, up to maxTokens.
type tokenScanner struct {
	carry  []byte
	seen   map[string]bool
	tokens []string
}

const maxTokens = 16

// Write scans p; it never fails.
func (s *tokenScanner) Write(p []byte) (int, error) {
	s.scan(p, false)
	return len(p), nil
}

// Finish scans what is left at the end of the stream.
func (s *tokenScanner) Finish() { s.scan(nil, true) }

// Tokens returns the tokens found so far.
func (s *tokenScanner) Tokens() []string { return s.tokens }

func (s *tokenScanner) scan(p []byte, final bool) {
	buf := append(s.carry, p...)
	next := len(buf) - keepTail
	for _, m := range broker.FindPlaceholders(buf) {
		if m.End == len(buf) && !final {
			next = min(next, max(m.Start, len(buf)-maxCarry))
			break
		}
		s.add(string(buf[m.Start:m.End]))
	}
	if final {
		s.carry = nil
		return
	}
	next = max(next, 0)
	s.carry = append(make([]byte, 0, len(buf)-next+4096), buf[next:]...)
}

func (s *tokenScanner) add(tok string) {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if s.seen[tok] || len(s.tokens) >= maxTokens {
		return
	}
	s.seen[tok] = true
	s.tokens = append(s.tokens, tok)
}

// pair is a substituted value and the placeholder that replaces it in an
// answer.
type pair struct {
	value       []byte
	placeholder []byte
}

// redact replaces every value of pairs in b by its placeholder. Unless
// final, it keeps back the longest end of b that may begin a value split
// across reads: out is what may be sent now, rest what to prepend to the
// next read. hits[i] counts the replacements of pairs[i].
func redact(b []byte, pairs []pair, final bool, hits []int) (out, rest []byte) {
	for {
		at, which := -1, -1
		for i, p := range pairs {
			if len(p.value) == 0 {
				continue
			}
			if j := bytes.Index(b, p.value); j >= 0 && (at < 0 || j < at) {
				at, which = j, i
			}
		}
		if at < 0 {
			break
		}
		out = append(out, b[:at]...)
		out = append(out, pairs[which].placeholder...)
		b = b[at+len(pairs[which].value):]
		hits[which]++
	}
	if final {
		return append(out, b...), nil
	}
	h := heldBack(b, pairs)
	return append(out, b[:len(b)-h]...), b[len(b)-h:]
}

// heldBack is the length of the longest end of b that is a proper prefix of
// a value.
func heldBack(b []byte, pairs []pair) int {
	best := 0
	for _, p := range pairs {
		v := p.value
		if len(v) < 2 {
			continue
		}
		from := max(len(b)-(len(v)-1), 0)
		for i := from; i < len(b)-best; i++ {
			if b[i] == v[0] && bytes.HasPrefix(v, b[i:]) {
				best = len(b) - i
				break
			}
		}
	}
	return best
}

// redactor is an answer body with the substituted values replaced by their
// placeholders as it streams: every read is passed on as soon as it holds
// nothing that may begin a value (server-sent events are not delayed).
type redactor struct {
	src   io.ReadCloser
	pairs []pair
	buf   []byte
	held  []byte
	out   []byte
	eof   bool
	err   error
	hits  []int
	done  func(hits []int)
}

func newRedactor(src io.ReadCloser, pairs []pair, done func(hits []int)) *redactor {
	return &redactor{src: src, pairs: pairs, buf: make([]byte, 8<<10), hits: make([]int, len(pairs)), done: done}
}

func (r *redactor) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.eof {
			r.finish()
			return 0, r.err
		}
		n, err := r.src.Read(r.buf)
		data := append(r.held, r.buf[:n]...)
		if err != nil {
			r.eof, r.err = true, err
		}
		out, rest := redact(data, r.pairs, r.eof, r.hits)
		r.out = out
		r.held = append([]byte(nil), rest...)
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

func (r *redactor) finish() {
	if r.done != nil {
		r.done(r.hits)
		r.done = nil
	}
}

func (r *redactor) Close() error {
	r.finish()
	return r.src.Close()
}
