package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// bundleSweeper destroys sandbox bundles older than a bound (vaultx).
type bundleSweeper interface {
	SweepBundles(ctx context.Context, maxAge time.Duration) (int, error)
}

// sweepBundles runs a sweep at start and then every maxAge/2 until ctx ends,
// so a plaintext bundle a crashed replica left behind lives at most about
// 1.5 x maxAge once any replica runs. Every replica sweeps; sweeps on
// several replicas at once are safe. Each sweep is bounded by timeout.
func sweepBundles(ctx context.Context, s bundleSweeper, maxAge, timeout time.Duration, log zerolog.Logger) {
	every := max(maxAge/2, time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		n, err := s.SweepBundles(sctx, maxAge)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn().Err(err).Str("component", "bundle_sweep").Msg("sandbox bundle sweep failed; retrying at the next interval")
		case n > 0:
			log.Warn().Int("bundles", n).Str("max_age", maxAge.String()).Str("component", "bundle_sweep").
				Msg("destroyed sandbox bundles left behind by an interrupted provisioning")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// accessorSweeper deletes expired accessor entries (vaultx.Records).
type accessorSweeper interface {
	SweepAccessors(ctx context.Context) (int, error)
}

// sweepAccessors deletes the accessor entries of expired bootstrap tokens at
// start and then every interval, each sweep bounded by timeout.
func sweepAccessors(ctx context.Context, s accessorSweeper, interval, timeout time.Duration, log zerolog.Logger) {
	for {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		n, err := s.SweepAccessors(sctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn().Err(err).Str("component", "accessor_sweep").Msg("accessor sweep failed; retrying at the next interval")
		case n > 0:
			log.Info().Int("accessors", n).Str("component", "accessor_sweep").Msg("deleted the accessor entries of expired bootstrap tokens")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
