//go:build reliability

package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

// reqTimeout is BROKER_REQUEST_TIMEOUT of the fault scenarios: no answer may
// take longer than this plus latencyMargin.
const (
	reqTimeout    = 5 * time.Second
	latencyMargin = 3 * time.Second
	nameGrace     = 6 * time.Second // BROKER_NAME_GRACE, at least reqTimeout
)

// stack is one scenario's world: a Raft Vault configured by `brokerd setup`
// (with a file audit device), a Redis, and brokerd processes.
type stack struct {
	t            *testing.T
	dir          string
	vault        *testenv.Vault
	redis        *testenv.Redis
	roleIDFile   string
	secretIDFile string
	auditFile    string
	brokers      []*brokerd
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, dir: t.TempDir()}
	s.vault = testenv.StartVaultRaft(t)
	s.redis = testenv.StartRedis(t)
	s.roleIDFile = filepath.Join(s.dir, "role_id")
	s.secretIDFile = filepath.Join(s.dir, "secret_id")
	s.auditFile = filepath.Join(s.dir, "vault-audit.log")
	cmd := exec.Command(brokerdBin, "setup", "--role-id-file", s.roleIDFile, "--secret-id-file", s.secretIDFile,
		"--audit-file", s.auditFile)
	cmd.Env = []string{"VAULT_ADDR=" + s.vault.Addr, "VAULT_TOKEN=" + s.vault.Token, "PATH=" + os.Getenv("PATH")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("brokerd setup: %v\n%s", err, out)
	}
	t.Cleanup(s.checkLeaks) // registered after the servers: runs before they stop
	return s
}

// brokerd is one brokerd serve process.
type brokerd struct {
	URL      string
	AdminURL string // the admin listener (GET /metrics)
	logPath  string
	cmd      *exec.Cmd
	done     chan struct{}
}

// env is the environment of a broker of this stack, plus extra.
func (s *stack) env(extra map[string]string) []string {
	m := map[string]string{
		"PATH":                        os.Getenv("PATH"),
		"VAULT_ADDR":                  s.vault.Addr,
		"BROKER_VAULT_ROLE_ID_FILE":   s.roleIDFile,
		"BROKER_VAULT_SECRET_ID_FILE": s.secretIDFile,
		"REDIS_URL":                   s.redis.URL,
		"BROKER_LISTEN_ADDR":          "127.0.0.1:0",
		"BROKER_ADMIN_ADDR":           "127.0.0.1:0",
		"BROKER_LOG_LEVEL":            "info",
		"BROKER_REQUEST_TIMEOUT":      reqTimeout.String(),
		"BROKER_NAME_GRACE":           nameGrace.String(),
		"BROKER_RATE_PER_MINUTE":      "1000000",
		"BROKER_RATE_BURST":           "100000",
	}
	for k, v := range extra {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// startBroker runs `brokerd serve` as a child process and waits until it listens.
func (s *stack) startBroker(extra map[string]string) *brokerd {
	t := s.t
	t.Helper()
	b := &brokerd{logPath: filepath.Join(s.dir, fmt.Sprintf("brokerd-%d.log", len(s.brokers))), done: make(chan struct{})}
	f, err := os.Create(b.logPath)
	if err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command(brokerdBin, "serve")
	b.cmd.Env = s.env(extra)
	b.cmd.Stdout, b.cmd.Stderr = f, f
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); f.Close(); close(b.done) }()
	s.brokers = append(s.brokers, b)
	t.Cleanup(b.stop)
	deadline := time.Now().Add(30 * time.Second)
	for b.URL == "" {
		select {
		case <-b.done:
			t.Fatalf("brokerd exited while starting:\n%s", b.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("brokerd did not listen within 30s:\n%s", b.logs())
		}
		time.Sleep(20 * time.Millisecond)
		b.URL, b.AdminURL = testenv.ListenURLs(b.logs())
	}
	return b
}

func (b *brokerd) logs() string {
	data, _ := os.ReadFile(b.logPath)
	return string(data)
}

func (b *brokerd) pid() int { return b.cmd.Process.Pid }

// kill sends SIGKILL and waits for the process to be gone.
func (b *brokerd) kill() {
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
}

// stop sends SIGTERM and waits (then SIGKILL). Safe to call twice.
func (b *brokerd) stop() {
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(15 * time.Second):
		b.kill()
	}
}

