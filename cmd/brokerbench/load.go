package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// opFunc performs request i on worker w. It may call mark() once its untimed
// preparation (taking a user from a pool, invalidating a cache) is done: the
// latency counts from the last mark (or from the call) to the return.
type opFunc func(ctx context.Context, w, i int, mark func()) error

// stats are the measured figures of one side of one phase.
type stats struct {
	Requests   int
	Errors     int
	FirstError string
	Elapsed    time.Duration
	Throughput float64 // requests per second
	P50, P95   time.Duration
	P99, Max   time.Duration
	Trips      float64 // Vault round trips per request
	// CPU per request: brokerd's (broker side only) and Vault's.
	BrokerdCPU, VaultCPU time.Duration
	// BrokerdSys is the kernel's part of BrokerdCPU; BrokerdSyscalls the
	// read and write system calls brokerd made per request.
	BrokerdSys      time.Duration
	BrokerdSyscalls float64
	// ClientCPU is brokerbench's own CPU per request during this side's
	// rounds: the load loop and its client (the SDK for the broker, the
	// Vault calls themselves for the floor).
	ClientCPU time.Duration

	lat []time.Duration
}

// drive runs requests [from, from+n) of op on conc workers and measures them.
func drive(ctx context.Context, conc, from, n int, op opFunc) stats {
	lat := make([]time.Duration, n)
	var (
		next   atomic.Int64
		errs   atomic.Int64
		firstM sync.Mutex
		first  string
		wg     sync.WaitGroup
	)
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := op(ctx, w, from+i, func() { t0 = time.Now() })
				lat[i] = time.Since(t0)
				if err != nil {
					errs.Add(1)
					firstM.Lock()
					if first == "" {
						first = err.Error()
					}
					firstM.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return stats{Requests: n, Errors: int(errs.Load()), FirstError: first, Elapsed: time.Since(start), lat: lat}
}

// merge adds the requests of o (another round of the same phase) to s.
func (s stats) merge(o stats) stats {
	s.Requests += o.Requests
	s.Errors += o.Errors
	if s.FirstError == "" {
		s.FirstError = o.FirstError
	}
	s.Elapsed += o.Elapsed
	s.lat = append(s.lat, o.lat...)
	return s
}

// summarize computes throughput and latency quantiles.
func (s stats) summarize() stats {
	if len(s.lat) == 0 {
		return s
	}
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	s.Throughput = float64(s.Requests) / s.Elapsed.Seconds()
	s.P50, s.P95, s.P99, s.Max = q(0.50), q(0.95), q(0.99), lat[len(lat)-1]
	return s
}
