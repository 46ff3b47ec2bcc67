// Package handlers is the broker's HTTP layer: echo routes, request binding,
// authentication, rate limits, idempotency and the one error-to-status mapping.
package handlers

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// Check is a named readiness probe.
type Check struct {
	Name string
	// Required: when it fails the broker is not ready (503); otherwise it is
	// reported as degraded and /readyz still answers 200.
	Required bool
	Pinger   broker.Pinger
}

// Config holds the HTTP layer's settings.
type Config struct {
	// IdempotencyTTL is how long a POST's first answer is replayed (default 24h).
	IdempotencyTTL time.Duration
	// RequestTimeout bounds every request (default 30s).
	RequestTimeout time.Duration
	// CORSOrigins, when set, enables CORS for exactly these origins.
	CORSOrigins []string
}

// Deps are what the HTTP layer works through.
type Deps struct {
	Secrets     SecretsService
	Runtimes    RuntimesService
	Evaluations EvaluationsService
	Auth        Authenticator
	// Limiter is keyed per API key; AuthFailLimiter per client address for
	// requests that fail authentication.
	Limiter         broker.Limiter
	AuthFailLimiter broker.Limiter
	Idempotency     broker.IdempotencyStore
	Checks          []Check
	OpenAPI         []byte
	// Console, when set, is the web console's files (index.html at the
	// root), served under /ui/; nil: no console.
	Console fs.FS
	// Metrics (default: a fresh set) are served at GET /metrics of AdminHandler.
	Metrics *Metrics
	Log     zerolog.Logger
}

// Server is the broker's HTTP API.
type Server struct {
	cfg   Config
	d     Deps
	e     *echo.Echo
	admin *echo.Echo
	// series are the request series of every registered route, by method
	// and route template.
	series map[string]map[string]*routeSeries
}

// New returns the HTTP API with every route registered.
func New(cfg Config, d Deps) *Server {
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The client address (failed-authentication limit, access log) is the
	// peer's: echo's default trusts X-Forwarded-For and X-Real-IP, which let a
	// client pick a fresh address for every guessed key.
	e.IPExtractor = echo.ExtractIPDirect()
	admin := echo.New()
	admin.HideBanner, admin.HidePort = true, true
	admin.IPExtractor = echo.ExtractIPDirect()
	s := &Server{cfg: cfg, d: d, e: e, admin: admin}
	e.HTTPErrorHandler = s.handleError
	admin.HTTPErrorHandler = s.handleError
	s.routes()
	s.adminRoutes()
	s.series = routeSeriesOf(e.Routes())
	return s
}

// Handler returns the API's http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

// AdminHandler returns the operator endpoints' http.Handler (GET /metrics),
// for a listener of its own that is not exposed with the API.
func (s *Server) AdminHandler() http.Handler { return s.admin }

// handleError writes the error envelope; internal errors are logged with
// their cause (which never carries a secret value) and the request id.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	env := envelopeFor(err)
	if errors.Is(err, context.DeadlineExceeded) && broker.ErrorCode(err) == broker.CodeInternal {
		env = envelopeFor(broker.Errorf(broker.CodeUnavailable, "the request timed out waiting for a dependency"))
	}
	if env.Code >= 500 {
		logger(c).Error().Err(err).Int("status", env.Code).Msg("request failed")
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(env.Code)
		return
	}
	_ = c.JSON(env.Code, env)
}
