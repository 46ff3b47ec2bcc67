package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/atomicfile"
)

// tokenFlags say what happens to the bootstrap tokens of an answer. By
// default they are dropped: never printed, never written.
type tokenFlags struct {
	ShowToken bool   `name:"show-token" help:"Print the bootstrap token(s) (one-time; anyone who sees one can read the selected values once)."`
	TokenFile string `name:"token-file" type:"path" placeholder:"PATH" help:"Write the bootstrap token(s) to PATH (mode 0600, written aside and renamed into place): the token for one sandbox, else one SANDBOX_ID TOKEN line per sandbox."`
}

// tokenSink is an open --token-file: created before the API call so that an
// unwritable path fails before a token is minted.
type tokenSink struct {
	f *atomicfile.Pending
}

// open creates the --token-file's temporary file, or returns nil.
func (t tokenFlags) open() (*tokenSink, error) {
	if t.TokenFile == "" {
		return nil, nil
	}
	p, err := atomicfile.Create(t.TokenFile, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--token-file: %w", err)
	}
	return &tokenSink{f: p}, nil
}

// abort drops the temporary file (nil-safe).
func (s *tokenSink) abort() {
	if s != nil {
		s.f.Abort()
	}
}

// commit writes the tokens of sandboxes: a lone token as it is, several as
// "SANDBOX_ID TOKEN" lines.
func (s *tokenSink) commit(sandboxes []*broker.Sandbox) error {
	var b strings.Builder
	for _, sb := range sandboxes {
		if sb.Bootstrap == nil || sb.Bootstrap.Token == "" {
			continue
		}
		if len(sandboxes) == 1 {
			b.WriteString(sb.Bootstrap.Token + "\n")
		} else {
			b.WriteString(sb.ID + " " + sb.Bootstrap.Token + "\n")
		}
	}
	if _, err := s.f.Write([]byte(b.String())); err != nil {
		s.f.Abort()
		return fmt.Errorf("--token-file: %w", err)
	}
	if err := s.f.Commit(); err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	return nil
}

// takeTokens writes the tokens to the sink (if any) and, unless
// --show-token, removes them from the sandboxes. It returns the answer to
// print with --json: the raw body when tokens are shown, else the answer
// re-encoded without them.
func (t tokenFlags) takeTokens(sink *tokenSink, raw []byte, v any, sandboxes []*broker.Sandbox) ([]byte, error) {
	if sink != nil {
		if err := sink.commit(sandboxes); err != nil {
			return nil, err
		}
	}
	if t.ShowToken {
		return raw, nil
	}
	for _, sb := range sandboxes {
		if sb.Bootstrap != nil {
			sb.Bootstrap.Token = ""
		}
	}
	return json.Marshal(v)
}
