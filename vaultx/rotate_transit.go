package vaultx

import (
	"context"
	"net/http"
	"sync"

	"github.com/acme/secretsbroker/broker"
)

// rewrapBatch rewraps the ciphertexts of userID to the key's latest version
// in ONE transit call (batch_input, context = base64(userID)); the plaintext
// never leaves Vault. out[i] is "" when transit refused item i (a ciphertext
// of another context, tampered, or below the minimum decryption version).
// Errors: unavailable, forbidden, internal.
func (c *Client) rewrapBatch(ctx context.Context, userID string, cts []string) ([]string, error) {
	if len(cts) == 0 {
		return nil, nil
	}
	uctx := userContext(userID)
	in := make([]map[string]string, len(cts))
	for i, ct := range cts {
		in[i] = map[string]string{"ciphertext": ct, "context": uctx}
	}
	env, err := c.do(ctx, request{method: http.MethodPost, path: c.transitPath("rewrap"),
		body: map[string]any{"batch_input": in}, bodyOnError: true})
	var d struct {
		BatchResults []struct {
			Ciphertext string `json:"ciphertext"`
			Error      string `json:"error"`
		} `json:"batch_results"`
	}
	if env != nil {
		if derr := env.decode(&d); derr != nil {
			return nil, broker.Wrap(broker.CodeInternal, derr, "rewrap: malformed vault answer")
		}
	}
	if len(d.BatchResults) != len(cts) {
		if err != nil {
			return nil, mapErr(err, "rewrap", nil)
		}
		return nil, broker.Errorf(broker.CodeInternal, "rewrap: vault answered %d results for %d inputs", len(d.BatchResults), len(cts))
	}
	out := make([]string, len(cts))
	for i, r := range d.BatchResults {
		if r.Error == "" && ciphertextKeyVersion(r.Ciphertext) > 0 {
			out[i] = r.Ciphertext
		}
	}
	return out, nil
}

// forEachBounded runs fn(ctx, i) for i in [0, n) on at most workers
// goroutines. The first error cancels the rest and is returned.
func forEachBounded(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		next     = make(chan int)
	)
	for range min(n, max(workers, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return firstErr
}
