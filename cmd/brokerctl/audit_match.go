package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/acme/secretsbroker/auditlog"
	"github.com/acme/secretsbroker/vaultx"
)

// auditHash returns the audit device's HMAC of value (sys/audit-hash), or
// value itself when it already is one. It needs the operator's Vault
// address and token.
func (c *auditCmd) auditHash(a *app, value string) (string, error) {
	if strings.HasPrefix(value, auditlog.HMACPrefix) {
		return value, nil
	}
	f := c.Vault
	switch {
	case f.VaultAddr == "":
		return "", usagef("--match needs Vault to compute the value's HMAC: set VAULT_ADDR (or --vault-addr)")
	case f.VaultToken == "":
		return "", usagef("--match needs an operator token allowed to update sys/audit-hash/%s: set VAULT_TOKEN (or --vault-token)", c.AuditDevice)
	case strings.Trim(c.AuditDevice, "/") == "":
		return "", usagef("--audit-device is empty")
	}
	if err := checkVaultAddr(f.VaultAddr); err != nil {
		return "", err
	}
	vc, err := vaultx.NewAPIClient(vaultx.Config{Addr: f.VaultAddr, Token: f.VaultToken, Timeout: f.Timeout, MaxRetries: -1}, vaultx.APIOptions{})
	if err != nil {
		return "", vaultErr(err)
	}
	ctx, cancel := context.WithTimeout(a.ctx, f.Timeout)
	defer cancel()
	device := strings.Trim(c.AuditDevice, "/")
	h, err := vc.Sys().AuditHashWithContext(ctx, device, value)
	if err != nil {
		// The value is in the request body, never in the error.
		return "", fmt.Errorf("vault: audit hash with device %q: %s", device, oneLine(err.Error()))
	}
	if !strings.HasPrefix(h, auditlog.HMACPrefix) {
		return "", fmt.Errorf("vault: audit hash with device %q: unexpected answer (no %s prefix)", device, auditlog.HMACPrefix)
	}
	return h, nil
}
