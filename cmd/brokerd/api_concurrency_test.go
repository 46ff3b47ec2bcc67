package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/acme/secretsbroker/vaultx"
)

// TestAPIConcurrentCreates: 20 concurrent creates of one name (through two
// replicas) give exactly one 201 and 19 409s, and one secret.
func TestAPIConcurrentCreates(t *testing.T) {
	e := newAPIEnv(t)
	b1, b2 := e.broker(true, nil), e.broker(true, nil)
	user, key := e.user("race")
	c1, c2 := e.client(b1, key), e.client(b2, key)
	const n = 20
	statuses := make([]int, n)
	bodies := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		c := c1
		if i%2 == 1 {
			c = c2
		}
		v := value("sk-race")
		wg.Go(func() {
			<-start
			r, err := c.try("POST", "/api/v1/user/secrets", map[string]any{"name": "RACED", "value": v})
			statuses[i], bodies[i], errs[i] = r.Status, r.Body, err
		})
	}
	close(start)
	wg.Wait()
	created, conflicts := 0, 0
	var id string
	for i := range n {
		if errs[i] != nil {
			t.Errorf("request %d: %v", i, errs[i])
		}
		switch statuses[i] {
		case 201:
			created++
			var s struct{ ID string }
			json.Unmarshal(bodies[i], &s)
			id = s.ID
		case 409:
			conflicts++
			checkEnvelope(t, response{Status: 409, Body: bodies[i]}, 409, "conflict")
		default:
			t.Errorf("request %d: %d %s", i, statuses[i], bodies[i])
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Fatalf("%d created, %d conflicts; want 1 and %d", created, conflicts, n-1)
	}
	l := decodeObj(t, c2.do("GET", "/api/v1/user/secrets", nil))
	if num(t, l, "total") != 1 || arr(t, l, "secrets")[0].(map[string]any)["id"] != id {
		t.Fatalf("list after the race: %v (winner %s)", l, id)
	}
	kv := kvTree(t, e.root, user)
	if got := countSubstr(kv, "/secrets/"); got != 1 {
		t.Fatalf("%d secrets under the user's KV path, want 1:\n%s", got, kv)
	}
}

// TestAPIConcurrentRotates: 20 concurrent rotates of one secret (through two
// replicas): every successful rotate is its own version, none is lost.
func TestAPIConcurrentRotates(t *testing.T) {
	e := newAPIEnv(t)
	b1, b2 := e.broker(true, nil), e.broker(true, nil)
	_, key := e.user("rot")
	c1, c2 := e.client(b1, key), e.client(b2, key)
	r := c1.do("POST", "/api/v1/user/secrets", map[string]any{"name": "ROTATED", "value": value("sk-rot-initial")})
	wantStatus(t, r, 201)
	id := str(t, secretOf(t, r), "id")

	const n = 20
	type result struct {
		status  int
		version int
		fp      string
		err     error
		body    []byte
	}
	res := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		c := c1
		if i%2 == 1 {
			c = c2
		}
		v := value(fmt.Sprintf("sk-rot-%02d", i))
		wg.Go(func() {
			<-start
			r, err := c.try("PUT", "/api/v1/user/secrets/"+id, map[string]any{"value": v})
			var s struct {
				Version     int
				Fingerprint string
			}
			json.Unmarshal(r.Body, &s)
			res[i] = result{r.Status, s.Version, s.Fingerprint, err, r.Body}
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	versions := map[int]bool{}
	fps := map[string]int{} // fingerprint -> version
	for i, x := range res {
		if x.err != nil {
			t.Errorf("rotate %d: %v", i, x.err)
		}
		switch x.status {
		case 200:
			ok++
			if versions[x.version] {
				t.Errorf("two rotates answered version %d", x.version)
			}
			versions[x.version] = true
			fps[x.fp] = x.version
		case 409:
			checkEnvelope(t, response{Status: 409, Body: x.body}, 409, "conflict")
		default:
			t.Errorf("rotate %d: %d %s", i, x.status, x.body)
		}
	}
	t.Logf("%d of %d concurrent rotates succeeded", ok, n)
	if ok == 0 {
		t.Fatal("no rotate succeeded")
	}
	// The version counter moved exactly once per successful rotate, and each
	// success answered its own version number.
	cur := secretOf(t, c1.do("GET", "/api/v1/user/secrets/"+id, nil))
	if num(t, cur, "version") != 1+ok {
		t.Fatalf("current version %v, want 1 + %d successful rotates", cur["version"], ok)
	}
	for v := range versions {
		if v < 2 || v > 1+ok {
			t.Errorf("a rotate answered version %d, outside 2..%d", v, 1+ok)
		}
	}
	// KV keeps the newest max_versions versions (the mount's setting, Vault's
	// default 10): each of those holds the value its rotate answered.
	keep := kvMaxVersions(t, e)
	vr := decodeObj(t, c2.do("GET", "/api/v1/user/secrets/"+id+"/versions", nil))
	list := arr(t, vr, "versions")
	if want := min(1+ok, keep); len(list) != want {
		t.Fatalf("%d versions listed, want %d (1 + %d rotates, at most %d kept)", len(list), want, ok, keep)
	}
	if first := int(list[0].(map[string]any)["version"].(float64)); first != 1+ok-len(list)+1 {
		t.Errorf("oldest listed version %d, want %d", first, 1+ok-len(list)+1)
	}
	seen := map[string]bool{}
	for _, x := range list {
		v := x.(map[string]any)
		fp := v["fingerprint"].(string)
		if seen[fp] {
			t.Errorf("fingerprint %s twice: a rotate overwrote another", fp)
		}
		seen[fp] = true
		if n := int(v["version"].(float64)); n > 1 {
			if fps[fp] != n {
				t.Errorf("version %d holds fingerprint %s, which the rotate answered as version %d", n, fp, fps[fp])
			}
		}
	}
	for fp, ver := range fps {
		if !seen[fp] && ver > 1+ok-len(list) {
			t.Errorf("rotate answered version %d (%s) but it is not stored: lost", ver, fp)
		}
	}
}

func countSubstr(s, sub string) int {
	n := 0
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			n++
		}
	}
	return n
}

// kvMaxVersions is how many versions the KV mount keeps per secret.
func kvMaxVersions(t *testing.T, e *apiEnv) int {
	t.Helper()
	s, err := e.root.Logical().Read(vaultx.DefaultKVMount + "/config")
	if err != nil || s == nil {
		t.Fatalf("read kv config: %v", err)
	}
	n, _ := s.Data["max_versions"].(json.Number).Int64()
	if n == 0 {
		n = 10 // Vault's default
	}
	return int(n)
}
