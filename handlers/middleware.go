package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// HeaderRequestID carries the request id in both directions; the same id is
// sent to Vault (audited) and written on every log line of the request.
const HeaderRequestID = "X-Request-Id"

// validRequestID reports whether id has the only shape of a client's
// X-Request-Id the broker keeps (it goes into every log line and Vault's
// audit log): 1-64 letters, digits, '.', '_' or '-'. Anything else is
// replaced by a fresh id. (A byte loop: it runs on every request; the tests
// hold it to the regexp ^[A-Za-z0-9._-]{1,64}$.)
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestScope takes a well-formed incoming X-Request-Id or makes one, and
// puts it, a request logger, the audit context and, when timeout > 0, the
// request's deadline on the request: one context, one copy of the request.
// The deadline is cancelled when the whole chain below has returned, so it
// bounds the handler and everything the middleware after this one does.
func (s *Server) requestScope(timeout time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			id := req.Header.Get(HeaderRequestID)
			if !validRequestID(id) {
				id = newRequestID()
			}
			c.Response().Header().Set(HeaderRequestID, id)
			ctx := req.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			// The logger is this request's own (authenticate adds the user to
			// it in place); the context holds a pointer to it.
			l := s.d.Log.With().Str("request_id", id).Logger()
			ctx = broker.WithAudit(l.WithContext(ctx), broker.Audit{RequestID: id})
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

func logger(c echo.Context) *zerolog.Logger { return zerolog.Ctx(c.Request().Context()) }

// accessLog writes one structured line per request. It never logs bodies,
// query strings or headers that could carry a key.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		res, req := c.Response(), c.Request()
		l := zerolog.Ctx(req.Context())
		var ev *zerolog.Event
		if res.Status >= 500 {
			ev = l.Warn()
		} else {
			ev = l.Info()
		}
		a := broker.AuditFrom(req.Context())
		ev.Str("method", req.Method).Str("route", c.Path()).Int("status", res.Status).
			Int64("bytes", res.Size).Dur("latency", time.Since(start)).Str("user", a.UserID).
			Str("remote", c.RealIP()).Msg("request")
		return nil
	}
}

// hardening are the headers securityHeaders puts on every answer, with
// canonical keys. Their value slices are shared by every answer and never
// written: each has len == cap, so a Header.Add copies rather than appends
// in place, and Header.Set replaces the slice.
var hardening = [...]struct {
	key   string
	value []string
}{
	{"Cache-Control", []string{"no-store"}},
	{"Pragma", []string{"no-cache"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"Referrer-Policy", []string{"no-referrer"}},
	{"Content-Security-Policy", []string{"default-src 'none'; frame-ancestors 'none'"}},
}

// securityHeaders marks every answer as not cacheable (answers describe
// secrets) and sets the usual hardening headers.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		for _, hv := range hardening {
			h[hv.key] = hv.value
		}
		return next(c)
	}
}

// contentLengthOnly refuses a request whose body is framed by
// Transfer-Encoding (400) and closes the connection. Go's server honours
// Transfer-Encoding over a Content-Length sent with it and drops the latter,
// so the two cannot be told apart here: a proxy that frames by Content-Length
// would see one request where Go sees two (request smuggling). Clients send
// Content-Length; HTTP/2 has no Transfer-Encoding.
func (s *Server) contentLengthOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(c.Request().TransferEncoding) > 0 {
			c.Response().Header().Set("Connection", "close")
			return errFraming()
		}
		return next(c)
	}
}

// apiKeyCtxKey carries the request's authenticated broker.APIKey (a
// pointer) on the context authenticate sets, with the audit's user.
type apiKeyCtxKey struct{}

// headerAPIKey is X-API-Key in the canonical form net/http stores request
// headers under (Header.Values would build it on every request).
const headerAPIKey = "X-Api-Key"

