package exit

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	for _, c := range []struct {
		err      error
		want     int
		wantLine string
	}{
		{nil, 0, ""},
		{Usagef("--x must be %d", 3), 2, "prog: --x must be 3\n"},
		{fmt.Errorf("config: %w", Usagef("bad")), 2, "prog: config: bad\n"},
		{errors.New("vault down:\n  connection\trefused"), 1, "prog: vault down: connection refused\n"},
		{&Request{Code: 3}, 3, ""},
	} {
		var out bytes.Buffer
		if got := Code("prog", c.err, &out); got != c.want || out.String() != c.wantLine {
			t.Errorf("Code(%v) = %d, %q; want %d, %q", c.err, got, out.String(), c.want, c.wantLine)
		}
	}
	if OneLine("a  b") != "a  b" {
		t.Error("OneLine changed a line without newlines")
	}
}
