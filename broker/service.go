package broker

import (
	"context"
	"time"
)

// Config configures a Service. Zero fields take the documented defaults.
type Config struct {
	Limits Limits
	// DeniedNames are denied in addition to DefaultDeniedNames, which are
	// always denied (a trailing "*" is a prefix).
	DeniedNames []string
	// Presets overrides DefaultPresets.
	Presets []Preset
	// SandboxVaultAddr is the Vault address sandboxes use (in bootstraps).
	SandboxVaultAddr string
	// WrapTTL is the bootstrap token lifetime (default 5m), capped by MaxWrapTTL (default 1h).
	WrapTTL    time.Duration
	MaxWrapTTL time.Duration
	// NameGrace is how old an orphaned name reservation must be before a
	// create may take it over (default 30s).
	NameGrace time.Duration
	// Concurrency bounds parallel Vault calls of one request (default 16).
	Concurrency int
	// Warn reports a degraded dependency that did not fail the request (for
	// example the list cache). err never carries a secret value.
	Warn func(ctx context.Context, component string, err error)
	// DefaultDelivery is the delivery of a provisioning request that names
	// none: DeliveryEnv (the default) or DeliveryEgress.
	DefaultDelivery string
	// Egress configures egress delivery; nil: not available.
	Egress *EgressConfig
	// Observer receives countable events (default: none).
	Observer Observer
	Now      func() time.Time
}

// Deps are the adapters a Service works through.
type Deps struct {
	Secrets SecretStore
	Crypto  Crypto
	Boot    Bootstrapper
	Records RecordStore
	Cache   ListCache
	// Egress keeps egress records; required when Config.Egress is set.
	Egress EgressStore
}

// EgressConfig is what egress delivery hands a sandbox.
type EgressConfig struct {
	// ProxyHost is egressd's host:port as sandboxes reach it.
	ProxyHost string
	// NoProxy is the NO_PROXY of egress sandboxes (default DefaultNoProxy).
	NoProxy string
	// CAPEM is the egress CA certificate (PEM), carried under EgressCAKey.
	CAPEM string
	// Lifetime bounds how long an egress sandbox's placeholders are
	// honoured (default DefaultEgressLifetime, at most MaxEgressLifetime).
	Lifetime time.Duration
}

// Egress lifetimes and the default NO_PROXY.
const (
	DefaultEgressLifetime = 24 * time.Hour
	MaxEgressLifetime     = 7 * 24 * time.Hour
	DefaultNoProxy        = "localhost,127.0.0.1,::1"
)

// Service is the broker's domain logic: secrets and sandbox provisioning.
type Service struct {
	cfg    Config
	d      Deps
	val    *Validator
	counts *countHints
}

// NewService returns a Service over deps.
func NewService(cfg Config, d Deps) *Service {
	if cfg.Presets == nil {
		cfg.Presets = DefaultPresets()
	}
	if cfg.WrapTTL <= 0 {
		cfg.WrapTTL = 5 * time.Minute
	}
	if cfg.MaxWrapTTL <= 0 {
		cfg.MaxWrapTTL = time.Hour
	}
	cfg.WrapTTL = min(cfg.WrapTTL, cfg.MaxWrapTTL)
	if cfg.NameGrace <= 0 {
		cfg.NameGrace = 30 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Warn == nil {
		cfg.Warn = func(context.Context, string, error) {}
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.DefaultDelivery == "" {
		cfg.DefaultDelivery = DeliveryEnv
	}
	if e := cfg.Egress; e != nil {
		ec := *e
		if ec.Lifetime <= 0 {
			ec.Lifetime = DefaultEgressLifetime
		}
		ec.Lifetime = min(ec.Lifetime, MaxEgressLifetime)
		if ec.NoProxy == "" {
			ec.NoProxy = DefaultNoProxy
		}
		cfg.Egress = &ec
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, d: d, val: NewValidator(cfg.Limits, cfg.DeniedNames), counts: newCountHints()}
}

// Validator returns the validator the service applies.
func (s *Service) Validator() *Validator { return s.val }

// WrapTTL returns the bootstrap token lifetime in force.
func (s *Service) WrapTTL() time.Duration { return s.cfg.WrapTTL }

// cleanupContext is for undo steps that must run even when the request's
// context was cancelled; it keeps the request's audit values. Short: the
// adapters retry within it, and during an outage the undo must not hold the
// answer long (an unrevoked token still expires with its wrap TTL).
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
}
