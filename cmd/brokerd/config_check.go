package main

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/acme/secretsbroker/internal/envflag"
	"github.com/acme/secretsbroker/redisx"
	"github.com/acme/secretsbroker/vaultx"
)

// deniedNameRE is one BROKER_DENIED_NAMES entry: an env var name, or a
// prefix of one followed by "*".
var deniedNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$`)

// checkSettings refuses, before anything starts, the settings that would
// let brokerd start and then misbehave. Every message names the variable
// and never shows a secret-bearing value.
func (c *serveConfig) checkSettings() error {
	for _, d := range []struct {
		env string
		v   time.Duration
	}{
		{"BROKER_REQUEST_TIMEOUT", c.RequestTimeout},
		{"BROKER_SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
		{"BROKER_AUTH_CACHE_TTL", c.AuthCacheTTL},
	} {
		if d.v <= 0 {
			return usagef("%s (%s) must be positive", d.env, d.v)
		}
	}
	if err := checkListen(c.Listen); err != nil {
		return err
	}
	if c.RedisURL != "" {
		if err := redisx.CheckURL(c.RedisURL); err != nil {
			return usagef("REDIS_URL: %s", errMessage(err))
		}
	}
	if err := c.checkSentinel(); err != nil {
		return err
	}
	if err := vaultx.CheckAddr(c.Vault.Addr); err != nil {
		return usagef("VAULT_ADDR: %s", errMessage(err))
	}
	if err := vaultx.CheckAddr(c.SandboxVaultAddr); err != nil {
		return usagef("BROKER_SANDBOX_VAULT_ADDR: %s", errMessage(err))
	}
	for _, o := range envflag.SplitList(c.CORSOrigins) {
		if !validOrigin(o) {
			return usagef("BROKER_CORS_ORIGINS entry %q: want an origin, scheme://host[:port] (no path, no wildcard)", o)
		}
	}
	for _, n := range envflag.SplitList(c.DeniedNames) {
		if !deniedNameRE.MatchString(n) {
			return usagef("BROKER_DENIED_NAMES entry %q: want an env var name (letters, digits, underscores), optionally ending in * for a prefix", n)
		}
	}
	return nil
}

// checkListen refuses a listen address that is not host:port.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("BROKER_LISTEN_ADDR %q: want host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usagef("BROKER_LISTEN_ADDR %q: port must be a number from 0 to 65535", addr)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return usagef("BROKER_LISTEN_ADDR %q: host is neither an IP address nor a host name", addr)
	}
	return nil
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$`)

func validHostname(h string) bool { return hostnameRE.MatchString(h) }

// validOrigin reports whether o is a browser origin: http(s)://host[:port].
func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.Opaque == ""
}

// namedInt is a setting's variable and value.
type namedInt struct {
	env string
	v   int
}

// positiveInts returns a usage error naming the first setting whose value
// is not positive, or nil.
func positiveInts(settings ...namedInt) error {
	for _, s := range settings {
		if s.v <= 0 {
			return usagef("%s (%d) must be positive", s.env, s.v)
		}
	}
	return nil
}

// checkSentinel refuses half a Sentinel setting, or Sentinel together with REDIS_URL.
func (c *serveConfig) checkSentinel() error {
	r := c.RedisSentinel
	switch {
	case !r.set():
		if r.SentinelPassword != "" || r.Password != "" {
			return usagef("REDIS_SENTINEL_PASSWORD and REDIS_PASSWORD need REDIS_SENTINEL_ADDRS and REDIS_MASTER_NAME (REDIS_URL carries its own password)")
		}
		return nil
	case c.RedisURL != "":
		return usagef("REDIS_URL and REDIS_SENTINEL_ADDRS are both set: set one (Sentinel finds the master itself)")
	case r.Addrs == "":
		return usagef("REDIS_MASTER_NAME needs REDIS_SENTINEL_ADDRS")
	case r.MasterName == "":
		return usagef("REDIS_SENTINEL_ADDRS needs REDIS_MASTER_NAME")
	}
	if err := redisx.CheckSentinel(r.sentinel()); err != nil {
		return usagef("REDIS_SENTINEL_ADDRS: %s", errMessage(err))
	}
	return nil
}
