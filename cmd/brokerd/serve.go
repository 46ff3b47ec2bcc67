package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/handlers"
	"github.com/acme/secretsbroker/inproc"
	"github.com/acme/secretsbroker/internal/cpuprofile"
	"github.com/acme/secretsbroker/internal/envflag"
	"github.com/acme/secretsbroker/internal/logsetup"
	"github.com/acme/secretsbroker/redisx"
	"github.com/acme/secretsbroker/ui"
	"github.com/acme/secretsbroker/vaultx"
)

// stores are the Redis-or-in-process adapters of one broker process. Runtime
// and evaluation records and wrapping accessors are not among them: Vault KV
// keeps those (vaultx.Records), so provisioning and revocation do not depend
// on Redis.
type stores struct {
	cache    broker.ListCache
	idem     broker.IdempotencyStore
	limiter  broker.Limiter
	authFail broker.Limiter
	redis    broker.Pinger // nil without Redis
	close    func()
}

// rateLeaseTTL is how long a replica keeps events leased from the shared
// per-key limit (redisx.LeasedLimiter).
const rateLeaseTTL = 10 * time.Second

// authFailNotices names the pub/sub channel (<prefix>rl:authfail-notice) on
// which replicas announce failed authentications to each other.
const authFailNotices = "authfail-notice"

func openStores(ctx context.Context, cfg serveConfig, log zerolog.Logger) (stores, error) {
	if !cfg.redisConfigured() {
		mem := inproc.New(time.Now, inproc.Options{})
		lim, err := inproc.NewLimiter(time.Now, cfg.RatePerMinute, time.Minute, cfg.RateBurst, 0)
		if err != nil {
			return stores{}, usagef("rate limit: %v", err)
		}
		fail, err := inproc.NewLimiter(time.Now, cfg.AuthFailPerMin, time.Minute, cfg.AuthFailPerMin, 0)
		if err != nil {
			return stores{}, usagef("auth failure limit: %v", err)
		}
		return stores{cache: mem.ListCache(), idem: mem.Idempotency(), limiter: lim, authFail: fail, close: func() {}}, nil
	}
	redisx.RouteLibraryLogs(log)
	rc, err := openRedis(ctx, cfg, log)
	if err != nil {
		return stores{}, err
	}
	lim, err := redisx.NewLimiter(rc, cfg.RatePerMinute, time.Minute, cfg.RateBurst)
	if err != nil {
		return stores{}, usagef("rate limit: %v", err)
	}
	sharedFail, err := redisx.NewLimiter(rc, cfg.AuthFailPerMin, time.Minute, cfg.AuthFailPerMin)
	if err != nil {
		return stores{}, usagef("auth failure limit: %v", err)
	}
	// With Redis down the failed-authentication limit still holds, per replica.
	localFail, err := inproc.NewLimiter(time.Now, cfg.AuthFailPerMin, time.Minute, cfg.AuthFailPerMin, 0)
	if err != nil {
		return stores{}, usagef("auth failure limit: %v", err)
	}
	// Every request peeks at the failed-authentication limit of its address;
	// the peek asks Redis only about addresses some replica has announced a
	// failure of lately (redisx.NoticedLimiter).
	noticed := sharedFail.Noticed(ctx, authFailNotices, redisx.NoticeOptions{})
	fail := broker.FallbackLimiter{Primary: noticed, Fallback: localFail, Warn: func(ctx context.Context, component string, err error) {
		zerolog.Ctx(ctx).Warn().Err(err).Str("component", component).Msg("shared rate limiter unavailable; per-replica limit applied")
	}}
	// The per-key limit takes events from Redis in leases (one round trip per
	// lease for a busy key, not per request); the failed-authentication
	// limit takes each failure from Redis, exactly.
	return stores{
		cache: rc.ListCache(), idem: rc.Idempotency(), limiter: lim.Leased(rateLeaseTTL, time.Now), authFail: fail,
		redis: rc, close: func() { noticed.Close(); _ = rc.Close() },
	}, nil
}

// openRedis connects to REDIS_URL, or to the master the sentinels name.
func openRedis(ctx context.Context, cfg serveConfig, log zerolog.Logger) (*redisx.Client, error) {
	setting := "REDIS_URL"
	var rc *redisx.Client
	var err error
	if cfg.RedisSentinel.set() {
		setting = "REDIS_SENTINEL_ADDRS"
		rc, err = redisx.NewFailover(ctx, cfg.RedisSentinel.sentinel(), redisx.Options{}, log)
	} else {
		rc, err = redisx.New(ctx, cfg.RedisURL, redisx.Options{}, log)
	}
	if broker.IsCode(err, broker.CodeInvalid) {
		return nil, usagef("%s: %v", setting, errMessage(err))
	}
	return rc, err
}

