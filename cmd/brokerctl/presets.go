package main

import (
	"io"
	"net/http"

	"github.com/acme/secretsbroker/broker"
)

// presetsCmd lists presets (the default) or creates a secret from one.
type presetsCmd struct {
	Broker brokerFlags `embed:""`

	List presetsListCmd `cmd:"" default:"1" help:"List the presets and whether you have configured each (the default)."`
	Set  presetsSetCmd  `cmd:"" help:"Create the secret of a preset (named after its env var); the value is read from stdin or a no-echo prompt."`
}

type presetsListCmd struct{}

type presetsSetCmd struct {
	Provider       string     `arg:"" name:"PROVIDER" help:"Preset provider, e.g. openai, anthropic, github."`
	IdempotencyKey string     `name:"idempotency-key" help:"Sent as Idempotency-Key: a retry with the same key creates nothing new."`
	Value          valueFlags `embed:""`
}

type presetList struct {
	Presets []broker.Preset `json:"presets"`
}

func (a *app) presetsClient() (*apiClient, error) { return newAPIClient(a.cli.Presets.Broker) }

func (c *presetsListCmd) Run(a *app) error {
	api, err := a.presetsClient()
	if err != nil {
		return err
	}
	body, err := api.do(a.ctx, http.MethodGet, "/user/secrets/presets", nil, nil)
	if err != nil {
		return err
	}
	return show(a, body, func(w io.Writer, l presetList) error { return renderPresets(w, l.Presets) })
}

func (c *presetsSetCmd) Run(a *app) error {
	if err := c.Value.check(); err != nil {
		return err
	}
	api, err := a.presetsClient()
	if err != nil {
		return err
	}
	v, err := a.readValue("preset "+c.Provider, c.Value)
	if err != nil {
		return err
	}
	body, err := api.do(a.ctx, http.MethodPost, "/user/secrets/preset",
		map[string]string{"provider": c.Provider, "value": v}, idempotency(c.IdempotencyKey))
	if err != nil {
		return err
	}
	return a.printSecret(body)
}
