package scripts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// freePorts returns n consecutive loopback ports that were free a moment ago, below the
// kernel's ephemeral range (Vault's dev server also listens on its port + 1).
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		base := 20000 + rand.IntN(12000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free loopback ports")
	return 0
}

// devEnv is the test's environment without settings that would leak into make dev's servers
// (or a parent make's jobserver), plus env.
func devEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "BROKER_") || strings.HasPrefix(k, "VAULT_") || k == "REDIS_URL" ||
			k == "MAKEFLAGS" || k == "MFLAGS" || k == "MAKELEVEL" || k == "PERSIST" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, env...)
}

var exportLine = regexp.MustCompile(`^export BROKER_URL=(\S+) BROKER_API_KEY=(\S+)$`)

// make dev (scripts/dev.sh) with a real Vault and Redis: it prints the export line the README
// promises, the key works against the API, Vault's file audit device in the dev folder gets
// the requests, and Ctrl-C (SIGINT to the whole process group, as a terminal sends it) is a
// clean stop: exit 0, no "exited" complaint, no process of the group left.
func TestDevScript(t *testing.T) {
	vault, err := testenv.FindVault(t)
	if err != nil {
		if testenv.RequireIntegration() {
			t.Fatalf("%v (BROKER_REQUIRE_INTEGRATION=1, so this is a failure)", err)
		}
		t.Skipf("%v; skipping (set BROKER_REQUIRE_INTEGRATION=1 to fail instead)", err)
	}
	dev := t.TempDir()
	vaultPort, redisPort, brokerPort := freePorts(t, 2), freePorts(t, 1), freePorts(t, 1)
	cmd := exec.Command("bash", "dev.sh")
	cmd.Env = devEnv("VAULT_BIN="+vault, "DEV_DIR="+dev, "READY_SECONDS=120",
		fmt.Sprintf("VAULT_PORT=%d", vaultPort), fmt.Sprintf("REDIS_PORT=%d", redisPort),
		fmt.Sprintf("BROKER_LISTEN_ADDR=127.0.0.1:%d", brokerPort))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testenv.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // whatever is left if the test failed midway
		<-done
	})
	var out testenv.SyncBuffer
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()

	var url, key string
	deadline := time.After(4 * time.Minute) // includes make build on a cold build cache
	for url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("dev.sh ended without the export line\nstdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
			}
			if m := exportLine.FindStringSubmatch(l); m != nil {
				url, key = m[1], m[2]
			}
		case <-deadline:
			t.Fatalf("no export line after 4 minutes\nstdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
		}
	}
	go func() { // keep draining stdout
		for range lines {
		}
	}()
	if want := fmt.Sprintf("http://127.0.0.1:%d", brokerPort); url != want {
		t.Errorf("BROKER_URL=%s, want %s", url, want)
	}
	if !strings.HasPrefix(key, "sbk_") {
		t.Errorf("BROKER_API_KEY does not look like an API key: %q", key)
	}
	if !strings.Contains(out.String(), "brokerctl") {
		t.Errorf("make dev does not mention brokerctl:\n%s", out.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/user/secrets", nil)
	req.Header.Set("X-API-Key", key)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/user/secrets with the printed key: %d %s", resp.StatusCode, body)
	}

	audit := filepath.Join(dev, "vault-audit.log")
	if !strings.Contains(out.String(), audit) {
		t.Errorf("make dev does not print where the audit log is (%s):\n%s", audit, out.String())
	}
	b, err := os.ReadFile(audit)
	if err != nil || strings.Count(string(b), "\n") == 0 {
		t.Fatalf("Vault's audit log %s has no lines after requests: %v", audit, err)
	}
	if strings.Contains(string(b), key) {
		t.Error("the audit log holds the API key in clear")
	}

	// Ctrl-C: the terminal sends SIGINT to every process of the foreground group.
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var werr error
	select {
	case werr = <-done:
		done <- werr // for the cleanup
	case <-time.After(60 * time.Second):
		t.Fatalf("dev.sh still running 60 s after SIGINT\nstderr:\n%s", stderr.String())
	}
	if werr != nil {
		t.Errorf("dev.sh after Ctrl-C: %v, want exit 0\nstderr:\n%s", werr, stderr.String())
	}
	if strings.Contains(stderr.String(), "exited") {
		t.Errorf("Ctrl-C reported as a failure:\n%s", stderr.String())
	}
	gone := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(gone) {
			ps, _ := exec.Command("pgrep", "-a", "-g", fmt.Sprint(pgid)).CombinedOutput()
			t.Fatalf("processes of make dev still running after it exited:\n%s", ps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
