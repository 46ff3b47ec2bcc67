package vaultx

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/broker"
)

// Defaults applied by Config.withDefaults.
const (
	DefaultKVMount      = "broker"
	DefaultTransitMount = "transit"
	DefaultTransitKey   = "broker-secrets"
	DefaultTimeout      = 10 * time.Second
	DefaultMaxRetries   = 2
)

// Config says how to reach and authenticate to Vault. The cmd layer fills it
// (from flags and VAULT_* variables); vaultx never reads the environment.
type Config struct {
	Addr string // e.g. https://vault.example.com:8200

	// Token auth: Token. AppRole auth: RoleIDFile and SecretIDFile (read at
	// every login, so a rotated secret_id is picked up). Token wins when set.
	Token        string
	RoleIDFile   string
	SecretIDFile string
	// AppRoleMount is the AppRole auth mount (default "approle").
	AppRoleMount string

	KVMount      string        // default "broker"
	TransitMount string        // default "transit"
	TransitKey   string        // default "broker-secrets"
	Timeout      time.Duration // per request, default 10s
	// MaxRetries of a request on 5xx, 429 and connection errors (an api
	// client of NewAPIClient): 0 means DefaultMaxRetries, negative means none.
	// The broker's Client retries by its own policy within each call's
	// deadline (what is safe to repeat; see retry.go); negative turns that off.
	MaxRetries int

	// TLS, as the VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT,
	// VAULT_CLIENT_KEY, VAULT_TLS_SERVER_NAME and VAULT_SKIP_VERIFY variables.
	CACert        string
	CAPath        string
	ClientCert    string
	ClientKey     string
	TLSServerName string
	Insecure      bool

	// Observe, when set, receives every Vault call's operation and latency
	// (for metrics). Not a setting: the cmd layer wires it.
	Observe ObserveFunc
}

