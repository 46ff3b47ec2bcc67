package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// encodings are the forms in which a planted value would betray itself.
func encodings(v string) []string {
	return []string{
		v,
		base64.StdEncoding.EncodeToString([]byte(v)),
		base64.RawURLEncoding.EncodeToString([]byte(v)),
	}
}

// dumpRedis returns every key and every value of every type in the Redis at
// addr as text; JSON documents are also walked and their base64-looking
// strings decoded (stored answers keep bodies as base64), so a value hidden
// one encoding deep is found too.
func dumpRedis(addr string) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second})
	defer rc.Close()
	var sb strings.Builder
	n := 0
	var cursor uint64
	for {
		keys, next, err := rc.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			return "", n, err
		}
		for _, k := range keys {
			n++
			typ, err := rc.Type(ctx, k).Result()
			if err != nil {
				return "", n, err
			}
			var vals []string
			switch typ {
			case "string":
				v, err := rc.Get(ctx, k).Result()
				if err != nil && err != redis.Nil {
					return "", n, err
				}
				vals = []string{v}
			case "hash":
				m, err := rc.HGetAll(ctx, k).Result()
				if err != nil {
					return "", n, err
				}
				for f, v := range m {
					vals = append(vals, f, v)
				}
			case "list":
				vals, err = rc.LRange(ctx, k, 0, -1).Result()
			case "set":
				vals, err = rc.SMembers(ctx, k).Result()
			case "zset":
				zs, zerr := rc.ZRangeWithScores(ctx, k, 0, -1).Result()
				err = zerr
				for _, z := range zs {
					vals = append(vals, fmt.Sprint(z.Member), fmt.Sprint(z.Score))
				}
			case "stream":
				xs, xerr := rc.XRange(ctx, k, "-", "+").Result()
				err = xerr
				for _, x := range xs {
					vals = append(vals, x.ID, fmt.Sprint(x.Values))
				}
			case "none":
			default:
				vals = []string{"<type " + typ + ">"}
			}
			if err != nil {
				return "", n, err
			}
			fmt.Fprintf(&sb, "%s (%s)\n", k, typ)
			for _, v := range vals {
				sb.WriteString(v)
				sb.WriteByte('\n')
				for _, d := range decodedStrings(v) {
					sb.WriteString(d)
					sb.WriteByte('\n')
				}
			}
		}
		cursor = next
		if cursor == 0 {
			return sb.String(), n, nil
		}
	}
}

// decodedStrings walks a JSON document and returns the base64 decoding of
// every string that decodes (recursively, one level of nested JSON).
func decodedStrings(v string) []string {
	var doc any
	if json.Unmarshal([]byte(v), &doc) != nil {
		return nil
	}
	var out []string
	var walk func(x any, depth int)
	walk = func(x any, depth int) {
		switch x := x.(type) {
		case map[string]any:
			for k, y := range x {
				out = append(out, k)
				walk(y, depth)
			}
		case []any:
			for _, y := range x {
				walk(y, depth)
			}
		case string:
			if len(x) < 8 {
				return
			}
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if b, err := enc.DecodeString(x); err == nil {
					out = append(out, string(b))
					if depth < 2 {
						for _, d := range decodedStrings(string(b)) {
							out = append(out, d)
						}
					}
					break
				}
			}
		}
	}
	walk(doc, 0)
	return out
}

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
	dump, n, err := dumpRedis(r.Addr)
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
