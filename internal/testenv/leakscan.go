package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Leak checks: tests plant distinctive values, then search everything the
// system wrote (logs, Redis, Vault's audit log) for them in every form.

// Encodings are the forms in which a planted value would betray itself.
func Encodings(v string) []string {
	return []string{
		v,
		base64.StdEncoding.EncodeToString([]byte(v)),
		base64.RawURLEncoding.EncodeToString([]byte(v)),
	}
}

// DumpRedis returns every key and every value of every type in the Redis at
// addr as text; JSON documents are also walked and their base64-looking
// strings decoded (stored answers keep bodies as base64), so a value hidden
// one encoding deep is found too.
func DumpRedis(addr string) (string, int, error) {
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
				for _, d := range DecodedStrings(v) {
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

// DecodedStrings walks a JSON document and returns the base64 decoding of
// every string that decodes (recursively, one level of nested JSON).
func DecodedStrings(v string) []string {
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
						for _, d := range DecodedStrings(string(b)) {
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
