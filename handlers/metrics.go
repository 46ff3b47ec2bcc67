package handlers

import (
	"net/http"
	"strconv"
	"sync"
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
		method, status := c.Request().Method, c.Response().Status
		if rs := s.series[method][c.Path()]; rs != nil {
			rs.observe(s.d.Metrics, status, time.Since(start))
			return nil
		}
		// Not a registered route: its method is the client's, so these
		// series are not kept here (prometheus keeps them).
		s.d.Metrics.requests.WithLabelValues("unmatched", method, strconv.Itoa(status)).Inc()
		s.d.Metrics.latency.WithLabelValues("unmatched", method).Observe(time.Since(start).Seconds())
		return nil
	}
}

// routeSeries holds one registered route's request series once looked up
// (by label values, hashed on every call), so that a request only finds its
// route in a map. Series are created at a route's first request, as by
// WithLabelValues: none is exported before.
type routeSeries struct {
	route, method string
	mu            sync.RWMutex
	latency       prometheus.Observer
	requests      map[int]prometheus.Counter // by status
}

// routeSeriesOf indexes routes ("METHOD /template") by method, then template.
func routeSeriesOf(routes []*echo.Route) map[string]map[string]*routeSeries {
	out := map[string]map[string]*routeSeries{}
	for _, r := range routes {
		if out[r.Method] == nil {
			out[r.Method] = map[string]*routeSeries{}
		}
		out[r.Method][r.Path] = &routeSeries{route: r.Path, method: r.Method, requests: map[int]prometheus.Counter{}}
	}
	return out
}

func (rs *routeSeries) observe(m *Metrics, status int, d time.Duration) {
	rs.mu.RLock()
	lat, n := rs.latency, rs.requests[status]
	rs.mu.RUnlock()
	if lat == nil || n == nil {
		rs.mu.Lock()
		if rs.latency == nil {
			rs.latency = m.latency.WithLabelValues(rs.route, rs.method)
		}
		if rs.requests[status] == nil {
			rs.requests[status] = m.requests.WithLabelValues(rs.route, rs.method, strconv.Itoa(status))
		}
		lat, n = rs.latency, rs.requests[status]
		rs.mu.Unlock()
	}
	n.Inc()
	lat.Observe(d.Seconds())
}

func (s *Server) metrics(c echo.Context) error {
	s.d.Metrics.handler().ServeHTTP(c.Response(), c.Request())
	return nil
}
