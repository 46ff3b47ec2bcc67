package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Redis is a running redis-server for tests, without persistence.
type Redis struct {
	Addr string // 127.0.0.1:port
	URL  string // redis://127.0.0.1:port/0

	bin     string // empty when running in a container
	dir     string
	logPath string
	port    int
	extra   []string // more redis-server arguments (a replica's --replicaof)
	p       *proc
	ctr     *container
}

// StartRedis starts redis-server on a free loopback port and stops it when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return startRedis(t)
}

func startRedis(t tb) *Redis {
	t.Helper()
	r := &Redis{dir: t.TempDir()}
	r.logPath = filepath.Join(r.dir, "redis.log")
	bin, err := findRedis()
	if err != nil {
		if derr := dockerAvailable(); derr != nil {
			unavailable(t, "%v, and no Docker engine for testcontainers (%v)", err, derr)
			return nil
		}
		t.Logf("testenv: %v; using container %s", err, redisImage)
	}
	r.bin = bin
	t.Cleanup(func() { r.cleanup(t) })
	start := time.Now()
	for attempt := 1; ; attempt++ {
		if r.bin != "" {
			if r.port, err = freePort(); err != nil {
				break
			}
			r.setAddr("127.0.0.1", r.port)
		}
		err = r.boot()
		if err == nil || !errors.Is(err, errExited) || attempt == 3 || r.bin == "" {
			break
		}
		t.Logf("testenv: redis-server exited while starting (attempt %d), retrying on another port", attempt)
	}
	if err != nil {
		t.Fatalf("testenv: start redis-server: %v\n--- %s (tail) ---\n%s", err, r.logPath, logTail(r.logPath))
	}
	t.Logf("testenv: Redis ready at %s in %s", r.Addr, time.Since(start).Round(time.Millisecond))
	report("redis", r.bin)
	return r
}

// LogPath is the file holding the server's output.
func (r *Redis) LogPath() string { return r.logPath }

// Stop stops the server (SIGTERM, then SIGKILL after a deadline). Its address stays
// reserved for Start.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	r.halt()
}

// Start starts a stopped server again on the same address, empty.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if !r.exited() {
		t.Fatalf("testenv: Redis.Start: already running")
	}
	if err := r.boot(); err != nil {
		t.Fatalf("testenv: restart redis-server: %v\n--- %s (tail) ---\n%s", err, r.logPath, logTail(r.logPath))
	}
}

func (r *Redis) setAddr(host string, port int) {
	r.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	r.URL = "redis://" + r.Addr + "/0"
}

func (r *Redis) boot() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if r.bin == "" {
		if err := r.launchContainer(ctx); err != nil {
			return err
		}
	} else {
		args := []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", r.dir}
		args = append(args, r.extra...)
		p, err := startProc(r.bin, args, nil, r.dir, r.logPath)
		if err != nil {
			return err
		}
		r.p = p
	}
	return r.waitPing(ctx)
}

// waitPing sends PING until the server answers PONG.
func (r *Redis) waitPing(ctx context.Context) error {
	last := "no answer yet"
	for {
		err := ping(ctx, r.Addr)
		if err == nil {
			return nil
		}
		last = err.Error()
		if r.exited() {
			return fmt.Errorf("%w (%s)", errExited, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis at %s not ready in time: %s", r.Addr, last)
		case <-time.After(pollInterval):
		}
	}
}

// ping speaks just enough RESP to send PING and read +PONG.
func ping(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func (r *Redis) halt() {
	if r.ctr != nil {
		r.ctr.stop()
		return
	}
	if r.p != nil {
		r.p.stop()
	}
}

func (r *Redis) exited() bool {
	if r.ctr != nil {
		return !r.ctr.running
	}
	return r.p == nil || r.p.exited()
}

func (r *Redis) cleanup(t tb) {
	if t.Failed() {
		t.Logf("testenv: redis log tail (%s):\n%s", r.logPath, logTail(r.logPath))
	}
	r.halt()
	if r.ctr != nil {
		r.ctr.terminate()
	}
}
