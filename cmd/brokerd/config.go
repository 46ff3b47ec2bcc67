package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/envflag"
	"github.com/acme/secretsbroker/redisx"
	"github.com/acme/secretsbroker/vaultx"
)

// serveConfig is every setting of `brokerd serve`.
type serveConfig struct {
	Listen           string
	AdminListen      string
	Vault            vaultx.Config
	RedisURL         string
	RedisSentinel    redisSentinel
	SandboxVaultAddr string
	WrapTTL          time.Duration
	MaxWrapTTL       time.Duration
	RequestTimeout   time.Duration
	ShutdownTimeout  time.Duration
	NameGrace        time.Duration
	BundleMaxAge     time.Duration
	AuthCacheTTL     time.Duration
	RatePerMinute    int
	RateBurst        int
	AuthFailPerMin   int
	Limits           broker.Limits
	DeniedNames      string
	Presets          string
	CORSOrigins      string
	UI               bool
	LogLevel         string
	Egress           egressSettings
	egress           *broker.EgressConfig // Egress checked, the CA read
}

// vaultFlags registers the Vault connection flags shared by serve and setup.
func vaultFlags(fs *envflag.Set, c *vaultx.Config) {
	fs.URL(&c.Addr, "vault-addr", "VAULT_ADDR", "http://127.0.0.1:8200", "Vault address")
	fs.Secret(&c.Token, "vault-token", "VAULT_TOKEN", "Vault token (instead of AppRole)")
	fs.String(&c.KVMount, "kv-mount", "BROKER_KV_MOUNT", vaultx.DefaultKVMount, "KV v2 mount")
	fs.String(&c.TransitMount, "transit-mount", "BROKER_TRANSIT_MOUNT", vaultx.DefaultTransitMount, "transit mount")
	fs.String(&c.TransitKey, "transit-key", "BROKER_TRANSIT_KEY", vaultx.DefaultTransitKey, "transit key name")
	fs.Duration(&c.Timeout, "vault-timeout", "BROKER_VAULT_TIMEOUT", vaultx.DefaultTimeout, "timeout of one Vault request")
	fs.String(&c.CACert, "vault-cacert", "VAULT_CACERT", "", "CA certificate file for Vault's TLS")
	fs.String(&c.CAPath, "vault-capath", "VAULT_CAPATH", "", "directory of CA certificates for Vault's TLS")
	fs.String(&c.ClientCert, "vault-client-cert", "VAULT_CLIENT_CERT", "", "client certificate for Vault's TLS")
	fs.String(&c.ClientKey, "vault-client-key", "VAULT_CLIENT_KEY", "", "client key for Vault's TLS")
	fs.String(&c.TLSServerName, "vault-tls-server-name", "VAULT_TLS_SERVER_NAME", "", "server name to verify in Vault's certificate")
	fs.Bool(&c.Insecure, "vault-skip-verify", "VAULT_SKIP_VERIFY", false, "do not verify Vault's certificate (never in production)")
}

