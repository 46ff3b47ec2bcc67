package testenv

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Server is a server process (brokerd, egressd) a test started with
// StartServer: its combined output, and the URLs of its "listening" line.
type Server struct {
	API   string // http://host:port of the main listener
	Admin string // http://host:port of the admin listener, "" if none
	Logs  *SyncBuffer
	cmd   *exec.Cmd
}

// StartServer runs bin with args and exactly env as its environment, waits
// (up to 30 s) for its JSON "listening" log line (ListenURLs) and stops it
// with SIGTERM (SIGKILL after 20 s) when the test ends. A process that
// exits first fails the test with its output.
func StartServer(t testing.TB, bin string, args, env []string) *Server {
	t.Helper()
	s := &Server{Logs: &SyncBuffer{}}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.Logs, s.Logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s.API, s.Admin = ListenURLs(s.Logs.String()); s.API != "" {
			return s
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("testenv: %s %v exited before listening: %v\n%s", bin, args, err, s.Logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: %s %v not listening within 30s\n%s", bin, args, s.Logs.String())
		}
	}
}
