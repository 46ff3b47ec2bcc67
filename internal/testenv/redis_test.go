package testenv_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// redisCmd sends one command in RESP and returns the first reply line.
func redisCmd(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(line, "$") && line != "$-1\r\n" { // bulk string: value on the next line
		line, err = r.ReadString('\n')
	}
	return strings.TrimRight(line, "\r\n"), err
}

func TestRedis(t *testing.T) {
	r := testenv.StartRedis(t)
	if r.URL != "redis://"+r.Addr+"/0" || !strings.HasPrefix(r.Addr, "127.0.0.1:") {
		t.Fatalf("unexpected Redis: addr %q url %q", r.Addr, r.URL)
	}
	if got, err := redisCmd(r.Addr, "PING"); err != nil || got != "+PONG" {
		t.Fatalf("PING: %q %v", got, err)
	}
	if got, _ := redisCmd(r.Addr, "CONFIG", "GET", "save"); got != "*2" {
		t.Fatalf("CONFIG GET save: %q", got)
	}
	if _, err := redisCmd(r.Addr, "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if got, _ := redisCmd(r.Addr, "GET", "k"); got != "v" {
		t.Fatalf("GET k: %q", got)
	}

	addr := r.Addr
	r.Stop(t)
	if _, err := redisCmd(r.Addr, "PING"); err == nil {
		t.Fatal("Redis still answers after Stop")
	}
	r.Start(t)
	if r.Addr != addr {
		t.Fatalf("restart changed address: %s -> %s", addr, r.Addr)
	}
	if got, err := redisCmd(r.Addr, "PING"); err != nil || got != "+PONG" {
		t.Fatalf("PING after restart: %q %v", got, err)
	}
	if got, _ := redisCmd(r.Addr, "GET", "k"); got != "$-1" {
		t.Fatalf("restarted Redis kept data (no persistence expected): %q", got)
	}
}