func parseServeConfig(args []string, getenv func(string) string, stdout io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := envflag.New("brokerd", "serve", getenv, stdout)
	fs.String(&c.Listen, "listen", "BROKER_LISTEN_ADDR", "127.0.0.1:8080", "address to serve the API on")
	fs.String(&c.AdminListen, "admin-listen", "BROKER_ADMIN_ADDR", "", "address to serve operator endpoints (GET /metrics) on; empty: not served")
	vaultFlags(fs, &c.Vault)
	fs.String(&c.Vault.RoleIDFile, "role-id-file", "BROKER_VAULT_ROLE_ID_FILE", "", "file holding the AppRole role_id")
	fs.String(&c.Vault.SecretIDFile, "secret-id-file", "BROKER_VAULT_SECRET_ID_FILE", "", "file holding the AppRole secret_id")
	fs.Secret(&c.RedisURL, "redis-url", "REDIS_URL", "Redis URL (optional; several replicas need it)")
	fs.String(&c.RedisSentinel.Addrs, "redis-sentinel-addrs", "REDIS_SENTINEL_ADDRS", "", "Redis Sentinel addresses, comma-separated host:port (instead of --redis-url; with --redis-master-name)")
	fs.String(&c.RedisSentinel.MasterName, "redis-master-name", "REDIS_MASTER_NAME", "", "name the sentinels monitor the Redis master as")
	fs.Secret(&c.RedisSentinel.SentinelPassword, "redis-sentinel-password", "REDIS_SENTINEL_PASSWORD", "password of the sentinels (optional)")
	fs.Secret(&c.RedisSentinel.Password, "redis-password", "REDIS_PASSWORD", "password of the Redis master and replicas found through Sentinel (optional)")
	fs.URL(&c.SandboxVaultAddr, "sandbox-vault-addr", "BROKER_SANDBOX_VAULT_ADDR", "", "Vault address sandboxes use (default: --vault-addr)")
	fs.Duration(&c.WrapTTL, "wrap-ttl", "BROKER_WRAP_TTL", 5*time.Minute, "lifetime of a bootstrap token")
	fs.Duration(&c.MaxWrapTTL, "max-wrap-ttl", "BROKER_MAX_WRAP_TTL", time.Hour, "cap on --wrap-ttl")
	fs.Duration(&c.RequestTimeout, "request-timeout", "BROKER_REQUEST_TIMEOUT", 30*time.Second, "bound on one API request")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", "BROKER_SHUTDOWN_TIMEOUT", 30*time.Second, "how long in-flight requests may drain on SIGTERM")
	fs.Duration(&c.NameGrace, "name-grace", "BROKER_NAME_GRACE", 30*time.Second, "age after which a name reservation whose secret was never written (a replica died mid-create) may be taken over; at least --request-timeout")
	fs.Duration(&c.BundleMaxAge, "bundle-max-age", "BROKER_BUNDLE_MAX_AGE", 0, "age after which a sandbox bundle (plaintext, normally deleted within its request) left by a crashed replica is destroyed by the sweep every replica runs at start and every half of this; default 2 x --request-timeout, at least --request-timeout")
	fs.Duration(&c.AuthCacheTTL, "auth-cache-ttl", "BROKER_AUTH_CACHE_TTL", broker.DefaultAuthCacheTTL, "how long an API key lookup is cached (a revoked key works at most this long)")
	fs.Int(&c.RatePerMinute, "rate-per-minute", "BROKER_RATE_PER_MINUTE", 600, "requests per minute per API key")
	fs.Int(&c.RateBurst, "rate-burst", "BROKER_RATE_BURST", 100, "burst per API key")
	fs.Int(&c.AuthFailPerMin, "auth-fail-per-minute", "BROKER_AUTH_FAIL_PER_MINUTE", 30, "failed authentications per minute per client address")
	fs.Int(&c.Limits.MaxSecretsPerUser, "max-secrets-per-user", "BROKER_MAX_SECRETS_PER_USER", 500, "secrets one user may keep")
	fs.Int(&c.Limits.MaxValueBytes, "max-value-bytes", "BROKER_MAX_VALUE_BYTES", 64<<10, "largest secret value")
	fs.Int(&c.Limits.MaxSecretIDs, "max-secret-ids", "BROKER_MAX_SECRET_IDS", 100, "secret ids per provisioning request")
	fs.Int(&c.Limits.MaxEvalItems, "max-eval-items", "BROKER_MAX_EVAL_ITEMS", 500, "items per evaluation")
	fs.String(&c.DeniedNames, "denied-names", "BROKER_DENIED_NAMES", "", "env var names secrets may not take, in addition to the built-in "+strings.Join(broker.DefaultDeniedNames(), ",")+" (comma-separated; a trailing * is a prefix)")
	fs.String(&c.Presets, "presets", "BROKER_PRESETS", "", "extra presets, comma-separated provider=ENV_NAME, or provider=ENV_NAME:host1|host2 with default egress_hosts")
	fs.String(&c.CORSOrigins, "cors-origins", "BROKER_CORS_ORIGINS", "", "origins allowed by CORS (comma-separated; none by default)")
	fs.Bool(&c.UI, "ui", "BROKER_UI", true, "serve the web console at /ui/ (false: off)")
	fs.String(&c.LogLevel, "log-level", "BROKER_LOG_LEVEL", "info", "debug, info, warn or error")
	egressFlags(fs, &c.Egress)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c *serveConfig) validate() error {
	if c.SandboxVaultAddr == "" {
		c.SandboxVaultAddr = c.Vault.Addr
	}
	switch {
	case c.Vault.Token == "" && (c.Vault.RoleIDFile == "" || c.Vault.SecretIDFile == ""):
		return usagef("no Vault credentials: set VAULT_TOKEN, or BROKER_VAULT_ROLE_ID_FILE and BROKER_VAULT_SECRET_ID_FILE")
	case broker.CheckWrapTTL(c.WrapTTL) != nil:
		return usagef("BROKER_WRAP_TTL (%s) must be %s", c.WrapTTL, broker.WrapTTLRange())
	case broker.CheckWrapTTL(c.MaxWrapTTL) != nil:
		return usagef("BROKER_MAX_WRAP_TTL (%s) must be %s", c.MaxWrapTTL, broker.WrapTTLRange())
	case c.WrapTTL > c.MaxWrapTTL:
		return usagef("BROKER_WRAP_TTL (%s) exceeds BROKER_MAX_WRAP_TTL (%s)", c.WrapTTL, c.MaxWrapTTL)
	case c.RatePerMinute <= 0 || c.RateBurst <= 0 || c.AuthFailPerMin <= 0:
		return positiveInts(namedInt{"BROKER_RATE_PER_MINUTE", c.RatePerMinute}, namedInt{"BROKER_RATE_BURST", c.RateBurst}, namedInt{"BROKER_AUTH_FAIL_PER_MINUTE", c.AuthFailPerMin})
	case c.BundleMaxAge < 0:
		return usagef("BROKER_BUNDLE_MAX_AGE must be positive")
	case c.BundleMaxAge > 0 && c.BundleMaxAge < c.RequestTimeout:
		return usagef("BROKER_BUNDLE_MAX_AGE (%s) is shorter than BROKER_REQUEST_TIMEOUT (%s): the sweep could destroy the bundle of a provisioning still in flight", c.BundleMaxAge, c.RequestTimeout)
	case c.NameGrace < c.RequestTimeout:
		return usagef("BROKER_NAME_GRACE (%s) is shorter than BROKER_REQUEST_TIMEOUT (%s): a slow create could lose its name to a takeover and leave two secrets of one name", c.NameGrace, c.RequestTimeout)
	case c.Limits.MaxSecretsPerUser <= 0 || c.Limits.MaxValueBytes <= 0 || c.Limits.MaxSecretIDs <= 0 || c.Limits.MaxEvalItems <= 0:
		return positiveInts(namedInt{"BROKER_MAX_SECRETS_PER_USER", c.Limits.MaxSecretsPerUser}, namedInt{"BROKER_MAX_VALUE_BYTES", c.Limits.MaxValueBytes},
			namedInt{"BROKER_MAX_SECRET_IDS", c.Limits.MaxSecretIDs}, namedInt{"BROKER_MAX_EVAL_ITEMS", c.Limits.MaxEvalItems})
	}
	if err := c.checkSettings(); err != nil {
		return err
	}
	if c.BundleMaxAge == 0 {
		c.BundleMaxAge = 2 * c.RequestTimeout
	}
	if _, err := c.presets(); err != nil {
		return err
	}
	eg, err := c.Egress.config()
	if err != nil {
		return err
	}
	c.egress = eg
	return nil
}

