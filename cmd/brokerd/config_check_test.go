package main

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// TestBadSettingsStopAtStart: each setting that used to let brokerd start
// and then misbehave stops `serve` before anything starts: a usage error
// (exit 2), nothing logged, one line naming the variable, no secret in it.
func TestBadSettingsStopAtStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	base := map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "hvs." + leakMark + "_vault_token"}
	certs := writeTestCerts(t)
	egress := func(kv ...string) map[string]string {
		m := map[string]string{"BROKER_EGRESS_PROXY_URL": "http://egress:3128", "BROKER_EGRESS_CA_CERT": certs.ca}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string // the variable the line names
	}{
		{"negative auth cache ttl", map[string]string{"BROKER_AUTH_CACHE_TTL": "-5s"}, nil, "BROKER_AUTH_CACHE_TTL"},
		{"zero request timeout", map[string]string{"BROKER_REQUEST_TIMEOUT": "0"}, nil, "BROKER_REQUEST_TIMEOUT"},
		{"negative shutdown timeout", map[string]string{"BROKER_SHUTDOWN_TIMEOUT": "-1s"}, nil, "BROKER_SHUTDOWN_TIMEOUT"},
		{"cors origin not an origin", map[string]string{"BROKER_CORS_ORIGINS": "notanorigin"}, nil, "BROKER_CORS_ORIGINS"},
		{"cors origin with a path", map[string]string{"BROKER_CORS_ORIGINS": "https://app.example.com/x"}, nil, "BROKER_CORS_ORIGINS"},
		{"cors wildcard", map[string]string{"BROKER_CORS_ORIGINS": "*"}, nil, "BROKER_CORS_ORIGINS"},
		{"denied name with a hyphen", map[string]string{"BROKER_DENIED_NAMES": "lower-case"}, nil, "BROKER_DENIED_NAMES"},
		{"denied name wildcard only", map[string]string{"BROKER_DENIED_NAMES": "*"}, nil, "BROKER_DENIED_NAMES"},
		{"sandbox vault addr not a url", map[string]string{"BROKER_SANDBOX_VAULT_ADDR": "notaurl"}, nil, "BROKER_SANDBOX_VAULT_ADDR"},
		{"sandbox vault addr with password", map[string]string{"BROKER_SANDBOX_VAULT_ADDR": "http://u:" + leakMark + "@v:8200"}, nil, "BROKER_SANDBOX_VAULT_ADDR"},
		{"zero value limit", map[string]string{"BROKER_MAX_VALUE_BYTES": "0"}, nil, "BROKER_MAX_VALUE_BYTES"},
		{"zero eval items", map[string]string{"BROKER_MAX_EVAL_ITEMS": "0"}, nil, "BROKER_MAX_EVAL_ITEMS"},
		{"zero rate burst", map[string]string{"BROKER_RATE_BURST": "0"}, nil, "BROKER_RATE_BURST"},
		{"listen addr not host:port", map[string]string{"BROKER_LISTEN_ADDR": "nonsense"}, nil, "BROKER_LISTEN_ADDR"},
		{"listen port out of range", map[string]string{"BROKER_LISTEN_ADDR": "127.0.0.1:99999"}, nil, "BROKER_LISTEN_ADDR"},
		{"listen addr busy", map[string]string{"BROKER_LISTEN_ADDR": busy.Addr().String()}, nil, "BROKER_LISTEN_ADDR"},
		{"redis url malformed", map[string]string{"REDIS_URL": "http://u:" + leakMark + "@redis:6379"}, nil, "REDIS_URL"},
		{"delivery default unknown", map[string]string{"BROKER_DELIVERY_DEFAULT": "proxy"}, nil, "BROKER_DELIVERY_DEFAULT"},
		{"egress default without proxy", map[string]string{"BROKER_DELIVERY_DEFAULT": "egress"}, nil, "BROKER_EGRESS_PROXY_URL"},
		{"egress proxy with credentials", egress("BROKER_EGRESS_PROXY_URL", "http://u:"+leakMark+"@egress:3128"), nil, "BROKER_EGRESS_PROXY_URL"},
		{"egress proxy without port", egress("BROKER_EGRESS_PROXY_URL", "http://egress"), nil, "BROKER_EGRESS_PROXY_URL"},
		{"egress proxy https", egress("BROKER_EGRESS_PROXY_URL", "https://egress:3128"), nil, "BROKER_EGRESS_PROXY_URL"},
		{"egress proxy with a path", egress("BROKER_EGRESS_PROXY_URL", "http://egress:3128/x"), nil, "BROKER_EGRESS_PROXY_URL"},
		{"egress proxy without ca", egress("BROKER_EGRESS_CA_CERT", ""), nil, "BROKER_EGRESS_CA_CERT"},
		{"egress ca without proxy", map[string]string{"BROKER_EGRESS_CA_CERT": certs.ca}, nil, "BROKER_EGRESS_CA_CERT"},
		{"egress ca missing", egress("BROKER_EGRESS_CA_CERT", certs.ca+".absent"), nil, "BROKER_EGRESS_CA_CERT"},
		{"egress ca not pem", egress("BROKER_EGRESS_CA_CERT", certs.garbage), nil, "BROKER_EGRESS_CA_CERT"},
		{"egress ca not a ca", egress("BROKER_EGRESS_CA_CERT", certs.leaf), nil, "BROKER_EGRESS_CA_CERT"},
		{"egress ca file with its key", egress("BROKER_EGRESS_CA_CERT", certs.caWithKey), nil, "BROKER_EGRESS_CA_CERT"},
		{"egress lifetime zero", egress("BROKER_EGRESS_LIFETIME", "0"), nil, "BROKER_EGRESS_LIFETIME"},
		{"egress lifetime over the cap", egress("BROKER_EGRESS_LIFETIME", "200h"), nil, "BROKER_EGRESS_LIFETIME"},
		{"egress no proxy with spaces", egress("BROKER_EGRESS_NO_PROXY", "a, b"), nil, "BROKER_EGRESS_NO_PROXY"},
		{"preset with a bad egress host", map[string]string{"BROKER_PRESETS": "acme=ACME_KEY:api.acme.com|10.0.0.1"}, nil, "BROKER_PRESETS"},
		// The flag wins over its twin: a bad BROKER_WRAP_TTL is not reported
		// when --wrap-ttl is given; the next bad setting is.
		{"bad wrap ttl twin under the flag", map[string]string{"BROKER_WRAP_TTL": "abc", "BROKER_CORS_ORIGINS": "notanorigin"}, []string{"--wrap-ttl", "1m"}, "BROKER_CORS_ORIGINS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := maps.Clone(base)
			maps.Copy(env, c.env)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out, logs bytes.Buffer
			err := run(ctx, append([]string{"serve"}, c.args...), mapEnv(env), &out, &logs)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("want a usage error (exit 2), got %v; logs %q", err, logs.String())
			}
			if out.Len() != 0 || logs.Len() != 0 {
				t.Fatalf("output before the error: stdout %q, stderr %q", out.String(), logs.String())
			}
			var line bytes.Buffer
			if code := exitCode(err, &line); code != 2 {
				t.Fatalf("exit code %d, want 2", code)
			}
			if strings.Count(line.String(), "\n") != 1 || !strings.Contains(line.String(), c.want) {
				t.Fatalf("want one line naming %s, got %q", c.want, line.String())
			}
			if strings.Contains(line.String(), leakMark) {
				t.Fatalf("the error line shows a secret: %q", line.String())
			}
		})
	}
}

