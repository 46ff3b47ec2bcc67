package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// HAProxy is a running haproxy in HTTP mode in front of a set of servers, sending
// traffic only to the servers whose health check answers 200.
type HAProxy struct {
	Addr    string // http://127.0.0.1:port
	logPath string
	p       *proc
}

// findHAProxy returns Debian's haproxy (/usr/sbin is not on every PATH).
func findHAProxy() (string, error) {
	if bin, err := exec.LookPath("haproxy"); err == nil {
		return bin, nil
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy", nil
	}
	return "", errors.New("no haproxy binary (apt-get install haproxy)")
}

// Health checks run every checkInterval; two failed checks in a row take a server
// out (one slow check on a loaded machine must not evict the active node and cut
// its sessions: it did, once in a make test run), two passing checks put it back.
// on-marked-down shuts the sessions to a server that went out, so clients of a
// frozen node are not left hanging.
const checkInterval = 250 * time.Millisecond

// haproxyConfig is the configuration of a proxy on port in front of servers
// (host:port), health-checking GET path and expecting 200.
func haproxyConfig(name string, port int, servers []string, path string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  timeout check 1s
  retries 2
  option redispatch
frontend %[1]s_in
  bind 127.0.0.1:%[2]d
  default_backend %[1]s
backend %[1]s
  option httpchk GET %[3]s
  http-check expect status 200
  default-server inter %[4]dms fastinter %[4]dms downinter %[4]dms fall 2 rise 2 on-marked-down shutdown-sessions
`, name, port, path, checkInterval.Milliseconds())
	for i, s := range servers {
		fmt.Fprintf(&b, "  server %s%d %s check\n", name, i, s)
	}
	return b.String()
}

// startHAProxy starts haproxy in front of servers and stops it when the test ends.
func startHAProxy(t tb, bin, name string, servers []string, path string) (*HAProxy, error) {
	t.Helper()
	dir := t.TempDir()
	h := &HAProxy{logPath: filepath.Join(dir, "haproxy.log")}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var port int
		if port, err = freePort(); err != nil {
			return nil, err
		}
		cfg := filepath.Join(dir, "haproxy.cfg")
		if err = os.WriteFile(cfg, []byte(haproxyConfig(name, port, servers, path)), 0o600); err != nil {
			return nil, err
		}
		if h.p, err = startProc(bin, []string{"-db", "-f", cfg}, nil, dir, h.logPath); err != nil {
			return nil, err
		}
		h.Addr = fmt.Sprintf("http://127.0.0.1:%d", port)
		if err = h.waitListen(port); err == nil {
			break
		}
		h.p.stop()
	}
	if err != nil {
		return nil, fmt.Errorf("%w\n--- %s (tail) ---\n%s", err, h.logPath, logTail(h.logPath))
	}
	t.Cleanup(h.p.stop)
	return h, nil
}

func (h *HAProxy) waitListen(port int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if h.p.exited() {
			return errExited
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("haproxy not listening on %d: %v", port, err)
		case <-time.After(pollInterval):
		}
	}
}

// LogPath is the file holding haproxy's output.
func (h *HAProxy) LogPath() string { return h.logPath }
