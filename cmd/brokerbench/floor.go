package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// The floor: for each operation, the minimal sequence of Vault calls it needs
// (docs/design.md sections 4 and 5), issued directly, with the same concurrency
// inside one operation as the broker allows (16). Paths are the broker's.
const (
	kvMount    = "broker"
	transitKey = "transit/%s/broker-secrets"
	innerPar   = 16
)

type floor struct {
	v       *vaultClient
	wrapTTL time.Duration
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func transitPath(op string) string { return fmt.Sprintf(transitKey, op) }

// par runs fn(ctx, i) for i in [0,n) on at most limit goroutines; first error wins.
func par(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range min(n, limit) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// seal is encrypt and HMAC of a value, concurrently (plus extra, if any, at the same time).
func (f *floor) seal(ctx context.Context, user, value string, extra func(ctx context.Context) error) (ct, hmac string, err error) {
	n := 2
	if extra != nil {
		n = 3
	}
	err = par(ctx, n, n, func(ctx context.Context, i int) error {
		switch i {
		case 0:
			a, err := f.v.call(ctx, http.MethodPost, transitPath("encrypt"),
				map[string]string{"plaintext": b64(value), "context": b64(user)}, user, 0)
			if err != nil {
				return err
			}
			var d struct {
				Ciphertext string `json:"ciphertext"`
			}
			err = a.decode(&d)
			ct = d.Ciphertext
			return err
		case 1:
			a, err := f.v.call(ctx, http.MethodPost, transitPath("hmac")+"/sha2-256",
				map[string]string{"input": b64(user + "\x00" + value)}, user, 0)
			if err != nil {
				return err
			}
			var d struct {
				HMAC string `json:"hmac"`
			}
			err = a.decode(&d)
			hmac = d.HMAC
			return err
		}
		return extra(ctx)
	})
	return ct, hmac, err
}

func secretMetadata(name, masked, fp string, version int) map[string]any {
	return map[string]any{"custom_metadata": map[string]string{
		"name": name, "masked_value": masked, "fingerprint": fp,
		"version": strconv.Itoa(version), "created_at": time.Now().UTC().Format(time.RFC3339Nano),
	}}
}

// create: reserve the name (cas=0), encrypt and HMAC (all three at once),
// then the data write (cas=0) and the metadata write.
func (f *floor) create(ctx context.Context, user, name, value string) error {
	id := broker.NewID()
	ct, fp, err := f.seal(ctx, user, value, func(ctx context.Context) error {
		_, err := f.v.call(ctx, http.MethodPost, layout.DataPath(kvMount, layout.NamePath(user, name)),
			map[string]any{"data": map[string]string{"secret_id": id}, "options": map[string]int{"cas": 0}}, user, 0)
		return err
	})
	if err != nil {
		return err
	}
	masked := broker.Mask(value)
	p := layout.SecretPath(user, id)
	a, err := f.v.call(ctx, http.MethodPost, layout.DataPath(kvMount, p), map[string]any{
		"data":    map[string]string{"ciphertext": ct, "masked_value": masked, "fingerprint": fp, "name": name},
		"options": map[string]int{"cas": 0}}, user, 0)
	if err != nil {
		return err
	}
	var v struct {
		Version int `json:"version"`
	}
	if err := a.decode(&v); err != nil {
		return err
	}
	_, err = f.v.call(ctx, http.MethodPost, layout.MetadataPath(kvMount, p), secretMetadata(name, masked, fp, v.Version), user, 0)
	return err
}

type floorMeta struct {
	CurrentVersion int               `json:"current_version"`
	CustomMetadata map[string]string `json:"custom_metadata"`
	Versions       map[string]struct {
		CreatedTime time.Time `json:"created_time"`
	} `json:"versions"`
}

// get: one metadata read.
func (f *floor) get(ctx context.Context, user, id string) (floorMeta, error) {
	a, err := f.v.call(ctx, http.MethodGet, layout.MetadataPath(kvMount, layout.SecretPath(user, id)), nil, user, 0)
	if err != nil {
		return floorMeta{}, err
	}
	var m floorMeta
	err = a.decode(&m)
	if err == nil && m.CurrentVersion == 0 {
		err = fmt.Errorf("secret has no version")
	}
	return m, err
}

// list: one LIST, then every secret's metadata, 16 at a time.
func (f *floor) list(ctx context.Context, user string) (int, error) {
	a, err := f.v.call(ctx, "LIST", layout.MetadataPath(kvMount, layout.UserFolder(user, layout.SubSecrets)+"/"), nil, user, 0)
	if err != nil {
		return 0, err
	}
	var d struct {
		Keys []string `json:"keys"`
	}
	if err := a.decode(&d); err != nil {
		return 0, err
	}
	err = par(ctx, len(d.Keys), innerPar, func(ctx context.Context, i int) error {
		_, err := f.get(ctx, user, d.Keys[i])
		return err
	})
	return len(d.Keys), err
}

// rotate: metadata read, encrypt and HMAC (all three at once), data write
// with cas on the version read, metadata write.
func (f *floor) rotate(ctx context.Context, user, id, value string) error {
	var m floorMeta
	ct, fp, err := f.seal(ctx, user, value, func(ctx context.Context) error {
		var err error
		m, err = f.get(ctx, user, id)
		return err
	})
	if err != nil {
		return err
	}
	masked := broker.Mask(value)
	p := layout.SecretPath(user, id)
	name := m.CustomMetadata["name"]
	a, err := f.v.call(ctx, http.MethodPost, layout.DataPath(kvMount, p), map[string]any{
		"data":    map[string]string{"ciphertext": ct, "masked_value": masked, "fingerprint": fp, "name": name},
		"options": map[string]int{"cas": m.CurrentVersion}}, user, 0)
	if err != nil {
		return err
	}
	var v struct {
		Version int `json:"version"`
	}
	if err := a.decode(&v); err != nil {
		return err
	}
	_, err = f.v.call(ctx, http.MethodPost, layout.MetadataPath(kvMount, p), secretMetadata(name, masked, fp, v.Version), user, 0)
	return err
}

// resolve: the ciphertexts read concurrently, then one batch decrypt.
func (f *floor) resolve(ctx context.Context, user string, ids []string) (map[string]string, error) {
	cts := make([]string, len(ids))
	err := par(ctx, len(ids), innerPar, func(ctx context.Context, i int) error {
		a, err := f.v.call(ctx, http.MethodGet, layout.DataPath(kvMount, layout.SecretPath(user, ids[i])), nil, user, 0)
		if err != nil {
			return err
		}
		var d struct {
			Data struct {
				Ciphertext string `json:"ciphertext"`
			} `json:"data"`
		}
		err = a.decode(&d)
		cts[i] = d.Data.Ciphertext
		return err
	})
	if err != nil {
		return nil, err
	}
	in := make([]map[string]string, len(cts))
	for i, ct := range cts {
		in[i] = map[string]string{"ciphertext": ct, "context": b64(user)}
	}
	a, err := f.v.call(ctx, http.MethodPost, transitPath("decrypt"), map[string]any{"batch_input": in}, user, 0)
	if err != nil {
		return nil, err
	}
	var d struct {
		BatchResults []struct {
			Plaintext string `json:"plaintext"`
		} `json:"batch_results"`
	}
	if err := a.decode(&d); err != nil {
		return nil, err
	}
	if len(d.BatchResults) != len(ids) {
		return nil, fmt.Errorf("decrypt: %d results for %d inputs", len(d.BatchResults), len(ids))
	}
	env := make(map[string]string, len(ids))
	for i, r := range d.BatchResults {
		pt, err := base64.StdEncoding.DecodeString(r.Plaintext)
		if err != nil {
			return nil, err
		}
		env[fmt.Sprintf("NAME_%d", i)] = string(pt)
	}
	return env, nil
}

// wrap: bundle write, wrapped read, metadata delete.
func (f *floor) wrap(ctx context.Context, user string, env map[string]string) error {
	sb := layout.SandboxPath(broker.NewID())
	p := layout.DataPath(kvMount, sb)
	if _, err := f.v.call(ctx, http.MethodPost, p, map[string]any{"data": env}, user, 0); err != nil {
		return err
	}
	a, err := f.v.call(ctx, http.MethodGet, p, nil, user, f.wrapTTL)
	if err != nil {
		return err
	}
	if a.WrapInfo == nil || a.WrapInfo.Token == "" {
		return fmt.Errorf("vault did not wrap the bundle")
	}
	_, err = f.v.call(ctx, http.MethodDelete, layout.MetadataPath(kvMount, sb), nil, user, 0)
	return err
}

// provision: resolve, then one wrap.
func (f *floor) provision(ctx context.Context, user string, ids []string) error {
	env, err := f.resolve(ctx, user, ids)
	if err != nil {
		return err
	}
	return f.wrap(ctx, user, env)
}

// evaluation: resolve once, then 2 wraps per item, 16 at a time.
func (f *floor) evaluation(ctx context.Context, user string, ids []string, items int) error {
	env, err := f.resolve(ctx, user, ids)
	if err != nil {
		return err
	}
	return par(ctx, 2*items, innerPar, func(ctx context.Context, _ int) error { return f.wrap(ctx, user, env) })
}

// provisionWithRecord is provision plus the one KV write the broker makes
// since its records live in Vault: a runtime record of the broker's size
// (the runtime, its sandbox and the accessor). Not the floor of any
// operation: the provision1_record row uses it to separate what that write
// costs from what brokerd adds.
func (f *floor) provisionWithRecord(ctx context.Context, user string, ids []string) error {
	if err := f.provision(ctx, user, ids); err != nil {
		return err
	}
	now := time.Now().UTC()
	rt := broker.Runtime{ID: broker.NewID(), UserID: user, ProjectID: "bench", SecretIDs: ids, CreatedAt: now, UpdatedAt: now,
		Sandbox: broker.Sandbox{ID: broker.NewID(), EnvNames: []string{"NAME_0"}, ExpiresAt: now.Add(f.wrapTTL), CreatedAt: now,
			Delivery: broker.DeliveryEnv, Accessor: "floor" + randHex(10)}}
	doc, err := broker.EncodeRuntime(rt)
	if err != nil {
		return err
	}
	_, err = f.v.call(ctx, http.MethodPost, layout.DataPath(kvMount, layout.RuntimePath(user, rt.ID)),
		map[string]any{"data": map[string]string{"record": string(doc)}}, user, 0)
	return err
}
