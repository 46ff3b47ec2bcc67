package main

import (
	"fmt"
	"io"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/client"
)

// runtimesCmd groups the runtime commands (an orchestrator's calls).
type runtimesCmd struct {
	Broker brokerFlags `embed:""`

	Create  runtimesCreateCmd  `cmd:"" help:"Provision a runtime with a sandbox holding the selected secrets; its bootstrap token is printed only with --show-token."`
	List    runtimesListCmd    `cmd:"" help:"List your runtimes (never a token)."`
	Get     runtimesGetCmd     `cmd:"" help:"Show one runtime (never a token)."`
	Restart runtimesRestartCmd `cmd:"" help:"Give a runtime a new sandbox (the old token is revoked), optionally with a new selection."`
	Delete  runtimesDeleteCmd  `cmd:"" aliases:"rm" help:"Delete a runtime and revoke its outstanding token (alias: rm)."`
}

type runtimesCreateCmd struct {
	Project        string         `name:"project" required:"" help:"Project id."`
	Name           string         `name:"name" help:"Runtime name."`
	Select         selectionFlags `embed:""`
	Tokens         tokenFlags     `embed:""`
	IdempotencyKey string         `name:"idempotency-key" help:"Sent as Idempotency-Key: a retry with the same key provisions nothing new (and carries no token)."`
}

type runtimesListCmd struct{}

type runtimesGetCmd struct {
	ID string `arg:"" name:"ID" help:"Runtime id."`
}

type runtimesRestartCmd struct {
	ID             string         `arg:"" name:"ID" help:"Runtime id."`
	Select         selectionFlags `embed:""`
	Tokens         tokenFlags     `embed:""`
	IdempotencyKey string         `name:"idempotency-key" help:"Sent as Idempotency-Key."`
}

type runtimesDeleteCmd struct {
	ID string `arg:"" name:"ID" help:"Runtime id."`
}

func (a *app) runtimesClient() (*client.Client, error) { return newAPIClient(a.cli.Runtimes.Broker) }

func (c *runtimesCreateCmd) Run(a *app) error {
	api, err := a.runtimesClient()
	if err != nil {
		return err
	}
	ids, err := c.Select.resolve(a.ctx, api)
	if err != nil {
		return err
	}
	sink, err := c.Tokens.open()
	if err != nil {
		return err
	}
	var raw []byte
	rt, err := api.CreateRuntime(a.ctx, client.CreateRuntimeRequest{ProjectID: c.Project, Name: c.Name, SecretIDs: ids},
		client.RawBody(&raw), client.IdempotencyKey(c.IdempotencyKey))
	if err != nil {
		sink.abort()
		return err
	}
	return a.printMinted(c.Tokens, sink, raw, &rt)
}

// printMinted handles the tokens of a runtime answer, then prints it.
func (a *app) printMinted(t tokenFlags, sink *tokenSink, raw []byte, rt *broker.Runtime) error {
	out, err := t.takeTokens(sink, raw, rt, []*broker.Sandbox{&rt.Sandbox})
	if err != nil {
		return err
	}
	return a.show(out, func(w io.Writer) error { return renderRuntimes(w, []broker.Runtime{*rt}, t.ShowToken) })
}

func (c *runtimesListCmd) Run(a *app) error {
	api, err := a.runtimesClient()
	if err != nil {
		return err
	}
	var raw []byte
	l, err := api.ListRuntimes(a.ctx, client.RawBody(&raw))
	if err != nil {
		return err
	}
	return a.show(raw, func(w io.Writer) error { return renderRuntimes(w, l.Runtimes, false) })
}

func (c *runtimesGetCmd) Run(a *app) error {
	api, err := a.runtimesClient()
	if err != nil {
		return err
	}
	var raw []byte
	rt, err := api.GetRuntime(a.ctx, c.ID, client.RawBody(&raw))
	if err != nil {
		return err
	}
	return a.show(raw, func(w io.Writer) error { return renderRuntimes(w, []broker.Runtime{rt}, false) })
}

func (c *runtimesRestartCmd) Run(a *app) error {
	api, err := a.runtimesClient()
	if err != nil {
		return err
	}
	var ids []string // nil keeps the selection
	if !c.Select.empty() {
		if ids, err = c.Select.resolve(a.ctx, api); err != nil {
			return err
		}
	}
	sink, err := c.Tokens.open()
	if err != nil {
		return err
	}
	var raw []byte
	rt, err := api.RestartRuntime(a.ctx, c.ID, ids, client.RawBody(&raw), client.IdempotencyKey(c.IdempotencyKey))
	if err != nil {
		sink.abort()
		return err
	}
	return a.printMinted(c.Tokens, sink, raw, &rt)
}

func (c *runtimesDeleteCmd) Run(a *app) error {
	api, err := a.runtimesClient()
	if err != nil {
		return err
	}
	if err := api.DeleteRuntime(a.ctx, c.ID); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "deleted runtime %s\n", orDash(c.ID))
	return nil
}
