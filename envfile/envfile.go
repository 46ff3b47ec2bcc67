// Package envfile writes environment variables as a file that a POSIX shell
// sources back byte for byte (`set -a; . FILE`).
//
// Every value is single-quoted; an embedded single quote becomes these four
// bytes (close the quote, an escaped quote, reopen):
//
//	'\''
//
// Inside single quotes a POSIX shell
// interprets nothing: `$`, backticks, backslashes, double quotes, newlines and
// any non-NUL byte (including invalid UTF-8) come back unchanged. NUL cannot be
// held by a shell variable, so values containing it are refused.
package envfile

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ErrInvalidName is wrapped by errors about a variable name that is not
// [A-Za-z_][A-Za-z0-9_]*.
var ErrInvalidName = errors.New("invalid environment variable name")

// ErrInvalidValue is wrapped by errors about a value a shell variable cannot
// hold (it contains a NUL byte). The error names the variable, never the value.
var ErrInvalidValue = errors.New("environment variable value contains a NUL byte")

// ValidName reports whether name matches ^[A-Za-z_][A-Za-z0-9_]*$.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Validate checks every name and value of env without writing anything.
// Errors wrap ErrInvalidName or ErrInvalidValue and name the variable (a
// name is not secret), never the value.
func Validate(env map[string]string) error {
	return validate(sortedNames(env), env)
}

func validate(names []string, env map[string]string) error {
	for _, name := range names {
		if !ValidName(name) {
			return fmt.Errorf("%w: %q", ErrInvalidName, name)
		}
		if strings.IndexByte(env[name], 0) >= 0 {
			return fmt.Errorf("%w: %s", ErrInvalidValue, name)
		}
	}
	return nil
}

// Quote returns s as one single-quoted POSIX shell word that evaluates to s.
// s must not contain NUL (a shell would truncate it there).
func Quote(s string) string {
	return string(appendQuoted(make([]byte, 0, len(s)+2), s))
}

// Encode writes one NAME='value' line per variable, sorted by name, so the
// same env always gives the same bytes, in a single Write. It validates
// everything first (see Validate) and writes nothing when a name or value is
// refused; other errors come from w.
func Encode(w io.Writer, env map[string]string) error {
	names := sortedNames(env)
	if err := validate(names, env); err != nil {
		return err
	}
	size := 0
	for _, name := range names {
		size += len(name) + len(env[name]) + 4
	}
	buf := make([]byte, 0, size+size/8)
	for _, name := range names {
		buf = append(buf, name...)
		buf = append(buf, '=')
		buf = appendQuoted(buf, env[name])
		buf = append(buf, '\n')
	}
	_, err := w.Write(buf)
	return err
}

// appendQuoted appends s single-quoted; each single quote inside s ends the
// quoting, adds a backslash-escaped quote and reopens it (see the package doc).
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '\'')
	for {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			break
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, `'\''`...)
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, '\'')
}

func sortedNames(env map[string]string) []string {
	names := make([]string, 0, len(env))
	for name := range env {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
