package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestVersion: brokerctl --version prints one line naming the binary, the
// version, the commit and the Go version; `secrets rollback --version N`
// keeps its own meaning.
func TestVersion(t *testing.T) {
	r := runCLI(t, nil, "", "--version")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasPrefix(r.stdout, "brokerctl ") || !strings.Contains(r.stdout, " commit ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Fatalf("%q, want one line: brokerctl VERSION commit COMMIT GOVERSION", r.stdout)
	}
	r = runCLI(t, map[string]string{"BROKER_API_KEY": "k"}, "", "secrets", "rollback", "NAME", "--version", "0")
	if r.code != 2 || !strings.Contains(r.stderr, "--version must be a version number") {
		t.Fatalf("rollback --version 0: exit %d, %q", r.code, r.stderr)
	}
}

// TestHelpCommand: `brokerctl help [COMMAND...]` prints what --help prints;
// an unknown command suggests the nearest one.
func TestHelpCommand(t *testing.T) {
	for _, args := range [][]string{{}, {"secrets"}, {"secrets", "set"}, {"keys", "rotate"}} {
		want := runCLI(t, nil, "", append(args, "--help")...)
		got := runCLI(t, nil, "", append([]string{"help"}, args...)...)
		if got.code != 0 || got.stdout != want.stdout || !strings.HasPrefix(got.stdout, "Usage: brokerctl") {
			t.Fatalf("help %v: exit %d, stdout %q; want exit 0 and the --help text %q", args, got.code, got.stdout, want.stdout)
		}
	}
	cases := map[string][]string{
		`did you mean "secrets"`: {"secret"},
		`did you mean "apikeys"`: {"apikey", "list"},
		`"list"`:                 {"secrets", "lst"},
	}
	for want, args := range cases {
		r := runCLI(t, nil, "", args...)
		if r.code != 2 || !strings.Contains(oneErrorLine(t, r), want) {
			t.Errorf("%v: exit %d, %q; want exit 2 suggesting %s", args, r.code, r.stderr, want)
		}
	}
	r := runCLI(t, nil, "", "help", "bogus")
	if r.code != 2 {
		t.Errorf("help bogus: exit %d, want 2", r.code)
	}
}
