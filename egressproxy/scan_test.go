package egressproxy

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// chunks is a reader returning the given pieces one read each.
type chunks struct{ parts [][]byte }

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func redactAll(t testing.TB, parts [][]byte, pairs []pair) (string, []int) {
	t.Helper()
	var hits []int
	r := newRedactor(io.NopCloser(&chunks{parts: parts}), pairs, func(h []int) { hits = h })
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	return string(out), hits
}

func TestRedactorCatchesAValueSplitAcrossReads(t *testing.T) {
	pairs := []pair{{value: []byte("sk-proj-SECRET"), placeholder: []byte("sk-probph_X")}}
	out, hits := redactAll(t, [][]byte{[]byte("data: sk-pr"), []byte("oj-SEC"), []byte("RET\n\nsk-proj-SECRET")}, pairs)
	if out != "data: sk-probph_X\n\nsk-probph_X" || hits[0] != 2 {
		t.Fatalf("out %q hits %v", out, hits)
	}
}

// A read that cannot begin a value is passed on at once (an SSE event is
// not held back waiting for the next).
func TestRedactorDoesNotHoldBackWhatCannotBeAValue(t *testing.T) {
	pairs := []pair{{value: []byte("sk-proj-SECRET"), placeholder: []byte("P")}}
	pr, pw := io.Pipe()
	r := newRedactor(pr, pairs, nil)
	go func() { _, _ = pw.Write([]byte("data: first\n\n")) }()
	buf := make([]byte, 100)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "data: first\n\n" {
		t.Fatalf("first read %q %v", buf[:n], err)
	}
	go func() { _, _ = pw.Write([]byte("data: sk-p")) }()
	n, _ = r.Read(buf)
	if string(buf[:n]) != "data: " {
		t.Fatalf("second read %q: want the start of a possible value held back", buf[:n])
	}
	pw.Close()
	rest, _ := io.ReadAll(r)
	if string(rest) != "sk-p" {
		t.Fatalf("at the end %q", rest)
	}
}

func TestTokenScannerFindsATokenSplitAcrossWrites(t *testing.T) {
	ph := testPlaceholder(t)
	body := strings.Repeat("x", 5000) + " " + ph.String() + " " + strings.Repeat("y", 5000)
	var s tokenScanner
	r := iotest.OneByteReader(strings.NewReader(body))
	if _, err := io.Copy(&s, r); err != nil {
		t.Fatal(err)
	}
	s.Finish()
	if toks := s.Tokens(); len(toks) != 1 || toks[0] != ph.Token {
		t.Fatalf("tokens %v, want %s", toks, ph.Token)
	}
}

// FuzzRedactor: however an answer is cut into reads, the streamed output
// equals the whole-text replacement, and never holds the value.
func FuzzRedactor(f *testing.F) {
	f.Add([]byte("data: sk-proj-SECRET\n\n"), []byte{3, 7, 1})
	f.Add([]byte("sk-proj-sk-proj-SECRETsk-proj-SECRE"), []byte{1, 1, 1, 1, 1})
	f.Add([]byte("ssssk-proj-SECRETT"), []byte{4})
	f.Add([]byte(""), []byte{})
	pairs := []pair{
		{value: []byte("sk-proj-SECRET"), placeholder: []byte("sk-probph_AAAAAAAAAAAAAAAAAAAAAA")},
		{value: []byte("ghp_TOKEN"), placeholder: []byte("ghp_bph_BBBBBBBBBBBBBBBBBBBBBBBB")},
	}
	f.Fuzz(func(t *testing.T, data []byte, cuts []byte) {
		var parts [][]byte
		rest := data
		for _, c := range cuts {
			n := int(c) % (len(rest) + 1)
			parts = append(parts, append([]byte(nil), rest[:n]...))
			rest = rest[n:]
		}
		parts = append(parts, append([]byte(nil), rest...))
		got, _ := redactAll(t, parts, pairs)
		want, _ := redact(data, pairs, true, make([]int, len(pairs)))
		if got != string(want) {
			t.Fatalf("streamed %q, whole %q (input %q cuts %v)", got, want, data, cuts)
		}
		// These placeholders cannot form a value with their neighbours
		// (none begins or ends with a value's end or start), so a value in
		// the output is a leak.
		for _, p := range pairs {
			if bytes.Contains([]byte(got), p.value) {
				t.Fatalf("value %q left in %q", p.value, got)
			}
		}
	})
}
