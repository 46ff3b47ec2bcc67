package broker

import (
	"strings"
	"testing"
)

func TestPlaceholderShapeAndFind(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		p, err := NewPlaceholder("sk-p")
		if err != nil {
			t.Fatal(err)
		}
		s := p.String()
		if !strings.HasPrefix(s, "sk-p"+PlaceholderMarker) || len(p.Token) != len(PlaceholderMarker)+32 {
			t.Fatalf("placeholder %q", s)
		}
		if seen[p.Token] {
			t.Fatalf("placeholder repeated: %q", p.Token)
		}
		seen[p.Token] = true
		for _, c := range p.Token[len(PlaceholderMarker):] {
			if !isBase62(byte(c)) {
				t.Fatalf("non-base62 %q in %q", c, p.Token)
			}
		}
		text := []byte("Authorization: Bearer " + s + "\r\nX: y")
		m := FindPlaceholders(text)
		if len(m) != 1 || string(text[m[0].Start:m[0].End]) != p.Token {
			t.Fatalf("FindPlaceholders(%q) = %v", text, m)
		}
	}
}

func TestFindPlaceholders(t *testing.T) {
	r := strings.Repeat("a", PlaceholderMinRandom)
	for text, want := range map[string][]string{
		"":                                   nil,
		"bph_":                               nil,
		"bph_" + r[1:]:                       nil, // too short
		"bph_" + r:                           {"bph_" + r},
		"x=bph_" + r + "&y=bph_" + r + "Z9;": {"bph_" + r, "bph_" + r + "Z9"},
		"bph_bph_" + r:                       {"bph_" + r},
		`{"k":"sk-pbph_` + r + `"}`:          {"bph_" + r},
		"no marker here " + r:                nil,
	} {
		var got []string
		for _, m := range FindPlaceholders([]byte(text)) {
			got = append(got, text[m.Start:m.End])
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("FindPlaceholders(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestHashesDiffer(t *testing.T) {
	if TokenHash("a") == TokenHash("b") || len(TokenHash("a")) != 64 || CredentialHash("a") != TokenHash("a") {
		t.Fatal("hashes are not SHA-256 hex")
	}
	c1, _ := NewProxyCredential()
	c2, _ := NewProxyCredential()
	if c1 == c2 || len(c1) != 32 {
		t.Fatalf("credentials %q %q", c1, c2)
	}
}

func TestCheckEgressHost(t *testing.T) {
	for _, ok := range []string{"api.openai.com", "github.com", "*.example.com", "a-b.c0.io", "xn--bcher-kva.example"} {
		if msg := CheckEgressHost(ok); msg != "" {
			t.Errorf("%q refused: %s", ok, msg)
		}
	}
	for _, bad := range []string{"", "localhost", "API.openai.com", "api.openai.com:443", "https://x.com", "x.com/p",
		"1.2.3.4", "[::1]", "::1", "*.*.example.com", "a.*.example.com", "*example.com", "-a.example.com", "a..b",
		"example.com.", "x.123", "user@x.com", strings.Repeat("a", 64) + ".com", "ex ample.com"} {
		if CheckEgressHost(bad) == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMatchEgressHost(t *testing.T) {
	for _, c := range []struct {
		pattern, host string
		want          bool
	}{
		{"api.openai.com", "api.openai.com", true},
		{"api.openai.com", "API.OpenAI.com", true},
		{"api.openai.com", "api.openai.com.", true},
		{"api.openai.com", "evil.api.openai.com", false},
		{"api.openai.com", "api.openai.com.evil", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", ".example.com", false},
		{"*.example.com", "aexample.com", false},
	} {
		if got := MatchEgressHost(c.pattern, c.host); got != c.want {
			t.Errorf("MatchEgressHost(%q, %q) = %t", c.pattern, c.host, got)
		}
	}
	if !EgressHostAllowed([]string{"x.com", "*.y.com"}, "a.y.com") || EgressHostAllowed(nil, "x.com") {
		t.Error("EgressHostAllowed")
	}
}

func FuzzFindPlaceholders(f *testing.F) {
	f.Add([]byte("Bearer sk-pbph_" + strings.Repeat("Z", 32)))
	f.Add([]byte("bph_bph_bph_"))
	f.Fuzz(func(t *testing.T, b []byte) {
		last := 0
		for _, m := range FindPlaceholders(b) {
			if m.Start < last || m.End <= m.Start || m.End > len(b) || string(b[m.Start:m.Start+4]) != PlaceholderMarker {
				t.Fatalf("bad match %v in %q", m, b)
			}
			last = m.End
		}
	})
}
