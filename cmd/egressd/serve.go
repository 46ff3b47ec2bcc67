package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/egressproxy"
	"github.com/acme/secretsbroker/internal/cpuprofile"
	"github.com/acme/secretsbroker/internal/logsetup"
	"github.com/acme/secretsbroker/vaultx"
)

// serve runs the proxy until ctx is cancelled, then drains.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServeConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log, err := logsetup.New("egressd", "EGRESS_LOG_LEVEL", cfg.LogLevel, stdout)
	if err != nil {
		return err
	}
	ca, err := cfg.ca()
	if err != nil {
		return err
	}
	stopProfile, err := cpuprofile.Start("EGRESS_CPUPROFILE", getenv("EGRESS_CPUPROFILE"))
	if err != nil {
		return err
	}
	defer stopProfile()
	roots, err := cfg.upstreamRoots()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return usagef("EGRESS_LISTEN_ADDR %q: %v", cfg.Listen, err)
	}
	defer ln.Close()
	var adminLn net.Listener
	if cfg.AdminListen != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			return usagef("EGRESS_ADMIN_ADDR %q: %v", cfg.AdminListen, err)
		}
		defer adminLn.Close()
	}
	vc, err := vaultx.New(ctx, cfg.Vault, log)
	if err != nil {
		if broker.IsCode(err, broker.CodeInvalid) {
			return usagef("%s", errMessage(err))
		}
		return err
	}
	defer vc.Close()
	metrics := egressproxy.NewMetrics()
	px, err := egressproxy.New(egressproxy.Config{
		Source:        egressproxy.NewCache(vc, egressproxy.CacheConfig{RecordTTL: cfg.RecordTTL, ValueTTL: cfg.ValueTTL}),
		CA:            ca,
		Intercept:     cfg.Intercept,
		DefaultDeny:   cfg.DefaultDeny,
		AllowHosts:    cfg.allow,
		Resolve:       cfg.resolve,
		UpstreamRoots: roots,
		Metrics:       metrics,
		Log:           log,
	})
	if err != nil {
		return usagef("%s", errMessage(err))
	}
	hs := &http.Server{
		Handler:           px,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          nil,
	}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	var admin *http.Server
	ev := log.Info().Str("addr", ln.Addr().String()).Str("vault", cfg.Vault.Addr).Str("intercept", cfg.Intercept).
		Bool("default_deny", cfg.DefaultDeny).Str("value_ttl", cfg.ValueTTL.String()).Str("record_ttl", cfg.RecordTTL.String())
	if adminLn != nil {
		admin = &http.Server{Handler: adminHandler(vc, metrics), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10}
		go func() { errc <- admin.Serve(adminLn) }()
		ev = ev.Str("admin_addr", adminLn.Addr().String())
	}
	ev.Msg("listening")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if admin != nil {
		_ = admin.Shutdown(sctx)
	}
	err = hs.Shutdown(sctx)
	_ = px.Close(sctx)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info().Msg("stopped")
	return nil
}

// adminHandler serves /healthz (the process answers), /readyz (Vault
// answers) and /metrics.
func adminHandler(vault broker.Pinger, m *egressproxy.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := vault.Ping(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": map[string]string{"vault": errMessage(err)}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": map[string]string{"vault": "ok"}})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errMessage returns a coded error's caller-safe message.
func errMessage(err error) string {
	var be *broker.Error
	if errors.As(err, &be) {
		return be.Message
	}
	return err.Error()
}
