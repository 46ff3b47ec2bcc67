package vaultx

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// Client is the broker's Vault client. It is safe for concurrent use.
type Client struct {
	cfg    Config
	log    zerolog.Logger
	api    *api.Client // holds the broker's token; never exposed
	health *api.Client // no token, no retries: a probe must answer fast
	raw    rawHTTP     // the api client's address and transport, for send

	roundTrips atomic.Uint64

	approle bool
	authMu  sync.Mutex // serialises login, renewal and lease updates
	lease   lease      // guarded by authMu
	poke    chan struct{}

	logins   atomic.Uint64
	renewals atomic.Uint64

	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// lease is what the client knows about its current token.
type lease struct {
	ok        bool          // a token is held (login or lookup succeeded)
	ttl       time.Duration // 0: the token never expires
	grantTTL  time.Duration // the TTL granted at login: a renewal granting less hit the max TTL
	renewable bool
	obtained  time.Time
	capped    bool // the last renewal was cut short by the max TTL
}

var (
	_ broker.SecretStore          = (*Client)(nil)
	_ broker.NamedCiphertextStore = (*Client)(nil)
	_ broker.Crypto               = (*Client)(nil)
	_ broker.Bootstrapper         = (*Client)(nil)
	_ broker.APIKeyStore          = (*Client)(nil)
	_ broker.Pinger               = (*Client)(nil)
)

// New validates cfg, logs in (token or AppRole) and starts the background
// renewal. When Vault cannot be reached the client is still returned: it keeps
// trying to log in, its calls answer unavailable meanwhile, and Health says why.
// Errors: invalid (malformed address, unreadable credential file, credentials
// rejected by Vault).
func New(ctx context.Context, cfg Config, log zerolog.Logger) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:     cfg,
		log:     log.With().Str("component", "vaultx").Logger(),
		approle: cfg.Token == "",
		poke:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	var err error
	apiCfg := cfg
	apiCfg.Token = ""
	apiCfg.MaxRetries = -1 // the client retries by its own policy (retry.go), which knows what is safe to repeat
	opts := APIOptions{RoundTrips: &c.roundTrips, Observe: cfg.Observe}
	var tr *http.Transport
	if c.api, tr, err = newAPIClient(apiCfg, opts); err != nil {
		return nil, err
	}
	if c.raw, err = newRawHTTP(cfg, tr, opts); err != nil {
		return nil, err
	}
	if c.health, err = NewAPIClient(apiCfg, opts); err != nil {
		return nil, err
	}
	if c.approle {
		// Fail fast on unreadable files, before any network call.
		if _, _, err := c.readAppRoleCreds(); err != nil {
			return nil, err
		}
	} else {
		c.api.SetToken(cfg.Token)
	}

	c.authMu.Lock()
	err = c.refreshLocked(ctx)
	c.authMu.Unlock()
	switch {
	case err == nil:
	case broker.IsCode(err, broker.CodeUnavailable):
		c.log.Warn().Err(err).Msg("vault login deferred: vault unavailable, retrying in the background")
	default:
		return nil, err
	}

	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.stop = cancel
	go c.maintain(loopCtx)
	return c, nil
}

// Close stops the background renewal. It does not revoke the token (another
// replica may share an AppRole, and the token expires on its own).
func (c *Client) Close() error {
	c.stopOnce.Do(func() {
		c.stop()
		<-c.done
		c.raw.direct.Close()
	})
	return nil
}

// VaultAddr is the Vault address, as handed to sandboxes in bootstraps.
func (c *Client) VaultAddr() string { return c.cfg.Addr }

// KVMount is the KV v2 mount path, without slashes.
func (c *Client) KVMount() string { return c.cfg.KVMount }

// RoundTrips is the number of HTTP requests sent to Vault so far (retries
// included), for benchmarks and metrics.
func (c *Client) RoundTrips() uint64 { return c.roundTrips.Load() }