// apiKeyFrom reads the one credential of a request: X-API-Key, or
// Authorization spelled exactly "Bearer <key>" (the scheme in any case, one
// space). Two X-API-Key or two Authorization headers, or an X-API-Key and a
// bearer key that differ, are a bad request (400): the broker never picks one
// of several credentials. The same key in both is accepted. An Authorization
// header of any other shape is unauthenticated. "" with a nil error means no
// credential was sent.
func apiKeyFrom(r *http.Request) (string, error) {
	keys, auths := r.Header[headerAPIKey], r.Header["Authorization"]
	if len(keys) > 1 || len(auths) > 1 {
		return "", errCredentials("send one X-API-Key or one Authorization header")
	}
	var key, bearer string
	if len(keys) == 1 {
		key = keys[0]
	}
	if len(auths) == 1 {
		scheme, tok, ok := strings.Cut(auths[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
			return "", broker.Errorf(broker.CodeUnauthenticated, "malformed Authorization header: want Bearer <key>")
		}
		bearer = tok
	}
	switch {
	case key != "" && bearer != "" && key != bearer:
		return "", errCredentials("X-API-Key and Authorization name different keys: send one")
	case key != "":
		return key, nil
	default:
		return bearer, nil
	}
}

// authenticate resolves the API key to a user. Failures are limited per
// client address, and the limit is checked before the key is looked up: an
// address over it gets 429 without a Vault read, whatever key it sends (a
// correct key too, so 429 versus 200 tells nothing about a guess).
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		key, err := apiKeyFrom(req)
		if err != nil && !broker.IsCode(err, broker.CodeUnauthenticated) {
			return err // several credentials: a bad request, not a guess
		}
		failKey := "authfail:" + c.RealIP()
		if lerr := s.peekLimit(c, s.d.AuthFailLimiter, "auth_failure", failKey); lerr != nil {
			return lerr
		}
		var k broker.APIKey
		switch {
		case err != nil:
		case key == "":
			err = broker.Errorf(broker.CodeUnauthenticated, "missing API key: send X-API-Key or Authorization: Bearer")
		default:
			k, err = s.d.Auth.Authenticate(req.Context(), key)
		}
		if err != nil {
			if broker.IsCode(err, broker.CodeUnauthenticated) {
				if lerr := s.limit(c, s.d.AuthFailLimiter, "auth_failure", failKey); lerr != nil {
					return lerr
				}
			}
			return err
		}
		a := broker.AuditFrom(req.Context())
		a.UserID = k.UserID
		c.SetRequest(req.WithContext(context.WithValue(broker.WithAudit(req.Context(), a), apiKeyCtxKey{}, &k)))
		// The request logger (requestScope's, this request's alone) names the
		// user on every later line. No other goroutine of the request runs
		// yet. (Without a request logger, Ctx answers a disabled logger, which
		// UpdateContext leaves alone, or the process-wide default: never
		// changed.)
		if l := zerolog.Ctx(req.Context()); l != zerolog.DefaultContextLogger {
			l.UpdateContext(func(lc zerolog.Context) zerolog.Context { return lc.Str("user", k.UserID) })
		}
		return next(c)
	}
}

func apiKeyOf(c echo.Context) broker.APIKey {
	if k, ok := c.Request().Context().Value(apiKeyCtxKey{}).(*broker.APIKey); ok {
		return *k
	}
	return broker.APIKey{}
}

// rateLimit applies the per-API-key GCRA limit (the key's hash is the bucket).
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.limit(c, s.d.Limiter, "api_key", "key:"+apiKeyOf(c).ID); err != nil {
			return err
		}
		return next(c)
	}
}

// peekLimit answers 429 when l would not admit one more event for key,
// without taking one. A limiter that fails lets the request through (logged).
func (s *Server) peekLimit(c echo.Context, l broker.Limiter, name, key string) error {
	if l == nil {
		return nil
	}
	d, err := l.Peek(c.Request().Context(), key)
	if err != nil {
		logger(c).Warn().Err(err).Str("component", "rate_limit").Msg("rate limiter unavailable; request allowed")
		return nil
	}
	if !d.Allowed {
		return s.refuse(c, name, d)
	}
	return nil
}

// limit asks l about key. When the limiter's store is down it lets the
// request through (degraded, logged): Vault remains the gate for data.
func (s *Server) limit(c echo.Context, l broker.Limiter, name, key string) error {
	if l == nil {
		return nil
	}
	d, err := l.Allow(c.Request().Context(), key)
	if err != nil {
		logger(c).Warn().Err(err).Str("component", "rate_limit").Msg("rate limiter unavailable; request allowed")
		return nil
	}
	h := c.Response().Header()
	h[headerRateLimitRemaining] = []string{strconv.Itoa(max(d.Remaining, 0))}
	if !d.Allowed {
		return s.refuse(c, name, d)
	}
	return nil
}

// headerRateLimitRemaining is X-RateLimit-Remaining in the canonical form
// Header.Set would give it (which it would build on every request).
const headerRateLimitRemaining = "X-Ratelimit-Remaining"

func (s *Server) refuse(c echo.Context, name string, d broker.Decision) error {
	s.d.Metrics.rateLimited.WithLabelValues(name).Inc()
	h := c.Response().Header()
	h[headerRateLimitRemaining] = []string{"0"}
	h.Set("Retry-After", strconv.Itoa(max(1, int((d.RetryAfter+time.Second-1)/time.Second))))
	return errRateLimited()
}
