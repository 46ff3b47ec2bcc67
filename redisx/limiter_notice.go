package redisx

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// NoticedLimiter is a Limiter for events that a clean key seldom has (failed
// authentications per client address): Allow takes the event from Redis
// exactly as Limiter does, marks the key suspect here and announces it on a
// Redis pub/sub channel, so that every replica marks it suspect too. Peek
// asks Redis only about a suspect key; for any other key it answers allowed
// with no round trip.
//
// Why skipping is safe: GCRA (redis_rate) refuses an event at time t only if
// the key's theoretical arrival time is past t + (burst-1)·interval, where
// interval = period/rate, and a take at t0 leaves it at most
// t0 + burst·interval. So a key is refused only within one interval of an
// event taken for it, by any replica. A mark lasts one interval and a half
// (slack for clocks), and every take is announced, so a key that is not
// marked here cannot be refused by Redis, and Peek need not ask. What is
// left is the announcement's delivery: a take on another replica is seen
// here once its message has been read (well under a millisecond on a LAN,
// and Redis has written the message to every subscriber before the PUBLISH
// in that replica's Allow returns, so before its caller hears of the
// failure). A take whose PUBLISH fails (Redis lost between the take and the
// PUBLISH, retries spent) is logged and not announced.
//
// A replica cannot hear announcements while it is not subscribed, so Peek
// is exact for every key while the subscription is down, and for one mark
// lifetime after every (re)subscription, the first one included: takes
// announced before it could still refuse until then. A subscription
// connection that goes silent is pinged after PingEvery and dropped when the
// ping is not answered within another PingEvery. Past MaxSuspects marked
// keys, Peek is exact for every key until the marks that did not fit could
// have expired.
//
// Every replica must use the same limit: marks last this replica's interval.
type NoticedLimiter struct {
	l       *Limiter
	channel string
	markFor time.Duration
	opts    NoticeOptions

	mu            sync.RWMutex
	marks         map[string]time.Time // suspect key -> end of its mark
	fastFrom      time.Time            // zero: not subscribed; else Peek may skip Redis from then
	overflowUntil time.Time            // Peek is exact for every key until then
	lastSweep     time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// NoticeOptions tunes a NoticedLimiter. Zero fields take the defaults below.
type NoticeOptions struct {
	// MaxSuspects bounds the marked keys (DefaultMaxSuspects).
	MaxSuspects int
	// PingEvery is how long the subscription may stay silent before it is
	// pinged, and how long the ping has to be answered (DefaultNoticePing).
	PingEvery time.Duration
}

// Defaults of NoticeOptions.
const (
	DefaultMaxSuspects = 65_536
	DefaultNoticePing  = time.Second
)

var _ broker.Limiter = (*NoticedLimiter)(nil)

// Noticed wraps l in announcements on the pub/sub channel
// <prefix>rl:<channel> (the messages are the keys given to Allow, nothing
// else), subscribing until ctx ends or Close is called.
func (l *Limiter) Noticed(ctx context.Context, channel string, opts NoticeOptions) *NoticedLimiter {
	if opts.MaxSuspects <= 0 {
		opts.MaxSuspects = DefaultMaxSuspects
	}
	if opts.PingEvery <= 0 {
		opts.PingEvery = DefaultNoticePing
	}
	interval := l.limit.Period / time.Duration(l.limit.Rate)
	ctx, cancel := context.WithCancel(ctx)
	n := &NoticedLimiter{
		l:       l,
		channel: l.c.key("rl:", channel),
		markFor: interval + interval/2,
		opts:    opts,
		marks:   map[string]time.Time{},
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go n.subscribe(ctx)
	return n
}

// Close stops the subscription and waits for it to end.
func (n *NoticedLimiter) Close() {
	n.cancel()
	<-n.done
}

// MarkLifetime is how long a key stays suspect after an event of it, and how
// long Peek stays exact after each (re)subscription.
func (n *NoticedLimiter) MarkLifetime() time.Duration { return n.markFor }

// Allow implements broker.Limiter: it marks key suspect, takes one event
// from Redis (as Limiter.Allow) and announces key to every replica.
// Errors: unavailable, internal (of the take; a failed announcement is only
// logged).
func (n *NoticedLimiter) Allow(ctx context.Context, key string) (broker.Decision, error) {
	n.mark(key, time.Now()) // this replica's concurrent peeks ask Redis from now on
	d, err := n.l.Allow(ctx, key)
	if err != nil {
		return d, err
	}
	n.mark(key, time.Now()) // the mark lasts from the take
	pctx, cancel := n.l.c.op(ctx)
	defer cancel()
	if perr := n.l.c.rdb.Publish(pctx, n.channel, key).Err(); perr != nil {
		log := zerolog.Ctx(ctx).With().Str("component", "rate_limit").Logger()
		if log.GetLevel() == zerolog.Disabled { // no request logger
			log = n.l.c.log
		}
		log.Warn().Err(mapErr(perr)).Msg("could not announce a failed authentication to the other replicas")
	}
	return d, nil
}

// Peek implements broker.Limiter: Limiter.Peek for a suspect key or while
// this replica may have missed announcements (see Exact); otherwise allowed,
// with the burst as Remaining, without asking Redis. Errors: unavailable,
// internal.
func (n *NoticedLimiter) Peek(ctx context.Context, key string) (broker.Decision, error) {
	if n.Exact(key) {
		return n.l.Peek(ctx, key)
	}
	return broker.Decision{Allowed: true, Remaining: n.l.limit.Burst}, nil
}

// Exact reports whether Peek(key) asks Redis now: key is marked suspect, or
// the subscription is down or younger than a mark, or too many keys are
// marked.
func (n *NoticedLimiter) Exact(key string) bool {
	now := time.Now()
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.fastFrom.IsZero() || now.Before(n.fastFrom) || now.Before(n.overflowUntil) {
		return true
	}
	end, ok := n.marks[key]
	return ok && now.Before(end)
}

// mark makes key suspect for markFor from now.
func (n *NoticedLimiter) mark(key string, now time.Time) {
	end := now.Add(n.markFor)
	n.mu.Lock()
	defer n.mu.Unlock()
	if now.Sub(n.lastSweep) >= n.markFor/4 {
		n.sweep(now)
	}
	old, ok := n.marks[key]
	if !ok && len(n.marks) >= n.opts.MaxSuspects {
		if !now.Before(n.overflowUntil) {
			n.l.c.log.Warn().Int("max_suspects", n.opts.MaxSuspects).
				Msg("too many addresses with failed authentications; every peek asks Redis for a while")
		}
		if end.After(n.overflowUntil) {
			n.overflowUntil = end
		}
		return
	}
	if end.After(old) {
		n.marks[key] = end
	}
}

// sweep drops the marks that have ended; the caller holds mu.
func (n *NoticedLimiter) sweep(now time.Time) {
	n.lastSweep = now
	for k, end := range n.marks {
		if !now.Before(end) {
			delete(n.marks, k)
		}
	}
}

// subscribed records a (re)subscription: Peek may skip Redis once a mark
// lifetime has passed.
func (n *NoticedLimiter) subscribed(now time.Time) {
	n.mu.Lock()
	n.fastFrom = now.Add(n.markFor)
	n.mu.Unlock()
}

// unsubscribed makes every Peek exact until the next subscription.
func (n *NoticedLimiter) unsubscribed() {
	n.mu.Lock()
	n.fastFrom = time.Time{}
	n.mu.Unlock()
}
