package envfile

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	cases := map[string]string{
		"":             `''`,
		"plain":        `'plain'`,
		"it's":         `'it'\''s'`,
		"'":            `''\'''`,
		`$HOME`:        `'$HOME'`,
		"a\nb":         "'a\nb'",
		"`id`":         "'`id`'",
		`back\slash`:   `'back\slash'`,
		`"dq"`:         `'"dq"'`,
		"''":           `''\'''\'''`,
		"ünï€ode":      `'ünï€ode'`,
		"trailing\n\n": "'trailing\n\n'",
	}
	for in, want := range cases {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"A", "_", "a_b", "OPENAI_API_KEY", "_9", "x1"} {
		if !ValidName(ok) {
			t.Errorf("ValidName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "1A", "A-B", "A B", "A=B", "é", "A.B", "A\n", "$A"} {
		if ValidName(bad) {
			t.Errorf("ValidName(%q) = true", bad)
		}
	}
}

func TestEncodeSortedAndDeterministic(t *testing.T) {
	env := map[string]string{"ZED": "z", "ALPHA": "a'b", "MID": "$x"}
	var first bytes.Buffer
	if err := Encode(&first, env); err != nil {
		t.Fatal(err)
	}
	want := "ALPHA='a'\\''b'\nMID='$x'\nZED='z'\n"
	if first.String() != want {
		t.Fatalf("Encode = %q, want %q", first.String(), want)
	}
	for range 20 {
		var again bytes.Buffer
		if err := Encode(&again, env); err != nil {
			t.Fatal(err)
		}
		if again.String() != want {
			t.Fatalf("Encode not deterministic: %q", again.String())
		}
	}
}

func TestEncodeEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, nil); err != nil || buf.Len() != 0 {
		t.Fatalf("Encode(nil) = %q, %v", buf.String(), err)
	}
}

func TestEncodeRefusesWithoutLeaking(t *testing.T) {
	const secret = "sk-very-secret-value"
	cases := []struct {
		env  map[string]string
		want error
	}{
		{map[string]string{"GOOD": secret, "BAD-NAME": secret}, ErrInvalidName},
		{map[string]string{"GOOD": secret, "NUL": secret + "\x00tail"}, ErrInvalidValue},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		err := Encode(&buf, c.env)
		if !errors.Is(err, c.want) {
			t.Fatalf("Encode error = %v, want %v", err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("Encode wrote %d bytes before refusing", buf.Len())
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the value: %v", err)
		}
	}
}

// TestRoundTripShell sources an encoded file with every shell found and
// compares each variable byte for byte.
func TestRoundTripShell(t *testing.T) {
	env := map[string]string{
		"SINGLE":         "it's a 'quoted' value'",
		"DOUBLE":         `say "hi" \"there\"`,
		"DOLLAR":         "$HOME ${PATH} $(id) $1 $$ $",
		"BACKTICK":       "`uname -a`",
		"BACKSLASH":      `C:\path\to\n \\ \' \`,
		"NEWLINES":       "line1\nline2\r\n\n",
		"UNICODE":        "ünïcödé ✓ 日本語 \u202e",
		"INVALID":        "\xff\xfe bytes",
		"EMPTY":          "",
		"SPACES":         "  lead and trail  ",
		"GLOB":           "* ? [a-z] ~ ~root",
		"SEMI":           "a; rm -rf / # & | < > !",
		"EQUALS":         "a=b=c",
		"OPENAI_API_KEY": "sk-proj-abc123",
	}
	for _, sh := range shells(t) {
		t.Run(sh, func(t *testing.T) { assertRoundTrip(t, sh, env) })
	}
}
