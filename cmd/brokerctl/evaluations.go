package main

import (
	"io"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/client"
)

// evaluationsCmd groups the evaluation commands.
type evaluationsCmd struct {
	Broker brokerFlags `embed:""`

	Create evaluationsCreateCmd `cmd:"" help:"Provision an evaluation: per item a runtime and a task sandbox, each with its own bootstrap token (printed only with --show-token)."`
	Get    evaluationsGetCmd    `cmd:"" help:"Show one evaluation (never a token)."`
}

type evaluationsCreateCmd struct {
	Project        string         `name:"project" required:"" help:"Project id."`
	Item           []string       `name:"item" required:"" placeholder:"NAME" help:"An item's name. Repeatable."`
	Select         selectionFlags `embed:""`
	Tokens         tokenFlags     `embed:""`
	IdempotencyKey string         `name:"idempotency-key" help:"Sent as Idempotency-Key."`
}

type evaluationsGetCmd struct {
	ID string `arg:"" name:"ID" help:"Evaluation id."`
}

func (a *app) evaluationsClient() (*client.Client, error) {
	return newAPIClient(a.cli.Evaluations.Broker)
}

func (c *evaluationsCreateCmd) Run(a *app) error {
	api, err := a.evaluationsClient()
	if err != nil {
		return err
	}
	ids, err := c.Select.resolve(a.ctx, api)
	if err != nil {
		return err
	}
	items := make([]client.EvaluationItemSpec, len(c.Item))
	for i, n := range c.Item {
		items[i].Name = n
	}
	sink, err := c.Tokens.open()
	if err != nil {
		return err
	}
	var raw []byte
	ev, err := api.CreateEvaluation(a.ctx, client.CreateEvaluationRequest{ProjectID: c.Project, SecretIDs: ids, Items: items},
		client.RawBody(&raw), client.IdempotencyKey(c.IdempotencyKey))
	if err != nil {
		sink.abort()
		return err
	}
	var sbs []*broker.Sandbox
	for i := range ev.Items {
		sbs = append(sbs, &ev.Items[i].RuntimeSandbox, &ev.Items[i].TaskSandbox)
	}
	out, err := c.Tokens.takeTokens(sink, raw, &ev, sbs)
	if err != nil {
		return err
	}
	return a.show(out, func(w io.Writer) error { return renderEvaluation(w, ev, c.Tokens.ShowToken) })
}

func (c *evaluationsGetCmd) Run(a *app) error {
	api, err := a.evaluationsClient()
	if err != nil {
		return err
	}
	var raw []byte
	ev, err := api.GetEvaluation(a.ctx, c.ID, client.RawBody(&raw))
	if err != nil {
		return err
	}
	return a.show(raw, func(w io.Writer) error { return renderEvaluation(w, ev, false) })
}
