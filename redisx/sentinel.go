package redisx

import (
	"context"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// Sentinel names a Redis master that Redis Sentinel watches over.
type Sentinel struct {
	// Addrs are the sentinels (host:port), at least one.
	Addrs []string
	// MasterName is the name the sentinels monitor the master as.
	MasterName string
	// SentinelPassword authenticates to the sentinels (requirepass of
	// sentinel.conf); empty: none.
	SentinelPassword string
	// Password authenticates to the master and replicas; empty: none.
	Password string
	// DB is the database number.
	DB int
}

// CheckSentinel checks the sentinel settings without touching the network.
// Errors: invalid (the message never repeats a password).
func CheckSentinel(s Sentinel) error {
	if len(s.Addrs) == 0 {
		return broker.Errorf(broker.CodeInvalid, "no sentinel address")
	}
	for _, a := range s.Addrs {
		host, port, err := net.SplitHostPort(a)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n <= 0 || n > 65535 {
			return broker.Errorf(broker.CodeInvalid, "sentinel address %q: want host:port", a)
		}
	}
	if strings.TrimSpace(s.MasterName) == "" {
		return broker.Errorf(broker.CodeInvalid, "no master name")
	}
	if s.DB < 0 {
		return broker.Errorf(broker.CodeInvalid, "negative database number")
	}
	return nil
}

// NewFailover connects to the master that the sentinels name (go-redis's failover
// client): it asks a sentinel for the master, and after a failover follows the
// sentinels to the promoted replica by itself. Like New it pings once and returns
// the client even when Redis does not answer yet. Errors: invalid (see CheckSentinel).
func NewFailover(ctx context.Context, s Sentinel, opts Options, log zerolog.Logger) (*Client, error) {
	if err := CheckSentinel(s); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	fo := &redis.FailoverOptions{
		MasterName:       s.MasterName,
		SentinelAddrs:    s.Addrs,
		SentinelPassword: s.SentinelPassword,
		Password:         s.Password,
		DB:               s.DB,
		DialTimeout:      opts.DialTimeout,
		ReadTimeout:      opts.ReadTimeout,
		WriteTimeout:     opts.WriteTimeout,
		PoolSize:         opts.PoolSize,
		PoolTimeout:      opts.OpTimeout,
		// As New: commands are retried twice on a broken connection (which is
		// also how the client moves to a promoted master), within OpTimeout.
		ContextTimeoutEnabled: true,
		MinIdleConns:          0,
		DialerRetries:         1,
		MaxRetries:            2,
		DisableIdentity:       true,
	}
	rdb := redis.NewFailoverClient(fo)
	return start(ctx, rdb, opts, log, log.Info().Strs("sentinels", s.Addrs).Str("master_name", s.MasterName).Int("db", s.DB))
}
