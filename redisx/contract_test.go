package redisx_test

import (
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc/storetest"
	"github.com/acme/secretsbroker/redisx"
)

// TestContract runs the behaviours shared with package inproc against a real
// redis-server. TTLs are short and Advance sleeps.
func TestContract(t *testing.T) {
	r := env.Redis(t)
	storetest.Run(t, func(t *testing.T) storetest.Subject {
		opts := redisx.Options{Prefix: uniquePrefix(), RecordTTL: time.Second, ListCacheTTL: time.Second}
		c := newClient(t, r.URL, opts)
		other := newClient(t, r.URL, opts) // a second replica
		return storetest.Subject{
			Records:    c,
			Lists:      c.ListCache(),
			OtherLists: other.ListCache(),
			Idem:       c.Idempotency(),
			NewLimiter: func(t *testing.T, rate int, period time.Duration, burst int) broker.Limiter {
				l, err := redisx.NewLimiter(c, rate, period, burst)
				if err != nil {
					t.Fatal(err)
				}
				return l
			},
			RecordTTL: opts.RecordTTL,
			ListTTL:   opts.ListCacheTTL,
			Advance:   func(_ *testing.T, d time.Duration) { time.Sleep(d) },
		}
	})
}
