package main

import (
	"io"

	"github.com/acme/secretsbroker/client"
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

func (a *app) presetsClient() (*client.Client, error) { return newAPIClient(a.cli.Presets.Broker) }

func (c *presetsListCmd) Run(a *app) error {
	api, err := a.presetsClient()
	if err != nil {
		return err
	}
	var raw []byte
	ps, err := api.ListPresets(a.ctx, client.RawBody(&raw))
	if err != nil {
		return err
	}
	return a.show(raw, func(w io.Writer) error { return renderPresets(w, ps) })
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
	var raw []byte
	s, err := api.CreateFromPreset(a.ctx, c.Provider, v, client.RawBody(&raw), client.IdempotencyKey(c.IdempotencyKey))
	if err != nil {
		return err
	}
	return a.printSecret(raw, s)
}
