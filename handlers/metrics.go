package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the broker's Prometheus series. Labels are bounded: route
// templates, methods, statuses, Vault operations. Never a user id, a secret
// id, a name or a value.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	vault       *prometheus.HistogramVec
	issued      prometheus.Counter
	revoked     prometheus.Counter
	listCache   *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
}

// NewMetrics returns the broker's metrics on a registry of their own (with
// the Go runtime and process collectors).
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "broker_http_requests_total", Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "broker_http_request_duration_seconds", Help: "HTTP request latency by route template and method.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"route", "method"}),
		vault: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "broker_vault_request_duration_seconds", Help: "Vault call latency by operation and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"operation", "outcome"}),
		issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "broker_bootstrap_tokens_issued_total", Help: "Bootstrap (response-wrapping) tokens minted.",
		}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "broker_bootstrap_tokens_revoked_total", Help: "Bootstrap tokens revoked before use (restart, delete, failed provisioning).",
		}),
		listCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "broker_list_cache_requests_total", Help: "Secret list cache lookups by result (hit or miss).",
		}, []string{"result"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "broker_rate_limited_total", Help: "Requests refused by a rate limit, by limiter (api_key or auth_failure).",
		}, []string{"limiter"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.vault, m.issued, m.revoked, m.listCache, m.rateLimited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"hit", "miss"} {
		m.listCache.WithLabelValues(r)
	}
	for _, l := range []string{"api_key", "auth_failure"} {
		m.rateLimited.WithLabelValues(l)
	}
	return m
}

// TokensIssued implements broker.Observer.
func (m *Metrics) TokensIssued(n int) { m.issued.Add(float64(n)) }

// TokensRevoked implements broker.Observer.
func (m *Metrics) TokensRevoked(n int) { m.revoked.Add(float64(n)) }

// ListCache implements broker.Observer.
func (m *Metrics) ListCache(hit bool) {
	if hit {
		m.listCache.WithLabelValues("hit").Inc()
	} else {
		m.listCache.WithLabelValues("miss").Inc()
	}
}

// ObserveVault records one Vault call; operation is a fixed name such as
// "kv_read" or "transit_decrypt".
func (m *Metrics) ObserveVault(operation string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.vault.WithLabelValues(operation, outcome).Observe(d.Seconds())
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instrument counts and times every request by route template.
func (s *Server) instrument(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if !s.known[c.Request().Method+" "+route] {
			route = "unmatched"
		}
		method := c.Request().Method
		s.d.Metrics.requests.WithLabelValues(route, method, strconv.Itoa(c.Response().Status)).Inc()
		s.d.Metrics.latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

func (s *Server) metrics(c echo.Context) error {
	s.d.Metrics.handler().ServeHTTP(c.Response(), c.Request())
	return nil
}
