package redisx_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc/storetest"
	"github.com/acme/secretsbroker/redisx"
)

const (
	leakToken  = "hvs.CAESILEAKCHECKwrappingTokenZ0123456789"
	leakSecret = "sk-proj-LEAKCHECK-plaintext-value-Q9x8w7"
	leakAPIKey = "bk_LEAKCHECK_api_key_7f3a9c1e5b"
)

// TestRedisHoldsNoSecret stores everything the broker stores, from values
// whose bootstraps carry a token, then reads back every key and value in
// Redis (SCAN + TYPE + the type's read command) and looks for the token,
// the secret value and the API key, in clear and base64-encoded.
func TestRedisHoldsNoSecret(t *testing.T) {
	r := env.Redis(t)
	prefix := uniquePrefix()
	c := newClient(t, r.URL, redisx.Options{Prefix: prefix})
	ctx := testCtx(t)
	keyHash := sha256hex(leakAPIKey)

	rt := storetest.Runtime("alice", "rt-leak", leakToken)
	if rt.Sandbox.Bootstrap.Token != leakToken {
		t.Fatal("fixture: runtime bootstrap carries no token")
	}
	must(t, c.PutRuntime(ctx, rt))
	must(t, c.PutEvaluation(ctx, storetest.Evaluation("alice", "ev-leak", leakToken, 4)))
	must(t, c.PutAccessor(ctx, rt.Sandbox.ID, "accessor-of-"+rt.Sandbox.ID, time.Minute))

	lists := c.ListCache()
	secrets := storetest.Secrets(3)
	secrets[0].MaskedValue = "sk-p••••••••" // what the broker shows of leakSecret
	_, stamp, _, err := lists.Get(ctx, "alice")
	must(t, err)
	must(t, lists.Put(ctx, "alice", stamp, secrets))
	stamp, err = lists.Stamp(ctx, "alice")
	must(t, err)
	rotated := secrets[0]
	rotated.Version++
	must(t, lists.Update(ctx, "alice", stamp, broker.ListChange{Secret: rotated})) // a write through the cache
	must(t, lists.Invalidate(ctx, "bob"))

	idem := c.Idempotency()
	_, _, err = idem.Begin(ctx, keyHash, time.Hour)
	must(t, err)
	must(t, idem.Complete(ctx, keyHash, broker.StoredResponse{RequestHash: sha256hex("body"), Status: 201,
		Body: []byte(`{"id":"sec-1","name":"OPENAI_API_KEY","masked_value":"sk-p••••••••"}`)}, time.Hour))
	_, _, err = idem.Begin(ctx, sha256hex("another key"), time.Hour) // left pending
	must(t, err)

	lim, err := redisx.NewLimiter(c, 10, time.Second, 10)
	must(t, err)
	_, err = lim.Allow(ctx, keyHash)
	must(t, err)

	dump := dumpRedis(t, ctx, rawClient(t, r.Addr))

	// The scan must have seen what was stored, or the check proves nothing.
	for _, want := range []string{prefix + "rt:alice/rt-leak", prefix + "rtidx:alice", prefix + "ev:alice/ev-leak",
		prefix + "acc:" + rt.Sandbox.ID, prefix + "lch:alice", prefix + "lcgen:bob",
		prefix + "idem:" + keyHash, "rate:" + prefix + "rl:" + keyHash,
		"runtime rt-leak", "accessor-of-" + rt.Sandbox.ID, "OPENAI_API_KEY"} {
		if !strings.Contains(dump, want) {
			t.Errorf("scan did not see %q", want)
		}
	}
	for name, s := range map[string]string{"token": leakToken, "secret value": leakSecret, "API key": leakAPIKey} {
		for _, form := range encodings(s) {
			if strings.Contains(dump, form) {
				t.Errorf("Redis holds the %s (as %q)", name, form)
			}
		}
	}
	if strings.Contains(dump, `"bootstrap"`) {
		t.Error("Redis holds a bootstrap object")
	}
}

// TestLeakCheckerFindsBase64 makes sure encodings() catches a token hidden in
// a base64 body at any alignment.
func TestLeakCheckerFindsBase64(t *testing.T) {
	for pad := range 3 {
		body := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", pad) + `{"token":"` + leakToken + `"}`))
		found := false
		for _, form := range encodings(leakToken) {
			found = found || strings.Contains(body, form)
		}
		if !found {
			t.Fatalf("alignment %d: token in base64 not detected", pad)
		}
	}
}

// dumpRedis returns every key, its type and its value(s), one per line.
func dumpRedis(t *testing.T, ctx context.Context, rdb *redis.Client) string {
	t.Helper()
	var b strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 100).Iterator()
	n := 0
	for iter.Next(ctx) {
		key := iter.Val()
		n++
		typ, err := rdb.Type(ctx, key).Result()
		must(t, err)
		b.WriteString(key + " (" + typ + "):")
		var vals []string
		switch typ {
		case "string":
			v, err := rdb.Get(ctx, key).Result()
			if err == redis.Nil { // expired between SCAN and GET
				continue
			}
			must(t, err)
			vals = []string{v}
		case "hash":
			m, err := rdb.HGetAll(ctx, key).Result()
			must(t, err)
			for k, v := range m {
				vals = append(vals, k, v)
			}
		case "set":
			vals, err = rdb.SMembers(ctx, key).Result()
			must(t, err)
		case "zset":
			zs, err := rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
			must(t, err)
			for _, z := range zs {
				vals = append(vals, z.Member.(string))
			}
		case "list":
			vals, err = rdb.LRange(ctx, key, 0, -1).Result()
			must(t, err)
		case "none":
		default:
			t.Fatalf("key %q has type %s, which the leak check does not read", key, typ)
		}
		b.WriteString(strings.Join(vals, "\x00"))
		b.WriteString("\n")
	}
	must(t, iter.Err())
	if n == 0 {
		t.Fatal("SCAN found no key at all")
	}
	return b.String()
}

// encodings returns s and the base64 runs that appear in the encoding of
// any text containing s, whatever its alignment.
func encodings(s string) []string {
	out := []string{s}
	for k := range 3 {
		n := (len(s) - k) / 3 * 3
		out = append(out, base64.StdEncoding.EncodeToString([]byte(s[k:k+n])))
	}
	return out
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
