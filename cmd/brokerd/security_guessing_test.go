package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/testenv"
)

// auditedKeyReads counts the requests to apikeys/ in a Vault file audit log.
func auditedKeyReads(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Type    string `json:"type"`
			Request struct {
				Path string `json:"path"`
			} `json:"request"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type == "request" && strings.Contains(e.Request.Path, "/apikeys/") {
			n++
		}
	}
	return n
}

func fileLen(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// guess sends n random API keys from this address, 8 at a time, and counts
// the answers by status.
func guess(t *testing.T, base string, n int) map[int]int {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second}
	var mu sync.Mutex
	counts := map[int]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				req, _ := http.NewRequest("GET", base+"/api/v1/user/secrets", nil)
				req.Header.Set("X-API-Key", "sbk_"+randHex(32))
				res, err := hc.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				counts[res.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts
}

// TestSecurityGuessingIsLimitedBeforeVault: the failed-authentication limit
// is checked before a key is looked up, so once an address is over it a
// guess costs no Vault read and no audit log; a correct key from that
// address is refused too (429 versus 200 would tell a guess's result); and
// with Redis down the limit still holds, per replica. It measures, for 2,000
// random keys from one address, the Vault reads per rejected guess and the
// audit bytes per guess (on a private Vault with a file audit device).
func TestSecurityGuessingIsLimitedBeforeVault(t *testing.T) {
	v := testenv.StartVault(t)
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	cfg := setupVault(t, v)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"setup", "--role-id-file", cfg.roleIDFile, "--secret-id-file", cfg.secretIDFile, "--audit-file", auditPath},
		mapEnv(map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": v.Token}), &out, &errb); err != nil {
		t.Fatalf("setup with an audit device: %v\n%s", err, errb.String())
	}
	b := startBroker(t, cfg, nil) // BROKER_AUTH_FAIL_PER_MINUTE 30 (burst 30)
	key := newAPIKey(t, v, "guess-victim-"+randHex(4))
	good := newClient(t, b.URL, key)
	if r := good.do("GET", "/api/v1/user/secrets", nil); r.Status != 200 {
		t.Fatalf("correct key before guessing: %d %s", r.Status, r.Body)
	}

	const n = 2000
	reads0, bytes0 := auditedKeyReads(t, auditPath), fileLen(t, auditPath)
	start := time.Now()
	counts := guess(t, b.URL, n)
	elapsed := time.Since(start)
	reads, grew := auditedKeyReads(t, auditPath)-reads0, fileLen(t, auditPath)-bytes0
	rejected := counts[http.StatusTooManyRequests]
	t.Logf("%d random keys in %s: %v; %d Vault key reads (%.4f per rejected guess), audit log +%d bytes (%.1f per guess)",
		n, elapsed.Round(time.Millisecond), counts, reads, float64(reads)/float64(max(rejected, 1)), grew, float64(grew)/n)
	// 30 failures fit the burst; the bucket refills one every 2s; the 8
	// concurrent guessers may each pass the check while the last failure
	// that fits is still being looked up.
	allowance := 30 + int(elapsed/(2*time.Second)) + 8
	if rejected < n-allowance || counts[http.StatusUnauthorized] > allowance {
		t.Errorf("answers %v: want at most %d guesses answered 401, the rest 429", counts, allowance)
	}
	if reads > allowance {
		t.Errorf("%d guesses made %d Vault key reads, want at most %d: rejected guesses must not reach Vault", n, reads, allowance)
	}
	if r := good.do("GET", "/api/v1/user/secrets", nil); r.Status != http.StatusTooManyRequests {
		t.Errorf("correct key from an address over the limit: %d, want 429 (no oracle)", r.Status)
	}

	t.Run("redis down", func(t *testing.T) {
		r := testenv.StartRedis(t)
		b := startBroker(t, cfg, map[string]string{"REDIS_URL": r.URL})
		r.Stop(t)
		counts := guess(t, b.URL, 40)
		if counts[http.StatusTooManyRequests] < 40-31 {
			t.Errorf("40 guesses with Redis down: %v, want the per-replica limit (429 after 30)", counts)
		}
	})
}
