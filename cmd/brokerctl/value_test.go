package main

import (
	"errors"
	"strings"
	"testing"
)

func TestReadPipedValue(t *testing.T) {
	cases := []struct {
		name string
		in   string
		keep bool
		want string
	}{
		{"no newline", "sk-abc", false, "sk-abc"},
		{"one newline stripped", "sk-abc\n", false, "sk-abc"},
		{"crlf stripped", "sk-abc\r\n", false, "sk-abc"},
		{"only one newline stripped", "sk-abc\n\n", false, "sk-abc\n"},
		{"inner newlines kept", "line1\nline2\n", false, "line1\nline2"},
		{"keep newline", "sk-abc\n", true, "sk-abc\n"},
		{"spaces kept", "  sk abc  \n", false, "  sk abc  "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readPipedValue(strings.NewReader(c.in), c.keep)
			if err != nil {
				t.Fatalf("readPipedValue(%q): %v", c.in, err)
			}
			if got != c.want {
				t.Fatalf("readPipedValue(%q, keep=%v) = %q, want %q", c.in, c.keep, got, c.want)
			}
		})
	}
}

func TestReadPipedValueRejects(t *testing.T) {
	cases := map[string]string{
		"empty":        "",
		"only newline": "\n",
		"NUL byte":     "ab\x00cd",
		"too large":    strings.Repeat("x", maxValueBytes+1),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := readPipedValue(strings.NewReader(in), false)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("readPipedValue = %q, %v; want a usage error", v, err)
			}
			if in != "" && strings.Contains(err.Error(), in) {
				t.Fatalf("error %q repeats the value", err)
			}
		})
	}
	// Exactly the limit is accepted.
	if _, err := readPipedValue(strings.NewReader(strings.Repeat("x", maxValueBytes)), false); err != nil {
		t.Fatalf("value of exactly 1 MiB: %v", err)
	}
}

func TestReadKey(t *testing.T) {
	k, err := readKey(strings.NewReader("  sbk_abc \nsecond line\n"))
	if err != nil || k != "sbk_abc" {
		t.Fatalf("readKey = %q, %v", k, err)
	}
	if _, err := readKey(strings.NewReader("\n")); err == nil {
		t.Fatal("readKey of an empty line: no error")
	}
}