// presets returns the built-in presets plus the configured ones.
func (c *serveConfig) presets() ([]broker.Preset, error) {
	out := broker.DefaultPresets()
	v := broker.NewValidator(c.Limits, c.deniedNames())
	for _, p := range envflag.SplitList(c.Presets) {
		prov, env, ok := strings.Cut(p, "=")
		env, hostList, withHosts := strings.Cut(env, ":")
		if !ok || broker.CheckProvider(prov) != "" || v.CheckName(env) != "" {
			return nil, usagef("BROKER_PRESETS entry %q: want provider=ENV_NAME[:host|host...] with a valid provider and env var name", p)
		}
		var hosts []string
		if withHosts {
			hosts = strings.Split(hostList, "|")
			if fe := broker.CheckEgressHosts("egress_hosts", hosts); len(fe) > 0 {
				return nil, usagef("BROKER_PRESETS entry %q: %s %s", p, fe[0].Field, fe[0].Message)
			}
		}
		out = append(out, broker.Preset{Provider: prov, EnvVarName: env, EgressHosts: hosts})
	}
	return out, nil
}

func (c *serveConfig) deniedNames() []string { return envflag.SplitList(c.DeniedNames) }

func (c *serveConfig) String() string {
	return fmt.Sprintf("listen=%s vault=%s redis=%t", c.Listen, c.Vault.Addr, c.redisConfigured())
}

// redisSentinel is the Redis-through-Sentinel settings.
type redisSentinel struct {
	Addrs            string
	MasterName       string
	SentinelPassword string
	Password         string
}

func (r redisSentinel) set() bool { return r.Addrs != "" || r.MasterName != "" }

func (r redisSentinel) sentinel() redisx.Sentinel {
	return redisx.Sentinel{Addrs: envflag.SplitList(r.Addrs), MasterName: r.MasterName,
		SentinelPassword: r.SentinelPassword, Password: r.Password}
}

// redisConfigured reports whether a shared Redis is configured (by URL or Sentinel).
func (c *serveConfig) redisConfigured() bool { return c.RedisURL != "" || c.RedisSentinel.set() }