// user is an API user of the broker.
type user struct {
	ID  string
	Key string
}

// users issues n API keys straight into Vault with the root token (as
// `brokerctl apikeys create` does).
func (s *stack) users(prefix string, n int) []user {
	s.t.Helper()
	vc, err := vaultx.New(context.Background(), vaultx.Config{Addr: s.vault.Addr, Token: s.vault.Token}, zerolog.Nop())
	if err != nil {
		s.t.Fatal(err)
	}
	defer vc.Close()
	out := make([]user, n)
	for i := range out {
		id := fmt.Sprintf("%s-%d-%s", prefix, i, randHex(4))
		key, _, err := broker.CreateAPIKey(context.Background(), vc, id, "reliability", time.Now())
		if err != nil {
			s.t.Fatal(err)
		}
		planted.add(key)
		out[i] = user{ID: id, Key: key}
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// planted is every secret value and API key the tests sent: none may show up
// in a broker log, in Redis or in Vault's audit log.
var planted = &registry{m: map[string]bool{}}

type registry struct {
	mu sync.Mutex
	m  map[string]bool
}

func (r *registry) add(v string) {
	r.mu.Lock()
	r.m[v] = true
	r.mu.Unlock()
}

func (r *registry) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.m))
	for v := range r.m {
		out = append(out, v)
	}
	return out
}

// leaks returns how many planted values occur in text (verbatim or base64),
// and one of them (truncated). It indexes every form of every value by its
// first three bytes and checks only where such a prefix occurs, so it stays
// linear in the size of text with thousands of planted values.
func leaks(text []byte) (int, string) {
	forms := map[string]string{}         // encoded form -> value
	lengths := map[string]map[int]bool{} // 3-byte prefix -> lengths of forms
	for _, v := range planted.list() {
		for _, f := range testenv.Encodings(v) {
			if len(f) < 3 {
				continue
			}
			forms[f] = v
			if lengths[f[:3]] == nil {
				lengths[f[:3]] = map[int]bool{}
			}
			lengths[f[:3]][len(f)] = true
		}
	}
	found := map[string]bool{}
	first := ""
	for prefix, ls := range lengths {
		p := []byte(prefix)
		for off := 0; ; {
			i := bytes.Index(text[off:], p)
			if i < 0 {
				break
			}
			at := off + i
			for l := range ls {
				if at+l <= len(text) {
					if v, ok := forms[string(text[at:at+l])]; ok && !found[v] {
						found[v] = true
						if first == "" {
							first = fmt.Sprintf("%.10s...", v)
						}
					}
				}
			}
			off = at + 1
		}
	}
	return len(found), first
}

// checkLeaks scans every broker log, Vault's audit log and Redis for planted values.
func (s *stack) checkLeaks() {
	t := s.t
	for i, b := range s.brokers {
		if n, v := leaks([]byte(b.logs())); n > 0 {
			t.Errorf("LEAK: brokerd %d log holds %d planted values (%s)", i, n, v)
		}
	}
	audit, err := os.ReadFile(s.auditFile)
	if err != nil || len(audit) == 0 {
		t.Errorf("no Vault audit log at %s: %v", s.auditFile, err)
	} else if n, v := leaks(audit); n > 0 {
		t.Errorf("LEAK: Vault's audit log holds %d planted values (%s)", n, v)
	}
	dump, keys, err := testenv.DumpRedis(s.redis.Addr)
	if err != nil {
		// Every scenario that stops Redis starts it again: an unreadable
		// Redis here means the leak check did not run, which is a failure.
		t.Errorf("leak check: Redis not readable, so not checked: %v", err)
		return
	}
	if n, v := leaks([]byte(dump)); n > 0 {
		t.Errorf("LEAK: Redis (%d keys) holds %d planted values (%s)", keys, n, v)
	}
}
