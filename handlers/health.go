package handlers

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/broker"
)

type probe struct {
	Status string `json:"status"` // ok, unavailable, disabled
	Detail string `json:"detail,omitempty"`
}

type readiness struct {
	Status string           `json:"status"` // ready, degraded, unavailable
	Checks map[string]probe `json:"checks"`
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when every required dependency answers (degraded when
// an optional one does not) and 503 naming the cause otherwise.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	out := readiness{Status: "ready", Checks: map[string]probe{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ch := range s.d.Checks {
		wg.Go(func() {
			p := probe{Status: "ok"}
			if ch.Pinger == nil {
				p.Status = "disabled"
			} else if err := ch.Pinger.Ping(ctx); err != nil {
				p.Status = "unavailable"
				var be *broker.Error
				if errors.As(err, &be) {
					p.Detail = be.Message
				} else {
					p.Detail = "no answer"
				}
			}
			mu.Lock()
			defer mu.Unlock()
			out.Checks[ch.Name] = p
			if p.Status == "unavailable" {
				if ch.Required {
					out.Status = "unavailable"
				} else if out.Status == "ready" {
					out.Status = "degraded"
				}
			}
		})
	}
	wg.Wait()
	status := http.StatusOK
	if out.Status == "unavailable" {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, out)
}

func (s *Server) openapi(c echo.Context) error {
	if len(s.d.OpenAPI) == 0 {
		return broker.Errorf(broker.CodeNotFound, "no OpenAPI description configured")
	}
	return c.JSONBlob(http.StatusOK, s.d.OpenAPI)
}
