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
}

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
