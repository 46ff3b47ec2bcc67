package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Vault is a running Vault server for tests.
type Vault struct {
	Addr       string   // API address, e.g. http://127.0.0.1:43121 (what VAULT_ADDR expects)
	Token      string   // root token
	UnsealKeys []string // one key (threshold 1)

	raft        bool
	nodeID      string   // Raft node id (default "testenv")
	joins       []string // retry_join leader addresses (cluster members)
	host        string   // address the node listens on (default 127.0.0.1)
	netns       string   // network namespace the node runs in (default: the test's)
	bin         string   // binary; empty when running in a container
	dir         string   // temp dir: log, config, raft data
	logPath     string
	port        int
	clusterPort int
	p           *proc
	ctr         *container
	client      *http.Client
}

// readyTimeout bounds each wait for a server to answer.
const readyTimeout = 60 * time.Second

// StartVault starts a dev-mode Vault (in-memory, unsealed, random root token) and stops it
// when the test ends. A restarted dev server (Stop, Start) is empty again, with the same
// Addr and Token.
func StartVault(t testing.TB) *Vault {
	t.Helper()
	return startVault(t, false)
}

// StartVaultRaft starts a real Vault server with integrated Raft storage in a temp dir,
// initialised with one key share and unsealed. Its data survives Stop and Start; Start
// unseals it again.
func StartVaultRaft(t testing.TB) *Vault {
	t.Helper()
	return startVault(t, true)
}

func startVault(t tb, raft bool) *Vault {
	t.Helper()
	v := &Vault{raft: raft, dir: t.TempDir(), client: &http.Client{Timeout: 5 * time.Second}}
	v.logPath = filepath.Join(v.dir, "vault.log")
	if !raft {
		v.Token = "root-" + randomHex(12)
	}
	bin, err := findVault(t)
	if err != nil {
		if derr := dockerAvailable(); derr != nil {
			unavailable(t, "no Vault server binary (%v) and no Docker engine for testcontainers (%v)", err, derr)
			return nil
		}
		t.Logf("testenv: %v; using container %s", err, vaultImage)
	}
	v.bin = bin
	t.Cleanup(func() { v.cleanup(t) })
	start := time.Now()
	for attempt := 1; ; attempt++ {
		if err = v.pickPorts(); err == nil {
			err = v.boot(true)
		}
		// A port taken between reservation and bind makes the server exit: try another.
		if err == nil || !errors.Is(err, errExited) || attempt == 3 || v.bin == "" {
			break
		}
		t.Logf("testenv: Vault exited while starting (attempt %d), retrying on another port", attempt)
	}
	if err != nil {
		t.Fatalf("testenv: start Vault: %v\n--- %s (tail) ---\n%s", err, v.logPath, logTail(v.logPath))
	}
	t.Logf("testenv: Vault (%s) ready at %s in %s", v.mode(), v.Addr, time.Since(start).Round(time.Millisecond))
	report("vault", strings.ReplaceAll(v.mode(), ", ", "+")+" "+v.bin)
	return v
}

// LogPath is the file holding the server's stdout and stderr (all runs, appended).
func (v *Vault) LogPath() string { return v.logPath }

// Stop stops the server (SIGTERM, then SIGKILL after a deadline). Its address stays
// reserved for Start.
func (v *Vault) Stop(t testing.TB) {
	t.Helper()
	v.halt()
}

// Start starts a stopped server again on the same address: a fresh dev server with the
// same root token, or the Raft server with its data, unsealed.
func (v *Vault) Start(t testing.TB) {
	t.Helper()
	if v.running() {
		t.Fatalf("testenv: Vault.Start: already running")
	}
	if err := v.boot(false); err != nil {
		t.Fatalf("testenv: restart Vault: %v\n--- %s (tail) ---\n%s", err, v.logPath, logTail(v.logPath))
	}
}

func (v *Vault) mode() string {
	m := "dev"
	if v.raft {
		m = "raft"
	}
	if v.ctr != nil {
		m += ", container"
	}
	return m
}

func (v *Vault) pickPorts() error {
	if v.bin == "" {
		return nil // the container runtime maps ports
	}
	var err error
	if v.netns != "" { // a namespace of its own: the standard ports are free
		v.port, v.clusterPort = 8200, 8201
		v.Addr = fmt.Sprintf("http://%s:%d", v.host, v.port)
		return nil
	}
	if v.port, err = freePort(); err != nil {
		return err
	}
	if v.raft {
		v.clusterPort, err = freePort()
	}
	v.Addr = fmt.Sprintf("http://127.0.0.1:%d", v.port)
	return err
}

// boot launches the server and brings it to active and unsealed.
func (v *Vault) boot(first bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	offset := fileSize(v.logPath)
	if err := v.launch(ctx); err != nil {
		return err
	}
	if !v.raft {
		if err := v.waitHealth(ctx, http.StatusOK); err != nil {
			return err
		}
		key, err := v.awaitDevUnsealKey(ctx, offset)
		if err != nil {
			return err
		}
		v.UnsealKeys = []string{key}
		return nil
	}
	if err := v.waitHealth(ctx, 0); err != nil {
		return err
	}
	if first {
		if err := v.initialize(ctx); err != nil {
			return err
		}
	}
	return v.unseal(ctx)
}

func (v *Vault) running() bool {
	if v.ctr != nil {
		return v.ctr.running
	}
	return v.p != nil && !v.p.exited()
}

func (v *Vault) launch(ctx context.Context) error {
	if v.bin == "" {
		return v.launchContainer(ctx)
	}
	args, err := v.args()
	if err != nil {
		return err
	}
	env := []string{"HOME=" + v.dir} // dev mode writes ~/.vault-token
	if v.netns != "" {
		v.p, err = startProc("ip", append([]string{"netns", "exec", v.netns, v.bin}, args...), env, v.dir, v.logPath)
		return err
	}
	v.p, err = startProc(v.bin, args, env, v.dir, v.logPath)
	return err
}

func (v *Vault) halt() {
	if v.ctr != nil {
		v.ctr.stop()
		return
	}
	if v.p != nil {
		v.p.stop()
	}
}

func (v *Vault) exited() bool {
	if v.ctr != nil {
		return !v.ctr.running
	}
	return v.p == nil || v.p.exited()
}

func (v *Vault) cleanup(t tb) {
	if t.Failed() && v.logPath != "" {
		t.Logf("testenv: Vault log tail (%s):\n%s", v.logPath, logTail(v.logPath))
	}
	v.halt()
	if v.ctr != nil {
		v.ctr.terminate()
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
