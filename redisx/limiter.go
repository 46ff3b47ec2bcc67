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
