package egressproxy

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are egressd's Prometheus metrics. No label carries a user,
// secret or sandbox id, nor a host (unbounded): only fixed words.
type Metrics struct {
	Registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	substitutions prometheus.Counter
	alerts        *prometheus.CounterVec
	tunnels       prometheus.Gauge
	intercepted   prometheus.Gauge
	lookups       *prometheus.CounterVec
}

// NewMetrics registers egressd's metrics (and the Go and process
// collectors) on a fresh registry.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egressd_requests_total",
			Help: "Requests handled, by kind (connect, tunnel, intercepted, plain) and outcome (ok, refused, unauthenticated, unavailable, upstream_error).",
		}, []string{"kind", "outcome"}),
		substitutions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "egressd_substitutions_total",
			Help: "Placeholders replaced by their value on a forwarded request.",
		}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egressd_alerts_total",
			Help: "Tripwire alerts, by kind.",
		}, []string{"kind"}),
		tunnels: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egressd_tunnels_open",
			Help: "CONNECT tunnels open (not intercepted).",
		}),
		intercepted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egressd_intercepted_connections_open",
			Help: "Intercepted (TLS-terminated) connections open.",
		}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egressd_lookup_errors_total",
			Help: "Record or value reads that failed for another reason than not found, by what (sandbox, placeholder, value).",
		}, []string{"what"}),
	}
	r.MustRegister(m.requests, m.substitutions, m.alerts, m.tunnels, m.intercepted, m.lookups,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, k := range AlertKinds() {
		m.alerts.WithLabelValues(k)
	}
	return m
}
