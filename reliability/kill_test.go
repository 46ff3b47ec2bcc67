//go:build reliability

package reliability

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// TestBrokerKilled: brokerd SIGKILLed in the middle of creates under load.
// After a restart every name a create was sent for is either one complete
// secret or free to create again (an orphaned name reservation is taken over
// after BROKER_NAME_GRACE); no name has two secrets; every acknowledged
// create reads back.
func TestBrokerKilled(t *testing.T) {
	r := &row{Scenario: "brokerd SIGKILLed mid-create"}
	report(t, r)
	s := newStack(t)
	var cur atomic.Pointer[brokerd]
	cur.Store(s.startBroker(nil))
	a := newAPI(func() string { return cur.Load().URL }, reqTimeout+latencyMargin+5*time.Second, 32)
	users := s.users("kill", 12)
	ld := newLoad(a, users, createMix, 0)
	ld.start()
	time.Sleep(2500 * time.Millisecond)
	killed := time.Now()
	cur.Load().kill()
	ld.stop()
	all := ld.snapshot()
	r.Requests = len(all)
	cut := 0
	for _, x := range all {
		if x.A.Err != nil {
			cut++
		} else if !x.A.ok() {
			t.Errorf("before the kill: %s %s", x.Op, x.A)
		}
		r.MaxLatency = max(r.MaxLatency, x.latency())
	}
	r.FaultErrors = cut
	cur.Store(s.startBroker(nil))
	restarted := time.Now()

	root := rootClient(t, s)
	orphansAtRestart := 0
	for _, u := range users {
		orphansAtRestart += len(orphanNames(t, root, u))
	}
	attempted := ld.attempted()
	// Every attempted name: listed once, or created again (within the grace).
	recreated := 0
	for name, u := range attempted {
		if listCount(t, a, u)[name] > 0 {
			continue
		}
		deadline := restarted.Add(nameGrace + 10*time.Second)
		for {
			res := a.do(u.Key, "POST", "/api/v1/user/secrets", map[string]any{"name": name, "value": newValue()})
			if res.Status == 201 {
				recreated++
				break
			}
			if res.Status != 409 || time.Now().After(deadline) {
				t.Errorf("name %s after the restart: create answers %s", name, res)
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	r.Recovery = time.Since(restarted)
	for _, u := range users {
		for name, n := range listCount(t, a, u) {
			if n != 1 {
				t.Errorf("name %s has %d secrets", name, n)
			}
			if _, ok := attempted[name]; !ok {
				t.Errorf("unexpected secret %s", name)
			}
		}
		if o := orphanNames(t, root, u); len(o) > 0 {
			t.Errorf("orphaned name reservations remain for %s: %v", u.ID, o)
		}
	}
	for name, u := range attempted {
		if listCount(t, a, u)[name] != 1 {
			t.Errorf("name %s is neither a secret nor creatable", name)
		}
	}
	r.Lost = verifyAcked(t, a, s.vault.Addr, ld.ackList())
	r.Note = fmt.Sprintf("%d names tried, %d cut by the kill, %d orphaned reservations at restart, %d names created again (grace %s); restart took %s",
		len(attempted), cut, orphansAtRestart, recreated, nameGrace, restarted.Sub(killed).Round(time.Millisecond))
	t.Log(r.Note)
}

// listCount lists u's secrets and counts them by name.
func listCount(t *testing.T, a *api, u user) map[string]int {
	t.Helper()
	res := a.do(u.Key, "GET", "/api/v1/user/secrets", nil)
	var l struct {
		Secrets []struct {
			Name string `json:"name"`
		} `json:"secrets"`
	}
	if res.Status != 200 || res.decode(&l) != nil {
		t.Fatalf("list: %s", res)
	}
	out := map[string]int{}
	for _, s := range l.Secrets {
		out[s.Name]++
	}
	return out
}

func rootClient(t *testing.T, s *stack) *vaultapi.Client {
	t.Helper()
	vc, err := vaultapi.NewClient(&vaultapi.Config{Address: s.vault.Addr, HttpClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken(s.vault.Token)
	return vc
}

// orphanNames returns u's name index entries whose secret does not exist.
func orphanNames(t *testing.T, root *vaultapi.Client, u user) []string {
	t.Helper()
	l, err := root.Logical().List("broker/metadata/users/" + u.ID + "/names/")
	if err != nil {
		t.Fatal(err)
	}
	if l == nil {
		return nil
	}
	var out []string
	keys, _ := l.Data["keys"].([]any)
	for _, k := range keys {
		name := fmt.Sprint(k)
		d, err := root.Logical().Read("broker/data/users/" + u.ID + "/names/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil || d.Data["data"] == nil {
			continue // released (deleted version)
		}
		id := fmt.Sprint(d.Data["data"].(map[string]any)["secret_id"])
		m, err := root.Logical().Read("broker/metadata/users/" + u.ID + "/secrets/" + id)
		if err != nil {
			t.Fatal(err)
		}
		if m == nil || strings.TrimSpace(fmt.Sprint(m.Data["current_version"])) == "0" {
			out = append(out, name)
		}
	}
	return out
}
