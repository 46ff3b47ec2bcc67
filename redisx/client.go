package redisx

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// Defaults for Options fields left zero.
const (
	DefaultPrefix       = "broker:"
	DefaultRecordTTL    = 7 * 24 * time.Hour
	DefaultListCacheTTL = 5 * time.Minute
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
	DefaultOpTimeout    = 3 * time.Second
	DefaultPoolSize     = 128
)

// Options configures a Client. Zero fields take the defaults above.
type Options struct {
	// Prefix starts every key, so that several deployments can share a Redis.
	Prefix string
	// RecordTTL is how long runtime and evaluation records live after their last write.
	RecordTTL time.Duration
	// ListCacheTTL is how long a cached secret list lives.
	ListCacheTTL time.Duration
	// DialTimeout, ReadTimeout and WriteTimeout bound each network operation.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// OpTimeout bounds each call of the adapter, retries included.
	OpTimeout time.Duration
	// PoolSize is the number of connections kept (enough for 64+ concurrent requests).
	PoolSize int
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	def(&o.RecordTTL, DefaultRecordTTL)
	def(&o.ListCacheTTL, DefaultListCacheTTL)
	def(&o.DialTimeout, DefaultDialTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.OpTimeout, DefaultOpTimeout)
	if o.PoolSize <= 0 {
		o.PoolSize = DefaultPoolSize
	}
	return o
}

// Client is the Redis record store (broker.RecordStore) and readiness probe
// (broker.Pinger). ListCache and Idempotency return the list cache and the
// idempotency store sharing its connections; NewLimiter makes rate limiters.
// Safe for concurrent use; it reconnects by itself after Redis comes back.
type Client struct {
	rdb     *redis.Client
	opts    Options
	log     zerolog.Logger
	scripts scripts
}

var (
	_ broker.RecordStore = (*Client)(nil)
	_ broker.Pinger      = (*Client)(nil)
)

// CheckURL checks that url is a Redis URL New accepts, without touching the
// network. Errors: invalid (the message never repeats the URL).
func CheckURL(url string) error {
	if _, err := redis.ParseURL(url); err != nil {
		return broker.Errorf(broker.CodeInvalid, "malformed Redis URL (want redis://[user:password@]host:port/db)")
	}
	return nil
}

// New connects to the Redis at url (redis://[user:password@]host:port/db or
// rediss:// for TLS). It pings once and logs a warning if Redis does not
// answer, but still returns the client: Redis may come up later, and
// readiness reports it meanwhile. Errors: invalid (malformed URL; the message
// never repeats the URL, which may hold a password).
func New(ctx context.Context, url string, opts Options, log zerolog.Logger) (*Client, error) {
	if err := CheckURL(url); err != nil {
		return nil, err
	}
	ro, _ := redis.ParseURL(url)
	opts = opts.withDefaults()
	ro.DialTimeout = opts.DialTimeout
	ro.ReadTimeout = opts.ReadTimeout
	ro.WriteTimeout = opts.WriteTimeout
	ro.ContextTimeoutEnabled = true
	ro.PoolSize = opts.PoolSize
	ro.PoolTimeout = opts.OpTimeout
	// A refused dial fails fast (no dial-retry loop, no background refills of
	// idle connections hammering a Redis that is down); a command is retried
	// twice on a broken connection, within OpTimeout.
	ro.MinIdleConns = 0
	ro.DialerRetries = 1
	ro.MaxRetries = 2
	ro.DisableIdentity = true
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return start(ctx, redis.NewClient(ro), opts, log, log.Info().Str("addr", ro.Addr).Int("db", ro.DB))
}

func start(ctx context.Context, rdb *redis.Client, opts Options, log zerolog.Logger, where *zerolog.Event) (*Client, error) {
	c := &Client{
		rdb:     rdb,
		opts:    opts,
		log:     log.With().Str("component", "redis").Logger(),
		scripts: newScripts(),
	}
	if err := c.Ping(ctx); err != nil {
		c.log.Warn().Err(err).Msg("redis not reachable at startup; will retry on use")
	} else {
		where.Str("component", "redis").Str("prefix", opts.Prefix).Msg("redis connected")
	}
	return c, nil
}

// Close releases the connections.
func (c *Client) Close() error { return c.rdb.Close() }

// Ping reports whether Redis answers. Errors: unavailable, internal.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := c.op(ctx)
	defer cancel()
	return mapErr(c.rdb.Ping(ctx).Err())
}

// ListCache returns the per-user secret list cache.
func (c *Client) ListCache() *ListCache { return &ListCache{c: c} }

// Idempotency returns the idempotency key store.
func (c *Client) Idempotency() *Idempotency { return &Idempotency{c: c} }

// op bounds one adapter call.
func (c *Client) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.opts.OpTimeout)
}

func (c *Client) key(parts ...string) string {
	k := c.opts.Prefix
	for _, p := range parts {
		k += p
	}
	return k
}
