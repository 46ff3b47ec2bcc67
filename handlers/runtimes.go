package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/broker"
)

type runtimeBody struct {
	ProjectID string   `json:"project_id"`
	Name      string   `json:"name"`
	SecretIDs []string `json:"secret_ids"`
	Delivery  string   `json:"delivery"`
}

type restartBody struct {
	SecretIDs *[]string `json:"secret_ids"`
	Delivery  string    `json:"delivery"`
}

type evaluationBody struct {
	ProjectID string   `json:"project_id"`
	SecretIDs []string `json:"secret_ids"`
	Delivery  string   `json:"delivery"`
	Items     []struct {
		Name string `json:"name"`
	} `json:"items"`
}

// withToken answers status with v, and hands the idempotency layer the same
// answer marshalled by redacted (tokens removed) for storage.
func withToken(c echo.Context, status int, v any, redacted func() any) error {
	if b, err := json.Marshal(redacted()); err == nil {
		c.Set(ctxKeyReplayBody, b)
	}
	return c.JSON(status, v)
}

func redactSandbox(sb broker.Sandbox) broker.Sandbox {
	if sb.Bootstrap != nil {
		b := *sb.Bootstrap
		b.Token = ""
		sb.Bootstrap = &b
	}
	return sb
}

func (s *Server) createRuntime(c echo.Context) error {
	var b runtimeBody
	if err := bind(c, &b); err != nil {
		return err
	}
	rt, err := s.d.Runtimes.CreateRuntime(c.Request().Context(), userOf(c), broker.RuntimeInput(b))
	if err != nil {
		return err
	}
	return withToken(c, http.StatusCreated, rt, func() any { r := rt; r.Sandbox = redactSandbox(r.Sandbox); return r })
}

func (s *Server) listRuntimes(c echo.Context) error {
	list, err := s.d.Runtimes.ListRuntimes(c.Request().Context(), userOf(c))
	if err != nil {
		return err
	}
	if list == nil {
		list = []broker.Runtime{}
	}
	return c.JSON(http.StatusOK, map[string]any{"runtimes": list, "total": len(list)})
}

func (s *Server) getRuntime(c echo.Context) error {
	rt, err := s.d.Runtimes.GetRuntime(c.Request().Context(), userOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rt)
}

func (s *Server) restartRuntime(c echo.Context) error {
	var b restartBody
	if raw, err := readBody(c); err != nil {
		return err
	} else if len(raw) > 0 {
		if err := decodeJSON(raw, &b); err != nil {
			return err
		}
	}
	var ids []string
	if b.SecretIDs != nil {
		ids = *b.SecretIDs
		if ids == nil {
			ids = []string{}
		}
	}
	rt, err := s.d.Runtimes.RestartRuntimeWith(c.Request().Context(), userOf(c), c.Param("id"),
		broker.RestartInput{SecretIDs: ids, Delivery: b.Delivery})
	if err != nil {
		return err
	}
	return withToken(c, http.StatusOK, rt, func() any { r := rt; r.Sandbox = redactSandbox(r.Sandbox); return r })
}

func (s *Server) deleteRuntime(c echo.Context) error {
	if err := s.d.Runtimes.DeleteRuntime(c.Request().Context(), userOf(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) createEvaluation(c echo.Context) error {
	var b evaluationBody
	if err := bind(c, &b); err != nil {
		return err
	}
	items := make([]string, len(b.Items))
	for i, it := range b.Items {
		items[i] = it.Name
	}
	ev, err := s.d.Evaluations.CreateEvaluation(c.Request().Context(), userOf(c),
		broker.EvaluationInput{ProjectID: b.ProjectID, SecretIDs: b.SecretIDs, Items: items, Delivery: b.Delivery})
	if err != nil {
		return err
	}
	return withToken(c, http.StatusCreated, ev, func() any {
		r := ev
		r.Items = make([]broker.EvaluationItem, len(ev.Items))
		for i, it := range ev.Items {
			r.Items[i] = broker.EvaluationItem{Name: it.Name, RuntimeSandbox: redactSandbox(it.RuntimeSandbox), TaskSandbox: redactSandbox(it.TaskSandbox)}
		}
		return r
	})
}

func (s *Server) getEvaluation(c echo.Context) error {
	ev, err := s.d.Evaluations.GetEvaluation(c.Request().Context(), userOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ev)
}
