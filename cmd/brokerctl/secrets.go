package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/client"
)

// secretsCmd groups the user's secret commands.
type secretsCmd struct {
	Broker brokerFlags `embed:""`

	List     secretsListCmd     `cmd:"" help:"List your secrets (masked previews only), then the presets and whether each is configured (--json: the API's secrets list; presets --json for the presets)."`
	Get      secretsGetCmd      `cmd:"" help:"Show one secret's metadata (never its value)."`
	Set      secretsSetCmd      `cmd:"" help:"Create a secret or, when the name exists, store the value as a new version; the value is read from stdin or a no-echo prompt."`
	Rotate   secretsRotateCmd   `cmd:"" help:"Store a new value for a secret (a new version); read like set."`
	Delete   secretsRmCmd       `cmd:"" aliases:"rm" help:"Delete a secret (alias: rm)."`
	Versions secretsVersionsCmd `cmd:"" help:"List a secret's versions."`
	Rollback secretsRollbackCmd `cmd:"" help:"Make an old version's value current again (as a new version)."`
}

type secretsListCmd struct{}

type secretsGetCmd struct {
	Ref string `arg:"" name:"ID|NAME" help:"Secret id (UUID) or name."`
}

type secretsSetCmd struct {
	Name           string     `arg:"" optional:"" name:"NAME" help:"Secret name, used as the env var name (e.g. OPENAI_API_KEY); with --provider it defaults to the preset's env var name."`
	Provider       string     `name:"provider" help:"Provider the secret belongs to (e.g. openai); without NAME, the preset of that provider names the secret."`
	CreateOnly     bool       `name:"create-only" help:"Only create: fail (409) when the name exists instead of storing a new version."`
	IdempotencyKey string     `name:"idempotency-key" help:"Sent as Idempotency-Key with the create: a retry with the same key creates nothing new (when the name exists, each run stores a new version)."`
	Value          valueFlags `embed:""`
}

type secretsRotateCmd struct {
	Ref   string     `arg:"" name:"ID|NAME" help:"Secret id (UUID) or name."`
	Value valueFlags `embed:""`
}

type secretsRmCmd struct {
	Ref string `arg:"" name:"ID|NAME" help:"Secret id (UUID) or name."`
}

type secretsVersionsCmd struct {
	Ref string `arg:"" name:"ID|NAME" help:"Secret id (UUID) or name."`
}

type secretsRollbackCmd struct {
	Ref            string `arg:"" name:"ID|NAME" help:"Secret id (UUID) or name."`
	Version        int    `name:"version" required:"" help:"The version whose value becomes current."`
	IdempotencyKey string `name:"idempotency-key" help:"Sent as Idempotency-Key."`
}

func (a *app) secretsClient() (*client.Client, error) { return newAPIClient(a.cli.Secrets.Broker) }

// Run prints the secrets, then the presets with whether each is configured.
// With --json it prints the API's secrets list as received (presets --json
// prints the presets).
func (c *secretsListCmd) Run(a *app) error {
	api, err := a.secretsClient()
	if err != nil {
		return err
	}
	var raw []byte
	l, err := api.ListSecrets(a.ctx, client.RawBody(&raw))
	if err != nil {
		return err
	}
	if a.cli.JSON {
		return a.printJSON(raw)
	}
	ps, err := api.ListPresets(a.ctx)
	if err != nil {
		return err
	}
	if err := renderSecrets(a.stdout, l.Secrets); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)
	return renderPresets(a.stdout, ps)
}

func (c *secretsGetCmd) Run(a *app) error {
	api, err := a.secretsClient()
	if err != nil {
		return err
	}
	id, err := resolveSecret(a.ctx, api, c.Ref)
	if err != nil {
		return err
	}
	var raw []byte
	s, err := api.GetSecret(a.ctx, id, client.RawBody(&raw))
	if err != nil {
		return err
	}
	return a.printSecret(raw, s)
}

// Run creates the secret; when the name is taken (409) and not
// --create-only, it stores the value as a new version of the secret holding
// the name (in any letter case).
func (c *secretsSetCmd) Run(a *app) error {
	if err := c.Value.check(); err != nil {
		return err
	}
	if c.Name == "" && c.Provider == "" {
		return usagef("secrets set needs NAME, or --provider PROVIDER to use that preset's name")
	}
	api, err := a.secretsClient()
	if err != nil {
		return err
	}
	name := c.Name
	if name == "" {
		if name, err = presetName(a.ctx, api, c.Provider); err != nil {
			return err
		}
	}
	v, err := a.readValue(name, c.Value)
	if err != nil {
		return err
	}
	in := client.CreateSecretRequest{Name: name, Value: v}
	if c.Provider != "" {
		in.Provider = &c.Provider
	}
	var raw []byte
	s, err := api.CreateSecret(a.ctx, in, client.RawBody(&raw), client.IdempotencyKey(c.IdempotencyKey))
	if err == nil || c.CreateOnly || !broker.IsCode(err, broker.CodeConflict) {
		if err != nil {
			return err
		}
		return a.printSecret(raw, s)
	}
	id, rerr := resolveSecret(a.ctx, api, name)
	if rerr != nil {
		return err // the conflict, not the lookup
	}
	raw = nil
	s, err = api.UpdateSecret(a.ctx, id, v, client.RawBody(&raw))
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "%s exists: stored version %d\n", orDash(s.Name), s.Version)
	return a.printSecret(raw, s)
}

