package main

import (
	"context"
	"fmt"
	"io"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/envflag"
	"github.com/acme/secretsbroker/vaultx"
)

// setup configures Vault for the broker with an admin token (idempotent) and
// prints what it changed; the role_id goes to stdout and, like the secret_id,
// to the files named by the flags.
func setup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var (
		vc   vaultx.Config
		opts vaultx.SetupOptions
	)
	fs := envflag.New("brokerd", "setup", getenv, stdout)
	vaultFlags(fs, &vc)
	fs.String(&opts.RoleIDFile, "role-id-file", "BROKER_VAULT_ROLE_ID_FILE", "", "write the AppRole role_id to this file (0600)")
	fs.String(&opts.SecretIDFile, "secret-id-file", "BROKER_VAULT_SECRET_ID_FILE", "", "write a secret_id to this file (0600) unless it holds a valid one")
	fs.String(&opts.EgressRoleIDFile, "egress-role-id-file", "BROKER_EGRESS_ROLE_ID_FILE", "", "write egressd's AppRole role_id to this file (0600)")
	fs.String(&opts.EgressSecretIDFile, "egress-secret-id-file", "BROKER_EGRESS_SECRET_ID_FILE", "", "write a secret_id of egressd's AppRole to this file (0600) unless it holds a valid one")
	fs.String(&opts.AuditFilePath, "audit-file", "BROKER_AUDIT_FILE", "", "enable a file audit device writing to this path (on the Vault server)")
	fs.Duration(&opts.TokenTTL, "token-ttl", "BROKER_VAULT_TOKEN_TTL", 0, "TTL of the broker's AppRole tokens (default 1h)")
	fs.Duration(&opts.TokenMaxTTL, "token-max-ttl", "BROKER_VAULT_TOKEN_MAX_TTL", 0, "max TTL of the broker's AppRole tokens (default 24h)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if vc.Token == "" {
		return usagef("setup needs an admin token: set VAULT_TOKEN or --vault-token")
	}
	opts.KVMount, opts.TransitMount, opts.TransitKey = vc.KVMount, vc.TransitMount, vc.TransitKey
	admin, err := vaultx.NewAPIClient(vc, vaultx.APIOptions{})
	if err != nil {
		return usagef("%s", errMessage(err))
	}
	res, err := vaultx.Setup(ctx, admin, opts)
	if err != nil {
		if broker.IsCode(err, broker.CodeInvalid) {
			return usagef("setup: %s", errMessage(err))
		}
		return fmt.Errorf("setup: %w", err)
	}
	for _, c := range res.Changes {
		fmt.Fprintln(stderr, "changed: "+c)
	}
	if len(res.Changes) == 0 {
		fmt.Fprintln(stderr, "vault already configured: nothing changed")
	}
	fmt.Fprintf(stdout, "role_id=%s\n", res.RoleID)
	fmt.Fprintf(stdout, "egress_role_id=%s\n", res.EgressRoleID)
	return nil
}
