package handlers

import "github.com/labstack/echo/v4/middleware"

// routes registers every route of the API, in one place.
func (s *Server) routes() {
	e := s.e
	e.Use(recoverPanics())
	// requestScope also sets the request timeout (a hung dependency answers 503, not never).
	e.Use(s.requestScope(s.cfg.RequestTimeout), s.accessLog, s.instrument, s.securityHeaders, s.contentLengthOnly)
	if len(s.cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{AllowOrigins: s.cfg.CORSOrigins}))
	}

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.json", s.openapi)
	if s.d.Console != nil { // the web console (BROKER_UI), over the API below
		e.GET("/ui", s.consoleRedirect)
		e.GET("/ui/*", s.console)
	}

	api := e.Group("/api/v1", s.authenticate, s.rateLimit)
	// Replaces the catch-all the group's middleware registers, which would
	// answer 404 to a wrong method on a route of the group.
	api.RouteNotFound("/*", apiNotFound(e, "/api/v1/*"))
	idem := s.idempotent

	api.GET("/user/secrets", s.listSecrets)
	api.POST("/user/secrets", s.createSecret, idem)
	api.GET("/user/secrets/presets", s.listPresets)
	api.POST("/user/secrets/preset", s.createFromPreset, idem)
	api.GET("/user/secrets/:id", s.getSecret)
	api.PUT("/user/secrets/:id", s.updateSecret)
	api.DELETE("/user/secrets/:id", s.deleteSecret)
	api.GET("/user/secrets/:id/versions", s.listVersions)
	api.POST("/user/secrets/:id/rollback", s.rollback, idem)

	api.POST("/runtimes", s.createRuntime, idem)
	api.GET("/runtimes", s.listRuntimes)
	api.GET("/runtimes/:id", s.getRuntime)
	api.POST("/runtimes/:id/restart", s.restartRuntime, idem)
	api.DELETE("/runtimes/:id", s.deleteRuntime)

	api.POST("/evaluations", s.createEvaluation, idem)
	api.GET("/evaluations/:id", s.getEvaluation)
}

// adminRoutes registers the operator endpoints, served only on the admin
// listener (BROKER_ADMIN_ADDR), never on the API's.
func (s *Server) adminRoutes() {
	a := s.admin
	a.Use(recoverPanics())
	a.Use(s.requestScope(0), s.securityHeaders)
	a.GET("/metrics", s.metrics)
}
