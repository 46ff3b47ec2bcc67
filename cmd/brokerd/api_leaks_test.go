package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acme/secretsbroker/internal/testenv"
)

// TestLeakCheckFindsLeaks: the leak check itself can fail. A planted value
// written to Redis as-is, and one hidden base64-encoded in a JSON document
// (as stored answers are), are both found.
func TestLeakCheckFindsLeaks(t *testing.T) {
	r := shared.Redis(t)
	plain := "sk-leakprobe-" + randHex(8)
	hidden := "sk-leakprobe-" + randHex(8)
	// Not planted in the package registry: this test's own probe values only.
	rc := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rc.Close()
	k1, k2 := "leakprobe:"+randHex(4), "leakprobe:"+randHex(4)
	doc, _ := json.Marshal(map[string]any{"status": 201, "body": []byte(`{"x":"` + hidden + `"}`)})
	if err := rc.Set(bg(), k1, "prefix "+plain, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.HSet(bg(), k2, "f", string(doc)).Err(); err != nil {
		t.Fatal(err)
	}
	defer rc.Del(bg(), k1, k2)
	dump, n, err := testenv.DumpRedis(r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("dump saw %d keys", n)
	}
	if strings.Contains(string(doc), hidden) {
		t.Fatal("probe is not hidden")
	}
	for _, v := range []string{plain, hidden} {
		if !strings.Contains(dump, v) {
			t.Errorf("dump does not reveal probe %s", v)
		}
	}
}