// serve runs the API until ctx is cancelled, then drains in-flight requests.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServeConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	log, err := logsetup.New("brokerd", "BROKER_LOG_LEVEL", cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	stopProfile, err := cpuprofile.Start("BROKER_CPUPROFILE", getenv("BROKER_CPUPROFILE"))
	if err != nil {
		return err
	}
	defer stopProfile()
	// Bind first: a bad or busy address is a setting error, before any log line.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return usagef("BROKER_LISTEN_ADDR %q: %v", cfg.Listen, err)
	}
	defer ln.Close() // after Serve has closed it: a no-op
	metrics := handlers.NewMetrics()
	cfg.Vault.Observe = metrics.ObserveVault
	vc, err := vaultx.New(ctx, cfg.Vault, log)
	if err != nil {
		if broker.IsCode(err, broker.CodeInvalid) {
			return usagef("%v", errMessage(err))
		}
		return err
	}
	defer vc.Close()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go sweepBundles(sweepCtx, vc, cfg.BundleMaxAge, cfg.RequestTimeout, log)
	go sweepAccessors(sweepCtx, vc.Records(), max(cfg.WrapTTL, time.Minute), cfg.RequestTimeout, log)
	st, err := openStores(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.close()
	presets, _ := cfg.presets()

	warn := func(ctx context.Context, component string, err error) {
		zerolog.Ctx(ctx).Warn().Err(err).Str("component", component).Msg("degraded")
	}
	svc := broker.NewService(broker.Config{
		Limits: cfg.Limits, DeniedNames: cfg.deniedNames(), Presets: presets,
		SandboxVaultAddr: cfg.SandboxVaultAddr, WrapTTL: cfg.WrapTTL, MaxWrapTTL: cfg.MaxWrapTTL, NameGrace: cfg.NameGrace, Warn: warn,
		Observer: metrics, DefaultDelivery: cfg.Egress.Delivery, Egress: cfg.egress,
	}, broker.Deps{Secrets: vc, Crypto: vc, Boot: vc, Records: vc.Records(), Cache: st.cache, Egress: vc})
	checks := []handlers.Check{
		{Name: "vault", Required: true, Pinger: vc},
		{Name: "vault_layout", Required: true, Pinger: vaultx.NewLayoutCheck(vc, 10*time.Second, time.Now)},
		{Name: "redis", Pinger: st.redis},
	}
	var console fs.FS
	if cfg.UI {
		console = ui.Assets()
	}
	srv := handlers.New(handlers.Config{RequestTimeout: cfg.RequestTimeout, CORSOrigins: envflag.SplitList(cfg.CORSOrigins)}, handlers.Deps{
		Console: console,
		Secrets: svc, Runtimes: svc, Evaluations: svc, Auth: broker.NewAuthenticator(vc, cfg.AuthCacheTTL, time.Now),
		Limiter: st.limiter, AuthFailLimiter: st.authFail, Idempotency: st.idem,
		Checks: checks, OpenAPI: handlers.OpenAPISpec(), Metrics: metrics, Log: log,
	})

	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	admin, err := listenAdmin(cfg.AdminListen, srv.AdminHandler())
	if err != nil {
		_ = ln.Close()
		return err
	}
	ev := log.Info().Str("addr", ln.Addr().String()).Str("vault", cfg.Vault.Addr).Bool("redis", cfg.redisConfigured()).
		Str("wrap_ttl", cfg.WrapTTL.String()).Str("delivery_default", cfg.Egress.Delivery).Bool("egress", cfg.egress != nil)
	if admin != nil {
		ev = ev.Str("admin_addr", admin.addr)
	}
	ev.Msg("listening")
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if admin != nil {
		go func() { errc <- admin.hs.Serve(admin.ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if admin != nil {
		_ = admin.hs.Shutdown(sctx)
	}
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info().Msg("stopped")
	return nil
}

// adminServer is the operator listener (metrics), apart from the API's.
type adminServer struct {
	ln   net.Listener
	hs   *http.Server
	addr string
}

// listenAdmin opens the admin listener on addr; nil when addr is empty.
func listenAdmin(addr string, h http.Handler) (*adminServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usagef("BROKER_ADMIN_ADDR %q: %v", addr, err)
	}
	return &adminServer{ln: ln, addr: ln.Addr().String(), hs: &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10,
	}}, nil
}

// errMessage returns a coded error's caller-safe message.
func errMessage(err error) string {
	var be *broker.Error
	if errors.As(err, &be) {
		return be.Message
	}
	return err.Error()
}
