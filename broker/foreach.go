package broker

import (
	"context"
	"sync"
	"sync/atomic"
)

// ForEach runs fn(ctx, i) for i in [0, n) on at most workers goroutines,
// the caller's among them (a group of three calls starts two goroutines).
// The first error cancels the rest (their ctx is cancelled, no new call
// starts) and is returned; a cancelled ctx returns its cause.
func ForEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		next     atomic.Int64
	)
	work := func() {
		for ctx.Err() == nil {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			if err := fn(ctx, i); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}
	}
	for range min(n, max(workers, 1)) - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return firstErr
}