// presetName returns the env var name of provider's preset (one call).
// An unknown provider is a usage error naming the known ones.
func presetName(ctx context.Context, api *client.Client, provider string) (string, error) {
	ps, err := api.ListPresets(ctx)
	if err != nil {
		return "", err
	}
	known := make([]string, 0, len(ps))
	for _, p := range ps {
		if p.Provider == provider {
			return p.EnvVarName, nil
		}
		known = append(known, p.Provider)
	}
	return "", usagef("no preset for provider %q (known: %s); give NAME to use another name", orDash(provider), strings.Join(known, ", "))
}

func (c *secretsRotateCmd) Run(a *app) error {
	if err := c.Value.check(); err != nil {
		return err
	}
	api, err := a.secretsClient()
	if err != nil {
		return err
	}
	id, err := resolveSecret(a.ctx, api, c.Ref)
	if err != nil {
		return err
	}
	v, err := a.readValue(c.Ref, c.Value)
	if err != nil {
		return err
	}
	var raw []byte
	s, err := api.UpdateSecret(a.ctx, id, v, client.RawBody(&raw))
	if err != nil {
		return err
	}
	return a.printSecret(raw, s)
}

func (c *secretsRmCmd) Run(a *app) error {
	api, err := a.secretsClient()
	if err != nil {
		return err
	}
	id, err := resolveSecret(a.ctx, api, c.Ref)
	if err != nil {
		return err
	}
	if err := api.DeleteSecret(a.ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "deleted secret %s\n", c.Ref)
	return nil
}

func (c *secretsVersionsCmd) Run(a *app) error {
	api, err := a.secretsClient()
	if err != nil {
		return err
	}
	id, err := resolveSecret(a.ctx, api, c.Ref)
	if err != nil {
		return err
	}
	var raw []byte
	l, err := api.ListVersions(a.ctx, id, client.RawBody(&raw))
	if err != nil {
		return err
	}
	return a.show(raw, func(w io.Writer) error { return renderVersions(w, l.Versions) })
}

func (c *secretsRollbackCmd) Run(a *app) error {
	if c.Version < 1 {
		return usagef("--version must be a version number (1 or more); see `brokerctl secrets versions %s`", c.Ref)
	}
	api, err := a.secretsClient()
	if err != nil {
		return err
	}
	id, err := resolveSecret(a.ctx, api, c.Ref)
	if err != nil {
		return err
	}
	var raw []byte
	s, err := api.Rollback(a.ctx, id, c.Version, client.RawBody(&raw), client.IdempotencyKey(c.IdempotencyKey))
	if err != nil {
		return err
	}
	return a.printSecret(raw, s)
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// resolveSecret returns ref when it is a UUID, else the id of the caller's
// secret named ref (one list call): the exact name, else the one name equal
// to it in another letter case. A missing name is an error (exit 1).
func resolveSecret(ctx context.Context, api *client.Client, ref string) (string, error) {
	if uuidRE.MatchString(ref) {
		return strings.ToLower(ref), nil
	}
	if ref == "" {
		return "", usagef("empty secret id or name")
	}
	l, err := api.ListSecrets(ctx)
	if err != nil {
		return "", err
	}
	var folded []string
	for _, s := range l.Secrets {
		if s.Name == ref {
			return s.ID, nil
		}
		if strings.EqualFold(s.Name, ref) {
			folded = append(folded, s.ID)
		}
	}
	if len(folded) == 1 {
		return folded[0], nil
	}
	if len(folded) > 1 {
		return "", fmt.Errorf("several secrets are named %q in different letter cases: give the id (see `brokerctl secrets list`)", ref)
	}
	return "", fmt.Errorf("no secret named %q (see `brokerctl secrets list`)", ref)
}

// printSecret prints one Secret answer: the API's JSON or a one-row table.
func (a *app) printSecret(raw []byte, s broker.Secret) error {
	return a.show(raw, func(w io.Writer) error { return renderSecrets(w, []broker.Secret{s}) })
}

// show prints an API answer: its JSON as received with --json, else the
// table render writes.
func (a *app) show(raw []byte, render func(io.Writer) error) error {
	if a.cli.JSON {
		return a.printJSON(raw)
	}
	return render(a.stdout)
}

// printJSON writes the API's JSON as received, newline-terminated.
func (a *app) printJSON(body []byte) error {
	if _, err := a.stdout.Write(body); err != nil {
		return err
	}
	if len(body) == 0 || body[len(body)-1] != '\n' {
		_, err := a.stdout.Write([]byte("\n"))
		return err
	}
	return nil
}
