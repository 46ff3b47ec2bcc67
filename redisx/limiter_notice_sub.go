package redisx

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// Backoff between subscription attempts while Redis does not answer.
const (
	noticeMinBackoff = 50 * time.Millisecond
	noticeMaxBackoff = 2 * time.Second
)

// subscribe keeps a subscription to the announcements until ctx ends. Each
// session is a fresh PubSub, so every reconnection is seen (and Peek is
// exact for a mark lifetime after it).
func (n *NoticedLimiter) subscribe(ctx context.Context) {
	defer close(n.done)
	log := n.l.c.log.With().Str("channel", n.channel).Logger()
	backoff := noticeMinBackoff
	lost := false // a lost subscription has been logged
	for ctx.Err() == nil {
		ok, err := n.session(ctx)
		n.unsubscribed()
		if ctx.Err() != nil {
			return
		}
		if ok {
			backoff = noticeMinBackoff
			lost = false
		}
		if !lost {
			log.Warn().Err(mapErr(err)).Msg("failed-authentication announcements not received; peeks ask Redis until resubscribed")
			lost = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, noticeMaxBackoff)
	}
}

// session subscribes once and reads announcements until the subscription
// fails; ok says whether it was confirmed.
func (n *NoticedLimiter) session(ctx context.Context) (ok bool, err error) {
	ps := n.l.c.rdb.Subscribe(ctx, n.channel)
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() }) // unblocks a Receive
	defer func() {
		stop()
		_ = ps.Close()
	}()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, n.opts.PingEvery)
		if err != nil {
			if ctx.Err() != nil {
				return ok, ctx.Err()
			}
			if !isTimeout(err) || pinged {
				return ok, err // broken, or silent for a ping's time: a new session
			}
			if err := ps.Ping(ctx); err != nil {
				return ok, err
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Channel != n.channel {
				continue
			}
			if m.Kind != "subscribe" {
				return ok, errors.New("unsubscribed from " + m.Channel)
			}
			if !ok {
				n.l.c.log.Debug().Str("channel", n.channel).
					Msg("subscribed to failed-authentication announcements")
			}
			ok = true
			n.subscribed(time.Now())
		case *redis.Message:
			if m.Channel == n.channel {
				n.mark(m.Payload, time.Now())
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
