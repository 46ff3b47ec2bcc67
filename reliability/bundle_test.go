//go:build reliability

package reliability

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// bundleMaxAge is BROKER_BUNDLE_MAX_AGE of the bundle scenario (at least
// reqTimeout): the sweep runs at start and every half of it.
const bundleMaxAge = 2 * reqTimeout

// TestBrokerKilledMidEvaluation: brokerd SIGKILLed 0.6 s into a 500-item
// POST /evaluations leaves plaintext bundles under sandboxes/ (the write and
// the delete of a Wrap are separate Vault calls). After a restart, the
// start-up sweep destroys every bundle older than BROKER_BUNDLE_MAX_AGE, so
// nothing is left under sandboxes/ within the bound (max age + one sweep
// interval after the kill).
func TestBrokerKilledMidEvaluation(t *testing.T) {
	r := &row{Scenario: "brokerd SIGKILLed mid-evaluation (500 items)"}
	report(t, r)
	s := newStack(t)
	extra := map[string]string{"BROKER_BUNDLE_MAX_AGE": bundleMaxAge.String()}
	b := s.startBroker(extra)
	a := newAPI(func() string { return b.URL }, reqTimeout+latencyMargin+5*time.Second, 4)
	u := s.users("bundle", 1)[0]
	var ids []string
	for i := range 3 {
		res := a.do(u.Key, "POST", "/api/v1/user/secrets", map[string]any{"name": fmt.Sprintf("BUNDLE_%d", i), "value": newValue()})
		if res.Status != 201 {
			t.Fatalf("create: %s", res)
		}
		var sec struct{ ID string }
		_ = json.Unmarshal(res.Body, &sec)
		ids = append(ids, sec.ID)
	}
	items := make([]map[string]string, 500)
	for i := range items {
		items[i] = map[string]string{"name": fmt.Sprintf("item-%d", i)}
	}
	root := rootClient(t, s)
	listBundles := func() []any {
		t.Helper()
		sec, err := root.Logical().List("broker/metadata/sandboxes")
		if err != nil {
			t.Fatalf("list sandboxes/: %v", err)
		}
		if sec == nil {
			return nil
		}
		keys, _ := sec.Data["keys"].([]any)
		return keys
	}

	// Kill 0.6 s in; should no bundle be caught in between, try a little later.
	var left int
	var killed time.Time
	for _, delay := range []time.Duration{600 * time.Millisecond, 900 * time.Millisecond, 300 * time.Millisecond} {
		done := make(chan answer, 1)
		go func() {
			done <- a.do(u.Key, "POST", "/api/v1/evaluations", map[string]any{"project_id": "p", "secret_ids": ids, "items": items})
		}()
		time.Sleep(delay)
		b.kill()
		killed = time.Now()
		r.Requests++
		if res := <-done; res.Err != nil {
			r.FaultErrors++
		}
		left = len(listBundles())
		if left > 0 {
			r.Note = fmt.Sprintf("%d plaintext bundles left at the kill (%s in)", left, delay)
			break
		}
		b = s.startBroker(extra)
	}
	if left == 0 {
		t.Fatal("no bundle was left under sandboxes/ by any kill: the scenario proves nothing")
	}

	b = s.startBroker(extra)
	restarted := time.Now()
	deadline := killed.Add(bundleMaxAge + bundleMaxAge/2 + 5*time.Second)
	for {
		n := len(listBundles())
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bundles still under sandboxes/ %s after the kill (bound %s + one sweep interval)",
				n, time.Since(killed).Round(time.Millisecond), bundleMaxAge)
		}
		time.Sleep(250 * time.Millisecond)
	}
	r.Recovery = time.Since(restarted)
	r.Note += fmt.Sprintf("; none left %s after the kill (bound %s)", time.Since(killed).Round(100*time.Millisecond), bundleMaxAge)
	if res := a.do(u.Key, "GET", "/api/v1/user/secrets", nil); res.Status != 200 {
		t.Errorf("after the restart: %s", res)
	}
}
