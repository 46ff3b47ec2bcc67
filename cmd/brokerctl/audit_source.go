package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/acme/secretsbroker/auditlog"
)

// auditSource is the audit log being read: a file (which --follow tails) or
// stdin.
type auditSource struct {
	path  string   // "" for stdin
	file  *os.File // the open file (nil for stdin)
	stdin io.Reader
}

// openAuditLog opens path, or stdin for "" and "-".
func (a *app) openAuditLog(path string) (*auditSource, error) {
	if path == "" || path == "-" {
		if a.stdin == nil {
			return nil, usagef("no audit log: give FILE or pipe the log to stdin")
		}
		if fd, ok := a.stdin.(fder); ok && term.IsTerminal(int(fd.Fd())) {
			return nil, usagef("no audit log: give FILE (the audit device's file_path) or pipe the log to stdin")
		}
		return &auditSource{stdin: a.stdin}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &auditSource{path: path, file: f}, nil
}

func (s *auditSource) Close() error {
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}

// readAll feeds the whole log to st. Reading stdin stops when ctx ends.
func (s *auditSource) readAll(ctx context.Context, st *auditlog.Stream) error {
	if s.file != nil {
		if _, err := io.Copy(st, ctxReader{ctx, s.file}); err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		return nil
	}
	return s.pipe(ctx, st, nil, 0)
}

// ctxReader stops a copy between reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// pipe feeds stdin to st until EOF or ctx ends. With emit, it hands out
// what st has completed every poll interval.
func (s *auditSource) pipe(ctx context.Context, st *auditlog.Stream, emit func([]auditlog.Entry) error, poll time.Duration) error {
	type chunk struct {
		b   []byte
		err error
	}
	ch := make(chan chunk)
	done := make(chan struct{})
	defer close(done)
	go func() { // ends at EOF or error; a read blocked at exit dies with the process
		for {
			buf := make([]byte, 64<<10)
			n, err := s.stdin.Read(buf)
			select {
			case ch <- chunk{buf[:n], err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var tick <-chan time.Time
	if emit != nil {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if err := emit(st.Flush()); err != nil {
				return err
			}
		case c := <-ch:
			st.Write(c.b)
			if errors.Is(c.err, io.EOF) {
				return nil
			}
			if c.err != nil {
				return fmt.Errorf("audit log: read stdin: %w", c.err)
			}
		}
	}
}

// follow feeds the log to st and keeps reading as it grows, handing out
// completed entries every poll, until ctx is cancelled. A truncated file is
// read again from its start; a replaced one (log rotation) is read to its
// end, then the new file at path is followed from its start.
func (s *auditSource) follow(ctx context.Context, st *auditlog.Stream, emit func([]auditlog.Entry) error, poll time.Duration) error {
	if s.file == nil {
		return s.pipe(ctx, st, emit, poll)
	}
	info, err := s.file.Stat()
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	var off int64
	buf := make([]byte, 256<<10)
	drain := func() error {
		for {
			n, err := s.file.Read(buf)
			if n > 0 {
				st.Write(buf[:n])
				off += int64(n)
			}
			if errors.Is(err, io.EOF) || n == 0 {
				return nil
			}
			if err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
			if ctx.Err() != nil {
				return nil
			}
		}
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if err := drain(); err != nil {
			return err
		}
		if err := emit(st.Flush()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now, err := os.Stat(s.path)
		switch {
		case err != nil:
			// Removed and not yet re-created: keep the old file open.
		case !os.SameFile(now, info):
			if err := drain(); err != nil {
				return err
			}
			f, err := os.Open(s.path)
			if err != nil {
				continue // re-created but not readable yet
			}
			s.file.Close()
			s.file, info, off = f, now, 0
			st.Reset()
		case now.Size() < off:
			if _, err := s.file.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
			off = 0
			st.Reset()
		}
	}
}

// readSandboxLog reads one --sandbox-log file.
func readSandboxLog(path string) ([]auditlog.Alert, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox log: %w", err)
	}
	defer f.Close()
	as, _, err := auditlog.ParseSandboxLog(f)
	if err != nil {
		return nil, fmt.Errorf("sandbox log %s: %w", path, err)
	}
	return as, nil
}
