//go:build reliability

package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// verifyAcked reads every acknowledged write back after the fault: the
// acknowledged version exists with the fingerprint the broker answered, and
// where it is still the current version, its plaintext (provisioned into a
// sandbox bundle and unwrapped) is the value that was sent. It returns how
// many acknowledged writes are lost.
func verifyAcked(t *testing.T, a *api, vaultAddr string, acks []ack) int {
	t.Helper()
	lost := 0
	current := map[string][]ack{} // by user key
	for _, k := range acks {
		r := a.do(k.User.Key, "GET", "/api/v1/user/secrets/"+k.ID+"/versions", nil)
		var vl struct {
			Versions []struct {
				Version     int    `json:"version"`
				Fingerprint string `json:"fingerprint"`
				Current     bool   `json:"current"`
				Destroyed   bool   `json:"destroyed"`
			} `json:"versions"`
		}
		if r.Status != 200 || r.decode(&vl) != nil {
			lost++
			t.Errorf("acknowledged secret %s (%s v%d) does not read back: %s", k.ID, k.Name, k.Version, r)
			continue
		}
		found := false
		for _, v := range vl.Versions {
			if v.Version == k.Version && v.Fingerprint == k.Fingerprint && !v.Destroyed {
				found = true
				if v.Current {
					current[k.User.Key] = append(current[k.User.Key], k)
				}
			}
		}
		if !found {
			lost++
			t.Errorf("acknowledged version %d of %s (%s) is missing or differs", k.Version, k.ID, k.Name)
		}
	}
	// Plaintext read back through the real provisioning path.
	checked := 0
	for _, list := range current {
		for i := 0; i < len(list); i += 100 {
			chunk := list[i:min(i+100, len(list))]
			env, err := provisionEnv(a, vaultAddr, chunk)
			if err != nil {
				t.Errorf("read back %d secrets by provisioning: %v", len(chunk), err)
				lost += len(chunk)
				continue
			}
			for _, k := range chunk {
				checked++
				if env[k.Name] != k.Value {
					lost++
					t.Errorf("acknowledged value of %s (v%d) does not read back", k.Name, k.Version)
				}
			}
		}
	}
	t.Logf("read back %d acknowledged writes (%d plaintexts through a sandbox bundle): %d lost", len(acks), checked, lost)
	return lost
}

// provisionEnv provisions a runtime with the acks' secrets, unwraps its
// bootstrap token at Vault and returns the env it carries.
func provisionEnv(a *api, vaultAddr string, chunk []ack) (map[string]string, error) {
	ids := make([]string, len(chunk))
	for i, k := range chunk {
		ids[i] = k.ID
	}
	key := chunk[0].User.Key
	r := a.do(key, "POST", "/api/v1/runtimes", map[string]any{"project_id": "readback", "secret_ids": ids})
	var rt struct {
		ID      string `json:"id"`
		Sandbox struct {
			Bootstrap struct {
				Token string `json:"token"`
			} `json:"bootstrap"`
		} `json:"sandbox"`
	}
	if r.Status != 201 || r.decode(&rt) != nil || rt.Sandbox.Bootstrap.Token == "" {
		return nil, fmt.Errorf("provision: %s", r)
	}
	defer a.do(key, "DELETE", "/api/v1/runtimes/"+rt.ID, nil)
	req, _ := http.NewRequest("POST", vaultAddr+"/v1/sys/wrapping/unwrap", bytes.NewReader([]byte("{}")))
	req.Header.Set("X-Vault-Token", rt.Sandbox.Bootstrap.Token)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			Data map[string]string `json:"data"`
		} `json:"data"`
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("unwrap: status %d", res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("unwrap: %w", err)
	}
	return out.Data.Data, nil
}

// probe is one /readyz answer.
type probe struct {
	At     time.Time
	Code   int    // 0: no answer
	Status string // ready, degraded, unavailable
	Redis  string // the redis check's status
}

// readyWatch polls /readyz every 100 ms until stopped.
type readyWatch struct {
	mu     sync.Mutex
	probes []probe
	stopc  chan struct{}
	done   chan struct{}
}

func watchReady(a *api) *readyWatch {
	w := &readyWatch{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			r := a.do("", "GET", "/readyz", nil)
			p := probe{At: time.Now(), Code: r.Status}
			var body struct {
				Status string                       `json:"status"`
				Checks map[string]map[string]string `json:"checks"`
			}
			if r.decode(&body) == nil {
				p.Status = body.Status
				p.Redis = body.Checks["redis"]["status"]
			}
			w.mu.Lock()
			w.probes = append(w.probes, p)
			w.mu.Unlock()
			select {
			case <-w.stopc:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *readyWatch) stop() {
	close(w.stopc)
	<-w.done
}

// seen reports whether a probe in [from, to) matched.
func (w *readyWatch) seen(from, to time.Time, match func(probe) bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.probes {
		if !p.At.Before(from) && p.At.Before(to) && match(p) {
			return true
		}
	}
	return false
}

// waitUntil polls cond every 50 ms until it holds (returns how long it took)
// or the deadline passes (fails the test).
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}
