package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/broker"
)

type secretList struct {
	Secrets []broker.Secret `json:"secrets"`
	Total   int             `json:"total"`
}

type createSecretBody struct {
	Name        string   `json:"name"`
	Value       string   `json:"value"`
	Provider    *string  `json:"provider"`
	EgressHosts []string `json:"egress_hosts"`
}

type updateSecretBody struct {
	Value       *string   `json:"value"`
	EgressHosts *[]string `json:"egress_hosts"`
}

type presetBody struct {
	Provider    string    `json:"provider"`
	Value       string    `json:"value"`
	EgressHosts *[]string `json:"egress_hosts"`
}

type rollbackBody struct {
	Version int `json:"version"`
}

func userOf(c echo.Context) string { return apiKeyOf(c).UserID }

func (s *Server) listSecrets(c echo.Context) error {
	list, err := s.d.Secrets.ListSecrets(c.Request().Context(), userOf(c))
	if err != nil {
		return err
	}
	if list == nil {
		list = []broker.Secret{}
	}
	return c.JSON(http.StatusOK, secretList{Secrets: list, Total: len(list)})
}

func (s *Server) createSecret(c echo.Context) error {
	var b createSecretBody
	if err := bind(c, &b); err != nil {
		return err
	}
	sec, err := s.d.Secrets.CreateSecret(c.Request().Context(), userOf(c), broker.CreateSecretInput{
		Name: b.Name, Value: b.Value, Provider: b.Provider, EgressHosts: b.EgressHosts})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, sec)
}

func (s *Server) getSecret(c echo.Context) error {
	sec, err := s.d.Secrets.GetSecret(c.Request().Context(), userOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sec)
}

func (s *Server) updateSecret(c echo.Context) error {
	var b updateSecretBody
	if err := bind(c, &b); err != nil {
		return err
	}
	sec, err := s.d.Secrets.UpdateSecretWith(c.Request().Context(), userOf(c), c.Param("id"),
		broker.UpdateSecretInput{Value: b.Value, EgressHosts: b.EgressHosts})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sec)
}

func (s *Server) deleteSecret(c echo.Context) error {
	if err := s.d.Secrets.DeleteSecret(c.Request().Context(), userOf(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listVersions(c echo.Context) error {
	vs, err := s.d.Secrets.Versions(c.Request().Context(), userOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []broker.SecretVersion{}
	}
	return c.JSON(http.StatusOK, map[string]any{"versions": vs, "total": len(vs)})
}

func (s *Server) rollback(c echo.Context) error {
	var b rollbackBody
	if err := bind(c, &b); err != nil {
		return err
	}
	sec, err := s.d.Secrets.Rollback(c.Request().Context(), userOf(c), c.Param("id"), b.Version)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sec)
}

func (s *Server) listPresets(c echo.Context) error {
	ps, err := s.d.Secrets.Presets(c.Request().Context(), userOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"presets": ps})
}

func (s *Server) createFromPreset(c echo.Context) error {
	var b presetBody
	if err := bind(c, &b); err != nil {
		return err
	}
	sec, err := s.d.Secrets.CreateFromPresetWith(c.Request().Context(), userOf(c),
		broker.PresetInput{Provider: b.Provider, Value: b.Value, EgressHosts: b.EgressHosts})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, sec)
}
