//go:build reliability

package reliability

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
	return []string{v, base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v))}
}

// dumpRedis returns every key and value in the Redis at addr as text, with
// base64 strings inside JSON documents decoded (stored answers keep bodies
// as base64), and the number of keys.
func dumpRedis(addr string) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, MaxRetries: -1})
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
				v, _ := rc.Get(ctx, k).Result()
				vals = []string{v}
			case "hash":
				m, _ := rc.HGetAll(ctx, k).Result()
				for f, v := range m {
					vals = append(vals, f, v)
				}
			case "list":
				vals, _ = rc.LRange(ctx, k, 0, -1).Result()
			case "set":
				vals, _ = rc.SMembers(ctx, k).Result()
			case "zset":
				zs, _ := rc.ZRangeWithScores(ctx, k, 0, -1).Result()
				for _, z := range zs {
					vals = append(vals, fmt.Sprint(z.Member))
				}
			default:
				vals = []string{"<" + typ + ">"}
			}
			sb.WriteString(k + "\n")
			for _, v := range vals {
				sb.WriteString(v + "\n")
				for _, d := range decodedStrings(v, 0) {
					sb.WriteString(d + "\n")
				}
			}
		}
		if cursor = next; cursor == 0 {
			return sb.String(), n, nil
		}
	}
}

// decodedStrings walks a JSON document and returns the base64 decoding of
// every string that decodes, recursing into decoded JSON twice.
func decodedStrings(v string, depth int) []string {
	var doc any
	if json.Unmarshal([]byte(v), &doc) != nil {
		return nil
	}
	var out []string
	var walk func(x any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, y := range x {
				out = append(out, k)
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		case string:
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if b, err := enc.DecodeString(x); err == nil && len(x) >= 8 {
					out = append(out, string(b))
					if depth < 2 {
						out = append(out, decodedStrings(string(b), depth+1)...)
					}
					break
				}
			}
		}
	}
	walk(doc)
	return out
}

// TestLeakScanFindsPlanted: the leak scan itself can fail: a planted value
// verbatim, and another base64-encoded, inside larger text are both found;
// an unplanted look-alike is not.
func TestLeakScanFindsPlanted(t *testing.T) {
	a, b, other := newValue(), newValue(), "rv-"+randHex(16)
	text := []byte(`{"x":"prefix ` + a + ` suffix","y":"` + base64.StdEncoding.EncodeToString([]byte(b)) + `","z":"` + other + `"}`)
	if n, _ := leaks(text); n != 2 {
		t.Fatalf("leaks found %d planted values, want 2", n)
	}
	if n, _ := leaks([]byte(other + " " + a[:len(a)-1])); n != 0 {
		t.Fatalf("leaks found %d in text without a planted value", n)
	}
}