func (c Config) withDefaults() Config {
	if c.KVMount == "" {
		c.KVMount = DefaultKVMount
	}
	if c.TransitMount == "" {
		c.TransitMount = DefaultTransitMount
	}
	if c.TransitKey == "" {
		c.TransitKey = DefaultTransitKey
	}
	if c.AppRoleMount == "" {
		c.AppRoleMount = "approle"
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	c.KVMount = strings.Trim(c.KVMount, "/")
	c.TransitMount = strings.Trim(c.TransitMount, "/")
	c.AppRoleMount = strings.Trim(c.AppRoleMount, "/")
	return c
}

// validate checks everything that can be checked without Vault. Errors are
// CodeInvalid with a one-line message.
func (c Config) validate() error {
	if err := validateAddr(c.Addr); err != nil {
		return err
	}
	if c.Token == "" && (c.RoleIDFile == "" || c.SecretIDFile == "") {
		return broker.Errorf(broker.CodeInvalid, "vault auth: set a token, or both a role_id file and a secret_id file")
	}
	for _, m := range []struct{ name, v string }{{"kv mount", c.KVMount}, {"transit mount", c.TransitMount}, {"transit key", c.TransitKey}, {"approle mount", c.AppRoleMount}} {
		if m.v == "" || strings.Contains(m.v, "..") || strings.ContainsAny(m.v, " ?#%\\") || strings.Contains(m.v, "//") {
			return broker.Errorf(broker.CodeInvalid, "%s %q is not a valid vault path", m.name, m.v)
		}
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		return broker.Errorf(broker.CodeInvalid, "vault TLS: a client certificate needs a client key and the other way round")
	}
	return nil
}

// CheckAddr checks that addr is a usable Vault address, http(s)://host[:port],
// without touching the network; the message never shows a password the
// address may hold. Errors: invalid.
func CheckAddr(addr string) error { return validateAddr(addr) }

func validateAddr(addr string) error {
	if addr == "" {
		return broker.Errorf(broker.CodeInvalid, "vault address is empty")
	}
	shown := shownAddr(addr)
	u, err := url.Parse(addr)
	if err != nil {
		return broker.Errorf(broker.CodeInvalid, "vault address %s is malformed", shown)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return broker.Errorf(broker.CodeInvalid, "vault address %s is malformed: scheme must be http or https", shown)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return broker.Errorf(broker.CodeInvalid, "vault address %s is malformed: want scheme://host[:port]", shown)
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil {
			return broker.Errorf(broker.CodeInvalid, "vault address %s is malformed: bad port", shown)
		}
	}
	return nil
}

// shownAddr is addr quoted for an error message, without what may be a
// password: userinfo is replaced, and an address holding "@" that does not
// parse is not shown at all.
func shownAddr(addr string) string {
	u, err := url.Parse(addr)
	switch {
	case err == nil && u.User != nil:
		return fmt.Sprintf("%q", u.Redacted())
	case strings.Contains(addr, "@"):
		return "(not shown: it may hold credentials)"
	default:
		return fmt.Sprintf("%q", addr)
	}
}

// APIOptions tunes NewAPIClient.
type APIOptions struct {
	// RoundTrips, when set, counts every HTTP request sent to Vault.
	RoundTrips *atomic.Uint64
	// Observe, when set, receives every Vault call's operation and latency.
	Observe ObserveFunc
}

// NewAPIClient returns a Vault API client for cfg.Addr with cfg's timeout,
// retries and TLS settings and a pooled transport (HTTP/2 where TLS allows),
// holding cfg.Token. It reads no VAULT_* variable of its own (the api package
// itself still looks at VAULT_TOKEN, VAULT_NAMESPACE and VAULT_HEADERS inside
// api.NewClient: the token and namespace are reset here). It is what the cmd
// layer uses for admin work (Setup) and what sandbox-init uses (with no token).
// Errors: invalid.
func NewAPIClient(cfg Config, opts APIOptions) (*api.Client, error) {
	c, _, err := newAPIClient(cfg, opts)
	return c, err
}

// newAPIClient is NewAPIClient that also returns the bare transport, whose
// TLS settings (from ConfigureTLS) the direct transport reuses.
func newAPIClient(cfg Config, opts APIOptions) (*api.Client, *http.Transport, error) {
	cfg = cfg.withDefaults()
	if err := validateAddr(cfg.Addr); err != nil {
		return nil, nil, err
	}
	if (cfg.ClientCert == "") != (cfg.ClientKey == "") {
		return nil, nil, broker.Errorf(broker.CodeInvalid, "vault TLS: a client certificate needs a client key and the other way round")
	}
	tr := &http.Transport{
		DialContext:           newDialer().DialContext,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	ac := &api.Config{
		Address:      cfg.Addr,
		HttpClient:   &http.Client{Transport: tr, Timeout: cfg.Timeout},
		Timeout:      cfg.Timeout,
		MaxRetries:   max(cfg.MaxRetries, 0),
		MinRetryWait: 100 * time.Millisecond,
		MaxRetryWait: time.Second,
	}
	// Vault's client follows one redirect itself; the http.Client must not.
	ac.HttpClient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if err := ac.ConfigureTLS(&api.TLSConfig{
		CACert:        cfg.CACert,
		CAPath:        cfg.CAPath,
		ClientCert:    cfg.ClientCert,
		ClientKey:     cfg.ClientKey,
		TLSServerName: cfg.TLSServerName,
		Insecure:      cfg.Insecure,
	}); err != nil {
		return nil, nil, broker.WithCode(broker.CodeInvalid, err, "vault TLS settings: "+oneLine(err))
	}
	// Wrap after ConfigureTLS, which needs the bare *http.Transport.
	ac.HttpClient.Transport = &countingTransport{next: tr, n: opts.RoundTrips, observe: opts.Observe, kv: cfg.KVMount, transit: cfg.TransitMount}
	c, err := api.NewClient(ac)
	if err != nil {
		return nil, nil, broker.WithCode(broker.CodeInvalid, err, "vault client: "+oneLine(err))
	}
	c.ClearNamespace()
	c.SetToken(cfg.Token)
	return c, tr, nil
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// String keeps %v and %s of a Config from printing the token.
func (c Config) String() string {
	tok := ""
	if c.Token != "" {
		tok = "(set)"
	}
	return fmt.Sprintf("vaultx.Config{Addr:%s Token:%s RoleIDFile:%s SecretIDFile:%s KVMount:%s TransitMount:%s TransitKey:%s Timeout:%s}",
		c.Addr, tok, c.RoleIDFile, c.SecretIDFile, c.KVMount, c.TransitMount, c.TransitKey, c.Timeout)
}

// GoString keeps %#v of a Config from printing the token.
func (c Config) GoString() string { return c.String() }

// The connection settings of every transport to Vault (vault/api's and the
// direct transport): a dial gives up after 5 s, TCP keep-alives every 30 s,
// a TLS handshake gives up after 10 s.
const tlsHandshakeTimeout = 10 * time.Second

func newDialer() *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
}