// TestFlagWinsOverBadTwin: --wrap-ttl 1m takes effect although
// BROKER_WRAP_TTL does not parse.
func TestFlagWinsOverBadTwin(t *testing.T) {
	env := map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t", "BROKER_WRAP_TTL": "abc"}
	c, err := parseServeConfig([]string{"--wrap-ttl", "1m"}, mapEnv(env), &bytes.Buffer{})
	if err != nil || c.WrapTTL != time.Minute {
		t.Fatalf("parseServeConfig = wrap ttl %s, %v; want 1m and no error", c.WrapTTL, err)
	}
	if _, err := parseServeConfig(nil, mapEnv(env), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "BROKER_WRAP_TTL") {
		t.Fatalf("without the flag, a bad BROKER_WRAP_TTL: %v, want an error naming it", err)
	}
}

// TestDeniedNamesAddToBuiltIn: BROKER_DENIED_NAMES=FOO_* denies FOO_X and
// still denies the built-in hijack names such as PATH.
func TestDeniedNamesAddToBuiltIn(t *testing.T) {
	env := map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t", "BROKER_DENIED_NAMES": "FOO_*"}
	c, err := parseServeConfig(nil, mapEnv(env), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	v := broker.NewValidator(c.Limits, c.deniedNames())
	for _, n := range []string{"FOO_X", "PATH", "LD_PRELOAD", "BROKER_URL"} {
		if v.CheckName(n) == "" {
			t.Errorf("BROKER_DENIED_NAMES=FOO_*: %s accepted", n)
		}
	}
	if m := v.CheckName("OPENAI_API_KEY"); m != "" {
		t.Errorf("OPENAI_API_KEY refused: %s", m)
	}
}

// TestEgressSettingsAccepted: a valid egress configuration parses, the CA
// is re-encoded (certificates only), and presets may name egress hosts.
func TestEgressSettingsAccepted(t *testing.T) {
	certs := writeTestCerts(t)
	env := map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t",
		"BROKER_DELIVERY_DEFAULT": "egress", "BROKER_EGRESS_PROXY_URL": "http://egress.internal:3128",
		"BROKER_EGRESS_CA_CERT": certs.ca, "BROKER_PRESETS": "acme=ACME_KEY:api.acme.com|*.acme.io,plain=PLAIN_KEY"}
	c, err := parseServeConfig(nil, mapEnv(env), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.egress == nil || c.egress.ProxyHost != "egress.internal:3128" || !strings.HasPrefix(c.egress.CAPEM, "-----BEGIN CERTIFICATE-----") ||
		c.egress.Lifetime != broker.DefaultEgressLifetime || c.egress.NoProxy != broker.DefaultNoProxy {
		t.Fatalf("egress config %+v", c.egress)
	}
	ps, err := c.presets()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, p := range ps {
		got[p.Provider] = p.EgressHosts
	}
	if !slices.Equal(got["acme"], []string{"api.acme.com", "*.acme.io"}) || got["plain"] != nil || !slices.Equal(got["openai"], []string{"api.openai.com"}) {
		t.Fatalf("presets' egress hosts %v", got)
	}
}
