package main

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/envflag"
)

// egressSettings are the settings of egress delivery (docs/design.md,
// "Egress delivery").
type egressSettings struct {
	Delivery string        // BROKER_DELIVERY_DEFAULT
	ProxyURL string        // BROKER_EGRESS_PROXY_URL: http://host:port, no credentials
	CACert   string        // BROKER_EGRESS_CA_CERT: PEM file of the egress CA certificate
	NoProxy  string        // BROKER_EGRESS_NO_PROXY
	Lifetime time.Duration // BROKER_EGRESS_LIFETIME
}

func egressFlags(fs *envflag.Set, e *egressSettings) {
	fs.String(&e.Delivery, "delivery-default", "BROKER_DELIVERY_DEFAULT", broker.DeliveryEnv, "delivery of a provisioning request that names none: env or egress")
	fs.String(&e.ProxyURL, "egress-proxy-url", "BROKER_EGRESS_PROXY_URL", "", "egressd's address as sandboxes reach it, http://host:port (no credentials); empty: no egress delivery")
	fs.String(&e.CACert, "egress-ca-cert", "BROKER_EGRESS_CA_CERT", "", "PEM file of the egress CA certificate handed to egress sandboxes (required with --egress-proxy-url)")
	fs.String(&e.NoProxy, "egress-no-proxy", "BROKER_EGRESS_NO_PROXY", broker.DefaultNoProxy, "NO_PROXY of egress sandboxes")
	fs.Duration(&e.Lifetime, "egress-lifetime", "BROKER_EGRESS_LIFETIME", broker.DefaultEgressLifetime, "how long an egress sandbox's placeholders are honoured, at most "+broker.MaxEgressLifetime.String())
}

// config checks the egress settings and reads the CA file: nil when egress
// delivery is not configured. Errors: a usage error naming the variable.
func (e egressSettings) config() (*broker.EgressConfig, error) {
	switch e.Delivery {
	case broker.DeliveryEnv, broker.DeliveryEgress:
	default:
		return nil, usagef("BROKER_DELIVERY_DEFAULT %q: want env or egress", e.Delivery)
	}
	if e.Lifetime <= 0 || e.Lifetime > broker.MaxEgressLifetime {
		return nil, usagef("BROKER_EGRESS_LIFETIME (%s) must be positive and at most %s", e.Lifetime, broker.MaxEgressLifetime)
	}
	if strings.TrimSpace(e.NoProxy) == "" || strings.ContainsAny(e.NoProxy, " \t\r\n") {
		return nil, usagef("BROKER_EGRESS_NO_PROXY: want a comma-separated list of hosts without spaces")
	}
	if e.ProxyURL == "" {
		switch {
		case e.Delivery == broker.DeliveryEgress:
			return nil, usagef("BROKER_DELIVERY_DEFAULT is egress but BROKER_EGRESS_PROXY_URL is not set")
		case e.CACert != "":
			return nil, usagef("BROKER_EGRESS_CA_CERT is set but BROKER_EGRESS_PROXY_URL is not")
		}
		return nil, nil
	}
	host, err := proxyHost(e.ProxyURL)
	if err != nil {
		return nil, err
	}
	if e.CACert == "" {
		return nil, usagef("BROKER_EGRESS_PROXY_URL is set but BROKER_EGRESS_CA_CERT is not")
	}
	ca, err := readCACert(e.CACert)
	if err != nil {
		return nil, err
	}
	return &broker.EgressConfig{ProxyHost: host, NoProxy: e.NoProxy, CAPEM: ca, Lifetime: e.Lifetime}, nil
}

// proxyHost returns host:port of an http://host:port proxy URL.
func proxyHost(s string) (string, error) {
	bad := func(why string) error { return usagef("BROKER_EGRESS_PROXY_URL: %s", why) }
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", bad("not a URL")
	case u.User != nil:
		return "", bad("must not carry credentials (each sandbox gets its own)")
	case u.Scheme != "http":
		return "", bad("want http://host:port")
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		return "", bad("want http://host:port, without a path or query")
	}
	h, port, err := net.SplitHostPort(u.Host)
	if err != nil || h == "" {
		return "", bad("want http://host:port, with a port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", bad("the port must be a number from 1 to 65535")
	}
	if net.ParseIP(h) == nil && !validHostname(h) {
		return "", bad("the host is neither an IP address nor a host name")
	}
	return u.Host, nil
}

// readCACert reads the egress CA certificate file: PEM CERTIFICATE blocks
// only, the first a CA certificate. A file holding a private key is refused
// (it would be handed to every sandbox). It returns the certificates
// re-encoded. Errors: a usage error naming BROKER_EGRESS_CA_CERT.
func readCACert(path string) (string, error) {
	bad := func(why string) error { return usagef("BROKER_EGRESS_CA_CERT %q: %s", path, why) }
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", bad("cannot be read")
	}
	var out []byte
	for rest := raw; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return "", bad("holds a " + b.Type + " block: give the CA certificate only (never its key)")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return "", bad("holds a certificate that does not parse")
		}
		if out == nil && (!c.IsCA || !c.BasicConstraintsValid) {
			return "", bad("is not a CA certificate")
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes})...)
	}
	if out == nil {
		return "", bad("holds no PEM certificate")
	}
	return string(out), nil
}
