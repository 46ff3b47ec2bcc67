package envflag

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/internal/exit"
)

func TestDispatch(t *testing.T) {
	var got []string
	cmds := []Command{
		{Name: "serve", Run: func(args []string) error { got = args; return nil }},
		{Name: "fail", Run: func([]string) error { return errors.New("boom") }},
		{Name: "help", Run: func([]string) error { return ErrHelpShown }},
		{Name: "sub", Run: func([]string) error { return ErrHelpShown }},
	}
	var out, errb bytes.Buffer
	if err := Dispatch("prog", "USAGE", []string{"serve", "-x"}, &out, &errb, cmds...); err != nil || strings.Join(got, " ") != "-x" {
		t.Fatalf("serve: %v %v", err, got)
	}
	if err := Dispatch("prog", "USAGE", []string{"fail"}, &out, &errb, cmds...); err == nil || err.Error() != "boom" {
		t.Fatalf("fail: %v", err)
	}
	if err := Dispatch("prog", "USAGE", []string{"sub"}, &out, &errb, cmds...); err != nil {
		t.Fatalf("a command's help is a success: %v", err)
	}
	var ue *exit.UsageError
	if err := Dispatch("prog", "USAGE", nil, &out, &errb, cmds...); !errors.As(err, &ue) || !strings.Contains(errb.String(), "USAGE") {
		t.Fatalf("no command: %v, stderr %q", err, errb.String())
	}
	if err := Dispatch("prog", "USAGE", []string{"srve"}, &out, &errb, cmds...); !errors.As(err, &ue) || !strings.Contains(err.Error(), `unknown command "srve": want serve or fail`) {
		t.Fatalf("unknown: %v", err)
	}
	out.Reset()
	if err := Dispatch("prog", "USAGE", []string{"--version"}, &out, &errb, cmds...); err != nil || !strings.HasPrefix(out.String(), "prog ") {
		t.Fatalf("--version: %v %q", err, out.String())
	}
}
