package redisx

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/acme/secretsbroker/broker"
)

// Limiter is a GCRA rate limiter (go-redis/redis_rate) shared by every
// replica: rate events per period for each key, with bursts of up to burst.
type Limiter struct {
	c     *Client
	rl    *redis_rate.Limiter
	limit redis_rate.Limit
}

var _ broker.Limiter = (*Limiter)(nil)

// NewLimiter returns a limiter of ratePerPeriod events per period with the
// given burst, keeping its state in c's Redis. Errors: invalid (rate, period
// or burst not positive).
func NewLimiter(c *Client, ratePerPeriod int, period time.Duration, burst int) (*Limiter, error) {
	if ratePerPeriod <= 0 || period <= 0 || burst <= 0 {
		return nil, broker.Errorf(broker.CodeInvalid, "rate limit needs a positive rate, period and burst")
	}
	return &Limiter{
		c:     c,
		rl:    redis_rate.NewLimiter(c.rdb),
		limit: redis_rate.Limit{Rate: ratePerPeriod, Period: period, Burst: burst},
	}, nil
}

// Allow takes one event for key (an opaque, already hashed key). When
// denied, RetryAfter says when the next event will be admitted.
// Errors: unavailable, internal.
func (l *Limiter) Allow(ctx context.Context, key string) (broker.Decision, error) {
	ctx, cancel := l.c.op(ctx)
	defer cancel()
	res, err := l.rl.Allow(ctx, l.c.key("rl:", key), l.limit)
	if err != nil {
		return broker.Decision{}, mapErr(err)
	}
	if res.Allowed > 0 {
		return broker.Decision{Allowed: true, Remaining: res.Remaining}, nil
	}
	retry := res.RetryAfter
	if retry <= 0 { // redis_rate answers -1 when not limited; never tell a denied caller 0
		retry = l.limit.Period / time.Duration(l.limit.Rate)
	}
	return broker.Decision{Allowed: false, Remaining: 0, RetryAfter: retry}, nil
}

// Peek answers whether Allow would admit one event for key, without taking
// it (redis_rate with a cost of 0). Errors: unavailable, internal.
func (l *Limiter) Peek(ctx context.Context, key string) (broker.Decision, error) {
	ctx, cancel := l.c.op(ctx)
	defer cancel()
	res, err := l.rl.AllowN(ctx, l.c.key("rl:", key), l.limit, 0)
	if err != nil {
		return broker.Decision{}, mapErr(err)
	}
	if res.Remaining >= 1 {
		return broker.Decision{Allowed: true, Remaining: res.Remaining}, nil
	}
	// The next event is admitted once the state has drained to burst-1 intervals ahead.
	interval := l.limit.Period / time.Duration(l.limit.Rate)
	retry := res.ResetAfter - time.Duration(l.limit.Burst-1)*interval
	if retry <= 0 {
		retry = interval
	}
	return broker.Decision{Allowed: false, RetryAfter: retry}, nil
}
