package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// readyTimeout bounds every wait for a server to answer.
const readyTimeout = 90 * time.Second

// proc is a child server process whose output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProc starts bin with args and env (added to a minimal environment);
// stdout and stderr go to logPath, and stderr lines also to lines when set.
func startProc(name, bin string, args, env []string, logPath string, lines chan<- string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	var r, w *os.File
	if lines != nil {
		if r, w, err = os.Pipe(); err != nil {
			f.Close()
			return nil, err
		}
		cmd.Stderr = w
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		if r != nil {
			r.Close()
			w.Close()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	copied := make(chan struct{})
	if r != nil {
		w.Close() // the child holds its own copy; EOF when it exits
		go func() {
			defer close(copied)
			defer r.Close()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				_, _ = f.Write(append(sc.Bytes(), '\n'))
				select {
				case lines <- sc.Text():
				default: // nobody listens any more
				}
			}
			_, _ = io.Copy(f, r)
		}()
	} else {
		close(copied)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		<-copied
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop() {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls ok every 100 ms until it answers true, p exits, or the deadline.
func waitFor(ctx context.Context, p *proc, what string, ok func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for !ok() {
		if p.exited() {
			return fmt.Errorf("%s exited: %v", what, p.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s", what, readyTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// vaultServer is a dev-mode Vault on a free loopback port.
type vaultServer struct {
	*proc
	addr, token string
}

func startVault(ctx context.Context, bin, dir string) (*vaultServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tok := "root-" + randHex(12)
	addr := fmt.Sprintf("http://127.0.0.1:%d", port)
	// A dev root token on the command line is fine for an in-memory server on loopback.
	p, err := startProc("vault", bin, []string{"server", "-dev", "-dev-listen-address=127.0.0.1:" + strconv.Itoa(port),
		"-dev-root-token-id=" + tok, "-dev-no-store-token"}, nil, filepath.Join(dir, "vault.log"), nil)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	err = waitFor(ctx, p, "vault", func() bool {
		res, err := hc.Get(addr + "/v1/sys/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	if err != nil {
		p.stop()
		return nil, err
	}
	return &vaultServer{proc: p, addr: addr, token: tok}, nil
}

// startRedis starts redis-server without persistence on a free port.
func startRedis(ctx context.Context, bin, dir string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	p, err := startProc("redis", bin, []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir}, nil, filepath.Join(dir, "redis.log"), nil)
	if err != nil {
		return nil, "", err
	}
	err = waitFor(ctx, p, "redis", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.HasPrefix(line, "+PONG")
	})
	if err != nil {
		p.stop()
		return nil, "", err
	}
	return p, fmt.Sprintf("redis://127.0.0.1:%d/0", port), nil
}

// buildBrokerd builds a release brokerd (no -race) into dir.
func buildBrokerd(ctx context.Context, goBin, moduleRoot, dir string) (string, error) {
	out := filepath.Join(dir, "brokerd")
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", out, "./cmd/brokerd")
	cmd.Dir = moduleRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/brokerd: %v\n%s", err, b)
	}
	return out, nil
}

// setupVault runs `brokerd setup` with the root token and returns the AppRole files.
func setupVault(ctx context.Context, brokerd string, v *vaultServer, dir string) (roleFile, secretFile string, err error) {
	roleFile, secretFile = filepath.Join(dir, "role_id"), filepath.Join(dir, "secret_id")
	cmd := exec.CommandContext(ctx, brokerd, "setup", "--vault-addr", v.addr, "--role-id-file", roleFile, "--secret-id-file", secretFile)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "VAULT_TOKEN=" + v.token}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("brokerd setup: %v\n%s", err, b)
	}
	return roleFile, secretFile, nil
}

// brokerdServer is a running `brokerd serve`.
type brokerdServer struct {
	*proc
	url   string
	admin string // the admin listener (GET /metrics)
}

func startBrokerd(ctx context.Context, bin string, env []string, dir string) (*brokerdServer, error) {
	lines := make(chan string, 64)
	p, err := startProc("brokerd", bin, []string{"serve"}, append(env, "BROKER_LISTEN_ADDR=127.0.0.1:0", "BROKER_ADMIN_ADDR=127.0.0.1:0"),
		filepath.Join(dir, "brokerd.log"), lines)
	if err != nil {
		return nil, err
	}
	deadline := time.After(readyTimeout)
	for {
		select {
		case line := <-lines:
			var m struct {
				Message string `json:"message"`
				Addr    string `json:"addr"`
				Admin   string `json:"admin_addr"`
			}
			if json.Unmarshal([]byte(line), &m) == nil && m.Message == "listening" && m.Addr != "" {
				return &brokerdServer{proc: p, url: "http://" + m.Addr, admin: "http://" + m.Admin}, nil
			}
		case <-p.done:
			return nil, fmt.Errorf("brokerd exited: %v (see %s)", p.err, filepath.Join(dir, "brokerd.log"))
		case <-deadline:
			p.stop()
			return nil, errors.New("brokerd did not log \"listening\"")
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		}
	}
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// resetPeakRSS starts a new VmHWM window (Linux: "5" > clear_refs).
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// cpuTime returns the CPU time (user + system) the process has used, from
// /proc/<pid>/stat (clock ticks of 1/100 s).
func cpuTime(pid int) (time.Duration, error) {
	u, k, err := cpuTimes(pid)
	return u + k, err
}

// cpuTimes is a process's user and kernel CPU time (/proc/<pid>/stat).
func cpuTimes(pid int) (user, kernel time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("malformed /proc stat")
	}
	return time.Duration(ut) * 10 * time.Millisecond, time.Duration(st) * 10 * time.Millisecond, nil
}

// syscalls is the number of read and write system calls a process has made
// (syscr + syscw of /proc/<pid>/io; 0 where that is not readable).
func syscalls(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	var n uint64
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok && (k == "syscr" || k == "syscw") {
			x, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			n += x
		}
	}
	return n
}
