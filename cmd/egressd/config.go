package main

import (
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/egressproxy"
	"github.com/acme/secretsbroker/internal/envflag"
	"github.com/acme/secretsbroker/vaultx"
)

// MaxRecordTTL caps EGRESS_RECORD_TTL: a revocation (a record deleted)
// must reach every replica within it.
const MaxRecordTTL = 5 * time.Second

// serveConfig is every setting of `egressd serve`.
type serveConfig struct {
	Listen          string
	AdminListen     string
	Vault           vaultx.Config
	RedisURL        string
	CACert          string
	CAKey           string
	UpstreamCA      string
	Resolve         string
	Intercept       string
	DefaultDeny     bool
	AllowHosts      string
	ValueTTL        time.Duration
	RecordTTL       time.Duration
	ShutdownTimeout time.Duration
	LogLevel        string

	resolve map[string]string
	allow   []string
}

func parseServeConfig(args []string, getenv func(string) string, stdout io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := envflag.New("egressd", "serve", getenv, stdout)
	fs.String(&c.Listen, "listen", "EGRESS_LISTEN_ADDR", "127.0.0.1:3128", "address sandboxes reach the proxy on")
	fs.String(&c.AdminListen, "admin-listen", "EGRESS_ADMIN_ADDR", "127.0.0.1:3129", "address of /healthz, /readyz and /metrics; empty: not served")
	fs.URL(&c.Vault.Addr, "vault-addr", "VAULT_ADDR", "http://127.0.0.1:8200", "Vault address")
	fs.Secret(&c.Vault.Token, "vault-token", "VAULT_TOKEN", "Vault token (instead of AppRole)")
	fs.String(&c.Vault.RoleIDFile, "role-id-file", "EGRESS_VAULT_ROLE_ID_FILE", "", "file holding egressd's AppRole role_id")
	fs.String(&c.Vault.SecretIDFile, "secret-id-file", "EGRESS_VAULT_SECRET_ID_FILE", "", "file holding egressd's AppRole secret_id")
	fs.String(&c.Vault.KVMount, "kv-mount", "BROKER_KV_MOUNT", vaultx.DefaultKVMount, "KV v2 mount")
	fs.String(&c.Vault.TransitMount, "transit-mount", "BROKER_TRANSIT_MOUNT", vaultx.DefaultTransitMount, "transit mount")
	fs.String(&c.Vault.TransitKey, "transit-key", "BROKER_TRANSIT_KEY", vaultx.DefaultTransitKey, "transit key name")
	fs.Duration(&c.Vault.Timeout, "vault-timeout", "EGRESS_VAULT_TIMEOUT", vaultx.DefaultTimeout, "timeout of one Vault request")
	fs.String(&c.Vault.CACert, "vault-cacert", "VAULT_CACERT", "", "CA certificate file for Vault's TLS")
	fs.Secret(&c.RedisURL, "redis-url", "REDIS_URL", "Redis URL (optional; accepted for the revocation signal, unused for now: records expire from the cache within EGRESS_RECORD_TTL)")
	fs.String(&c.CACert, "ca-cert", "EGRESS_CA_CERT", "", "PEM file of the interception CA's certificate (required)")
	fs.String(&c.CAKey, "ca-key", "EGRESS_CA_KEY", "", "PEM file of the interception CA's private key (required)")
	fs.String(&c.UpstreamCA, "upstream-ca", "EGRESS_UPSTREAM_CA", "", "PEM file of extra roots for verifying upstreams (added to the system roots)")
	fs.String(&c.Resolve, "resolve", "EGRESS_RESOLVE", "", "host=ip:port,... dialled instead of the host (like curl --resolve; tunnels too)")
	fs.String(&c.Intercept, "intercept", "EGRESS_INTERCEPT", egressproxy.InterceptPlaceholders, "which CONNECTs are intercepted: placeholders (the hosts of the sandbox's secrets) or all")
	fs.Bool(&c.DefaultDeny, "default-deny", "EGRESS_DEFAULT_DENY", false, "refuse hosts outside the sandbox's egress hosts and --allow-hosts")
	fs.String(&c.AllowHosts, "allow-hosts", "EGRESS_ALLOW_HOSTS", "", "hosts allowed under --default-deny besides the sandbox's (comma-separated; *.example.com allowed)")
	fs.Duration(&c.ValueTTL, "value-ttl", "EGRESS_VALUE_TTL", 30*time.Second, "how long a decrypted value is kept in memory (a new value reaches sandboxes within it)")
	fs.Duration(&c.RecordTTL, "record-ttl", "EGRESS_RECORD_TTL", MaxRecordTTL, "how long a sandbox or placeholder record is cached (at most 5s: a revocation reaches every replica within it)")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", "EGRESS_SHUTDOWN_TIMEOUT", 30*time.Second, "how long in-flight requests may drain on SIGTERM")
	fs.String(&c.LogLevel, "log-level", "EGRESS_LOG_LEVEL", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c *serveConfig) validate() error {
	switch {
	case c.Vault.Token == "" && (c.Vault.RoleIDFile == "" || c.Vault.SecretIDFile == ""):
		return usagef("no Vault credentials: set VAULT_TOKEN, or EGRESS_VAULT_ROLE_ID_FILE and EGRESS_VAULT_SECRET_ID_FILE")
	case c.CACert == "" || c.CAKey == "":
		return usagef("EGRESS_CA_CERT and EGRESS_CA_KEY are required (the interception CA, PEM files)")
	case c.Intercept != egressproxy.InterceptPlaceholders && c.Intercept != egressproxy.InterceptAll:
		return usagef("EGRESS_INTERCEPT %q: want placeholders or all", c.Intercept)
	case c.RecordTTL <= 0 || c.RecordTTL > MaxRecordTTL:
		return usagef("EGRESS_RECORD_TTL (%s) must be more than 0 and at most %s", c.RecordTTL, MaxRecordTTL)
	case c.ValueTTL <= 0 || c.ValueTTL > time.Hour:
		return usagef("EGRESS_VALUE_TTL (%s) must be more than 0 and at most 1h", c.ValueTTL)
	}
	if err := vaultx.CheckAddr(c.Vault.Addr); err != nil {
		return usagef("VAULT_ADDR: %s", errMessage(err))
	}
	var err error
	if c.resolve, err = parseResolve(c.Resolve); err != nil {
		return err
	}
	for _, h := range envflag.SplitList(c.AllowHosts) {
		if m := broker.CheckEgressHost(h); m != "" {
			return usagef("EGRESS_ALLOW_HOSTS entry %q %s", h, m)
		}
		c.allow = append(c.allow, h)
	}
	return nil
}

// parseResolve reads host=ip:port,... into a map.
func parseResolve(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range envflag.SplitList(s) {
		host, addr, ok := strings.Cut(e, "=")
		h, p, err := net.SplitHostPort(addr)
		if !ok || host == "" || err != nil || net.ParseIP(h) == nil || p == "" {
			return nil, usagef("EGRESS_RESOLVE entry %q: want host=ip:port", e)
		}
		out[strings.ToLower(host)] = addr
	}
	return out, nil
}

// upstreamRoots is the system roots plus EGRESS_UPSTREAM_CA; nil (the
// system roots) without it.
func (c *serveConfig) upstreamRoots() (*x509.CertPool, error) {
	if c.UpstreamCA == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.UpstreamCA)
	if err != nil {
		return nil, usagef("EGRESS_UPSTREAM_CA: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usagef("EGRESS_UPSTREAM_CA %s: no PEM certificate in it", c.UpstreamCA)
	}
	return pool, nil
}

// ca reads the interception CA.
func (c *serveConfig) ca() (*egressproxy.CA, error) {
	cert, err := os.ReadFile(c.CACert)
	if err != nil {
		return nil, usagef("EGRESS_CA_CERT: %v", err)
	}
	key, err := os.ReadFile(c.CAKey)
	if err != nil {
		return nil, usagef("EGRESS_CA_KEY: %v", err)
	}
	ca, err := egressproxy.NewCA(cert, key, time.Now)
	if err != nil {
		return nil, usagef("EGRESS_CA_CERT/EGRESS_CA_KEY: %s", errMessage(err))
	}
	return ca, nil
}

func (c *serveConfig) String() string {
	return fmt.Sprintf("listen=%s vault=%s intercept=%s", c.Listen, c.Vault.Addr, c.Intercept)
}
