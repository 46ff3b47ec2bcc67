package egressproxy

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/broker"
)

func testPlaceholder(t testing.TB) broker.Placeholder {
	t.Helper()
	ph, err := broker.NewPlaceholder("sk-pro")
	if err != nil {
		t.Fatal(err)
	}
	return ph
}

func TestSubstituteHeaders(t *testing.T) {
	ph := testPlaceholder(t)
	subs := map[string]sub{ph.Token: {prefix: ph.Prefix, value: "sk-proj-REAL"}}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+ph.String())
	h.Set("X-Api-Key", ph.String())
	h.Set("X-Unprefixed", ph.Token)
	h.Set("X-Other", "nothing here")
	used, unprefixed := substituteHeaders(h, subs)
	if h.Get("Authorization") != "Bearer sk-proj-REAL" || h.Get("X-Api-Key") != "sk-proj-REAL" || h.Get("X-Other") != "nothing here" {
		t.Fatalf("headers %v", h)
	}
	if h.Get("X-Unprefixed") != ph.Token || len(unprefixed) != 1 || len(used) != 1 {
		t.Fatalf("a token without its prefix: %v used %v unprefixed %v", h, used, unprefixed)
	}
}

func TestSubstituteBasicCredential(t *testing.T) {
	ph := testPlaceholder(t)
	subs := map[string]sub{ph.Token: {prefix: ph.Prefix, value: "ghp_REAL"}}
	v := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+ph.String()))
	out, used, _ := substituteHeader("Authorization", v, subs)
	dec, ok := basicCredential("Authorization", out)
	if !ok || dec != "x-access-token:ghp_REAL" || len(used) != 1 {
		t.Fatalf("basic: %q -> %q (%q)", v, out, dec)
	}
	if toks := headerTokens(http.Header{"Authorization": {v}}); len(toks) != 1 || toks[0] != ph.Token {
		t.Fatalf("tokens of a Basic credential: %v", toks)
	}
	// Only Authorization is decoded.
	if out, used, _ := substituteHeader("X-Basic", v, subs); out != v || used != nil {
		t.Fatalf("X-Basic decoded: %q", out)
	}
}

func TestValidHeaderValue(t *testing.T) {
	for v, want := range map[string]bool{"abc\tdef": true, "a\r\nX-Injected: 1": false, "a\x00": false, "": true} {
		if validHeaderValue(v) != want {
			t.Errorf("validHeaderValue(%q) != %v", v, want)
		}
	}
}

// FuzzSubstituteHeader: whatever surrounds a placeholder, substitution
// replaces prefix and token by the value exactly, leaves everything else
// as it was, and never leaves a known token behind.
func FuzzSubstituteHeader(f *testing.F) {
	f.Add("Bearer ", "", "Authorization", false)
	f.Add("token=", ";x", "Cookie", false)
	f.Add("x-access-token:", "", "Authorization", true)
	f.Add("bph_", "bph_", "X-Api-Key", false)
	f.Add("", "ABCDEFGHIJ", "X-Api-Key", false)
	ph := testPlaceholder(f)
	const value = "sk-proj-VALUE"
	subs := map[string]sub{ph.Token: {prefix: ph.Prefix, value: value}}
	f.Fuzz(func(t *testing.T, before, after, name string, basic bool) {
		in := before + ph.String() + after
		v := in
		if basic {
			v = "Basic " + base64.StdEncoding.EncodeToString([]byte(in))
			name = "Authorization"
		}
		out, used, _ := substituteHeader(name, v, subs)
		got := out
		if basic {
			dec, ok := basicCredential(name, out)
			if !ok {
				t.Fatalf("re-encoded Basic does not decode: %q", out)
			}
			got = dec
		}
		// The token is found unless the characters around it extend it.
		ms := broker.FindPlaceholders([]byte(in))
		found := false
		for _, m := range ms {
			if in[m.Start:m.End] == ph.Token {
				found = true
			}
		}
		if !found {
			if used != nil || got != in && !basic {
				t.Fatalf("substituted a token that is not there: %q -> %q", in, got)
			}
			return
		}
		if len(used) == 0 {
			t.Fatalf("token not substituted in %q", in)
		}
		if strings.Contains(got, ph.Token) && !strings.Contains(before+after, ph.Token) {
			t.Fatalf("the token is left in %q", got)
		}
		if !strings.Contains(got, value) {
			t.Fatalf("no value in %q", got)
		}
		// Replacing the value back gives the input (when the surroundings
		// hold no value of their own).
		if !strings.Contains(before+after, value) && !strings.Contains(before+after, ph.Token) {
			if back := strings.Replace(got, value, ph.String(), 1); back != in {
				t.Fatalf("%q -> %q -> %q", in, got, back)
			}
		}
	})
}
