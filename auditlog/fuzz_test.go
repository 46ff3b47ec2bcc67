package auditlog

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzParseLine: ParseLine never panics, fails only with ErrMalformed, and
// what it accepts is a request or response with a time; a Stream fed the
// same bytes never panics and accounts for every line.
func FuzzParseLine(f *testing.F) {
	for _, l := range lines(scenarioLog(f)) {
		f.Add(l)
	}
	f.Add([]byte(`{"type":"request","time":"2026-01-01T00:00:00Z","request":{"path":"sys/wrapping/unwrap"},"error":"x"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseLine(line)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		} else {
			if r.Type != "request" && r.Type != "response" {
				t.Fatalf("accepted type %q", r.Type)
			}
			if (r.Type == "response") != (r.Resp != nil) {
				t.Fatal("response part on a request entry, or none on a response entry")
			}
			for _, h := range r.HMACs {
				if !bytes.Contains(line, []byte(h)) {
					t.Fatalf("HMAC %q not in the line", h)
				}
			}
		}
		s := NewStream(Options{})
		s.Write(line)
		s.Write([]byte("\n"))
		s.Write(line)
		entries := s.Close()
		_ = s.Alerts(time.Now())
		st := s.Stats()
		if st.Malformed+st.Requests+st.Responses != st.Lines {
			t.Fatalf("stats do not add up: %+v", st)
		}
		if err == nil && len(entries) == 0 {
			t.Fatal("an accepted line yielded no entry")
		}
	})
}
