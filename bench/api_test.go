package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/client"
	"github.com/acme/secretsbroker/handlers"
	"github.com/acme/secretsbroker/redisx"
	"github.com/acme/secretsbroker/vaultx"
)

// apiFixture is the whole broker in process (handlers, service, vaultx,
// redisx) behind an httptest server, over a real Vault and Redis, logging at
// info level to io.Discard (the log lines are still built). It is what
// brokerd serves, minus the process: CPU profiles of the benchmarks below
// show the broker's own cost per request.
type apiFixture struct {
	fixture
	api *client.Client // the SDK; call checks the status of each answer
	ids []string
	// creators are fresh users for the create benchmark, createsPerUser
	// creates each (the per-user limit is 500 secrets).
	creators []apiFixture
}

const createsPerUser = 400

func newAPIFixture(tb testing.TB, secrets int) apiFixture {
	tb.Helper()
	f := newFixture(tb)
	r := shared.Redis(tb)
	ctx := context.Background()
	rc, err := redisx.New(ctx, r.URL, redisx.Options{}, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = rc.Close() })
	lim, err := redisx.NewLimiter(rc, 1_000_000_000, time.Minute, 1_000_000)
	if err != nil {
		tb.Fatal(err)
	}
	metrics := handlers.NewMetrics()
	svc := broker.NewService(broker.Config{SandboxVaultAddr: "http://vault", Observer: metrics},
		broker.Deps{Secrets: f.vc, Crypto: f.vc, Boot: f.vc, Records: rc, Cache: rc.ListCache()})
	f.svc = svc
	log := zerolog.New(io.Discard).Level(zerolog.InfoLevel)
	srv := handlers.New(handlers.Config{}, handlers.Deps{
		Secrets: svc, Runtimes: svc, Evaluations: svc, Auth: broker.NewAuthenticator(f.vc, time.Hour, time.Now),
		// As brokerd: the per-key limit by leases, the failed-authentication limit exact.
		Limiter: lim.Leased(10*time.Second, time.Now), AuthFailLimiter: lim,
		Idempotency: rc.Idempotency(), Metrics: metrics, Log: log,
	})
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	user := fmt.Sprintf("api-%d", time.Now().UnixNano())
	key, _, err := broker.CreateAPIKey(ctx, f.vc, user, "bench", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	tb.Cleanup(tr.CloseIdleConnections)
	api, err := client.New(ts.URL, key, client.WithHTTPClient(&http.Client{Transport: tr, Timeout: time.Minute}), client.WithRetry(client.Retry{}))
	if err != nil {
		tb.Fatal(err)
	}
	return apiFixture{fixture: f, api: api, ids: f.seed(tb, user, secrets)}
}

// call sends one request through client.Do and checks the answer's status.
func (a apiFixture) call(tb testing.TB, method, path string, body any, want int) {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	res, err := a.api.Do(context.Background(), method, path, raw, nil)
	if err != nil {
		tb.Error(err)
		return
	}
	if res.Status != want {
		tb.Errorf("%s %s: status %d, want %d", method, path, res.Status, want)
	}
}

// BenchmarkAPI drives the in-process API with 16 requests in flight per CPU
// and reports Vault round trips per request. Profile the broker's own CPU
// with -cpuprofile.
func BenchmarkAPI(b *testing.B) {
	base := newAPIFixture(b, 64)
	var seq atomic.Int64
	cases := []struct {
		name string
		do   func(b *testing.B, a apiFixture, i int64)
	}{
		{"get", func(b *testing.B, a apiFixture, i int64) {
			a.call(b, http.MethodGet, "/api/v1/user/secrets/"+a.ids[i%64], nil, http.StatusOK)
		}},
		{"create", func(b *testing.B, a apiFixture, i int64) {
			// A fresh user every createsPerUser creates keeps under the per-user limit.
			a = a.creators[(i/createsPerUser)%int64(len(a.creators))]
			a.call(b, http.MethodPost, "/api/v1/user/secrets", map[string]string{"name": fmt.Sprintf("C_%d", i), "value": "sk-create-0123456789abcdef"}, http.StatusCreated)
		}},
		{"rotate", func(b *testing.B, a apiFixture, i int64) {
			a.call(b, http.MethodPut, "/api/v1/user/secrets/"+a.ids[i%64], map[string]string{"value": fmt.Sprintf("sk-rotate-%d-0123456789", i)}, http.StatusOK)
		}},
		{"provision1", func(b *testing.B, a apiFixture, i int64) {
			a.call(b, http.MethodPost, "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": a.ids[:1]}, http.StatusCreated)
		}},
		{"provision20", func(b *testing.B, a apiFixture, i int64) {
			a.call(b, http.MethodPost, "/api/v1/runtimes", map[string]any{"project_id": "p", "secret_ids": a.ids[:20]}, http.StatusCreated)
		}},
		{"list64_warm", func(b *testing.B, a apiFixture, i int64) {
			a.call(b, http.MethodGet, "/api/v1/user/secrets", nil, http.StatusOK)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			// Only create runs as fresh users: the others need the seeded secrets.
			a := base
			if c.name == "create" {
				seq.Store(0)
				a.creators = make([]apiFixture, b.N/createsPerUser+1)
				for k := range a.creators {
					a.creators[k] = base.withFreshUser(b)
				}
			}
			start := a.vc.RoundTrips()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.do(b, a, seq.Add(1)-1)
				}
			})
			b.ReportMetric(float64(a.vc.RoundTrips()-start)/float64(b.N), "vault-trips/op")
		})
	}
}

// withFreshUser gives the fixture a new API key (a user with no secrets).
func (a apiFixture) withFreshUser(tb testing.TB) apiFixture {
	user := fmt.Sprintf("api-create-%d", time.Now().UnixNano())
	key, _, err := broker.CreateAPIKey(context.Background(), a.vc, user, "bench", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	a.api = a.api.WithKey(key)
	return a
}

var _ = vaultx.DefaultKVMount
