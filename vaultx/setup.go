package vaultx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/atomicfile"
)

// Defaults of SetupOptions.
const (
	DefaultPolicyName       = "secrets-broker"
	DefaultRoleName         = "secrets-broker"
	DefaultEgressPolicyName = "secrets-broker-egressd"
	DefaultEgressRoleName   = "secrets-broker-egressd"
)

// SetupOptions says what Setup configures. Zero values take the defaults.
type SetupOptions struct {
	KVMount      string        // default "broker"
	TransitMount string        // default "transit"
	TransitKey   string        // default "broker-secrets"
	PolicyName   string        // default "secrets-broker"
	AppRoleMount string        // default "approle"
	RoleName     string        // default "secrets-broker"
	TokenTTL     time.Duration // default 1h
	TokenMaxTTL  time.Duration // default 24h
	SecretIDTTL  time.Duration // 0: secret_ids never expire

	// SecretIDFile, when set, receives a new secret_id (mode 0600) unless it
	// already holds one Vault still accepts.
	SecretIDFile string
	// RoleIDFile, when set, receives the role_id (mode 0600).
	RoleIDFile string
	// AuditFilePath, when set, enables a file audit device writing there.
	AuditFilePath string
	// AuditDevice is the audit device's path (default "broker-file").
	AuditDevice string

	// egressd's policy (EgressPolicyHCL) and AppRole role, written always;
	// its role_id and a secret_id go to these files when set (mode 0600).
	EgressPolicyName   string // default "secrets-broker-egressd"
	EgressRoleName     string // default "secrets-broker-egressd"
	EgressRoleIDFile   string
	EgressSecretIDFile string
}

func (o SetupOptions) withDefaults() SetupOptions {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
		*v = strings.Trim(*v, "/")
	}
	def(&o.KVMount, DefaultKVMount)
	def(&o.TransitMount, DefaultTransitMount)
	def(&o.TransitKey, DefaultTransitKey)
	def(&o.PolicyName, DefaultPolicyName)
	def(&o.AppRoleMount, "approle")
	def(&o.RoleName, DefaultRoleName)
	def(&o.AuditDevice, "broker-file")
	def(&o.EgressPolicyName, DefaultEgressPolicyName)
	def(&o.EgressRoleName, DefaultEgressRoleName)
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.TokenMaxTTL <= 0 {
		o.TokenMaxTTL = 24 * time.Hour
	}
	return o
}

// SetupResult reports what Setup found and did.
type SetupResult struct {
	RoleID          string
	PolicyName      string
	RoleName        string
	SecretIDWritten bool
	// EgressRoleID is egressd's role_id.
	EgressRoleID string
	// Changes lists every change made, in words; empty when Vault was
	// already configured.
	Changes []string
}

// Setup configures Vault for the broker, idempotently, with an admin client:
// KV v2 at KVMount, transit at TransitMount with the derived aes256-gcm96 key,
// the broker's policy (PolicyHCL) and egressd's (EgressPolicyHCL), the
// AppRole auth method and a role for each (with their role_id and secret_id
// files when named), the audited request headers (not HMAC'd) and optionally a file audit
// device. Running it again changes nothing and reports no changes.
// Errors: invalid (a mount or key exists with incompatible settings), forbidden
// (the admin token may not do this), unavailable, internal.
func Setup(ctx context.Context, admin *api.Client, opts SetupOptions) (SetupResult, error) {
	o := opts.withDefaults()
	s := &setup{admin: admin, o: o, res: SetupResult{PolicyName: o.PolicyName, RoleName: o.RoleName}}
	brokerRole := roleSpec{role: o.RoleName, policy: o.PolicyName, roleIDFile: o.RoleIDFile, secretIDFile: o.SecretIDFile,
		roleID: &s.res.RoleID, secretIDWritten: &s.res.SecretIDWritten}
	var egressWritten bool
	egressRole := roleSpec{role: o.EgressRoleName, policy: o.EgressPolicyName, roleIDFile: o.EgressRoleIDFile,
		secretIDFile: o.EgressSecretIDFile, roleID: &s.res.EgressRoleID, secretIDWritten: &egressWritten}
	steps := []func(context.Context) error{
		s.auditDevice, s.mounts, s.transitKey,
		s.policyStep(o.PolicyName, PolicyHCL(o.KVMount, o.TransitMount, o.TransitKey)),
		s.policyStep(o.EgressPolicyName, EgressPolicyHCL(o.KVMount, o.TransitMount, o.TransitKey)),
		s.auditHeaders, s.appRole,
	}
	for _, r := range []roleSpec{brokerRole, egressRole} {
		steps = append(steps, s.roleStep(r), s.roleIDStep(r), s.secretIDStep(r))
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return s.res, err
		}
	}
	if s.res.Changes == nil {
		s.res.Changes = []string{}
	}
	return s.res, nil
}

type setup struct {
	admin *api.Client
	o     SetupOptions
	res   SetupResult
}

func (s *setup) changed(format string, args ...any) {
	s.res.Changes = append(s.res.Changes, fmt.Sprintf(format, args...))
}

func (s *setup) mounts(ctx context.Context) error {
	mounts, err := s.admin.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return mapErr(err, "setup: list secrets engines", nil)
	}
	if m, ok := mounts[s.o.KVMount+"/"]; ok {
		if m.Type != "kv" || m.Options["version"] != "2" {
			return broker.Errorf(broker.CodeInvalid, "setup: %s/ is mounted as %s (version %q), want kv version 2", s.o.KVMount, m.Type, m.Options["version"])
		}
	} else {
		err := s.admin.Sys().MountWithContext(ctx, s.o.KVMount, &api.MountInput{
			Type: "kv", Description: "secrets-broker: user secrets, sandbox bundles, api keys",
			Options: map[string]string{"version": "2"},
		})
		if err != nil {
			return mapErr(err, "setup: enable kv v2", nil)
		}
		s.changed("enabled kv v2 secrets engine at %s/", s.o.KVMount)
	}
	if m, ok := mounts[s.o.TransitMount+"/"]; ok {
		if m.Type != "transit" {
			return broker.Errorf(broker.CodeInvalid, "setup: %s/ is mounted as %s, want transit", s.o.TransitMount, m.Type)
		}
	} else {
		err := s.admin.Sys().MountWithContext(ctx, s.o.TransitMount, &api.MountInput{Type: "transit", Description: "secrets-broker: encryption"})
		if err != nil {
			return mapErr(err, "setup: enable transit", nil)
		}
		s.changed("enabled transit secrets engine at %s/", s.o.TransitMount)
	}
	return nil
}

func (s *setup) transitKey(ctx context.Context) error {
	p := s.o.TransitMount + "/keys/" + s.o.TransitKey
	sec, err := s.admin.Logical().ReadWithContext(ctx, p)
	if err != nil {
		return mapErr(err, "setup: read transit key", nil)
	}
	if sec != nil && sec.Data != nil {
		typ, _ := sec.Data["type"].(string)
		derived, _ := sec.Data["derived"].(bool)
		if typ != "aes256-gcm96" || !derived {
			return broker.Errorf(broker.CodeInvalid, "setup: transit key %s exists as %s (derived=%v), want aes256-gcm96 derived", s.o.TransitKey, typ, derived)
		}
		return nil
	}
	if _, err := s.admin.Logical().WriteWithContext(ctx, p, map[string]any{"type": "aes256-gcm96", "derived": true}); err != nil {
		return mapErr(err, "setup: create transit key", nil)
	}
	s.changed("created transit key %s (aes256-gcm96, derived)", s.o.TransitKey)
	return nil
}

// roleSpec is one AppRole role Setup keeps: the broker's or egressd's.
type roleSpec struct {
	role, policy             string
	roleIDFile, secretIDFile string
	roleID                   *string // set to the role_id
	secretIDWritten          *bool
}

func (s *setup) policyStep(name, want string) func(context.Context) error {
	return func(ctx context.Context) error {
		have, err := s.admin.Sys().GetPolicyWithContext(ctx, name)
		if err != nil {
			return mapErr(err, "setup: read policy", nil)
		}
		if have == want {
			return nil
		}
		if err := s.admin.Sys().PutPolicyWithContext(ctx, name, want); err != nil {
			return mapErr(err, "setup: write policy", nil)
		}
		s.changed("wrote policy %s", name)
		return nil
	}
}

func (s *setup) auditHeaders(ctx context.Context) error {
	// One read of the whole configuration: reading an absent single header
	// is a 400, not a 404.
	sec, err := s.admin.Logical().ReadWithContext(ctx, "sys/config/auditing/request-headers")
	if err != nil {
		return mapErr(err, "setup: read audited headers", nil)
	}
	var have map[string]any
	if sec != nil {
		have, _ = sec.Data["headers"].(map[string]any)
	}
	for _, h := range AuditHeaderNames() {
		if headerNotHMACd(have, h) {
			continue
		}
		if _, err := s.admin.Logical().WriteWithContext(ctx, "sys/config/auditing/request-headers/"+h, map[string]any{"hmac": false}); err != nil {
			return mapErr(err, "setup: write audited header", nil)
		}
		s.changed("audited request header %s (not hmac'd)", h)
	}
	return nil
}

// headerNotHMACd reads an audited-header answer: {"<Header>": {"hmac": false}}
// (the key's case varies across Vault versions).
func headerNotHMACd(data map[string]any, name string) bool {
	for k, v := range data {
		if !strings.EqualFold(k, name) {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		hm, ok := m["hmac"].(bool)
		return ok && !hm
	}
	return false
}

func (s *setup) auditDevice(ctx context.Context) error {
	if s.o.AuditFilePath == "" {
		return nil
	}
	devices, err := s.admin.Sys().ListAuditWithContext(ctx)
	if err != nil {
		return mapErr(err, "setup: list audit devices", nil)
	}
	if d, ok := devices[s.o.AuditDevice+"/"]; ok {
		if d.Type != "file" || d.Options["file_path"] != s.o.AuditFilePath {
			return broker.Errorf(broker.CodeInvalid, "setup: audit device %s/ exists as %s writing to %q, want file writing to %q",
				s.o.AuditDevice, d.Type, d.Options["file_path"], s.o.AuditFilePath)
		}
		return nil
	}
	err = s.admin.Sys().EnableAuditWithOptionsWithContext(ctx, s.o.AuditDevice, &api.EnableAuditOptions{
		Type: "file", Description: "secrets-broker audit log", Options: map[string]string{"file_path": s.o.AuditFilePath},
	})
	if err != nil {
		return mapErr(err, "setup: enable file audit device", nil)
	}
	s.changed("enabled file audit device %s/ writing to %s", s.o.AuditDevice, s.o.AuditFilePath)
	return nil
}

func (s *setup) appRole(ctx context.Context) error {
	auths, err := s.admin.Sys().ListAuthWithContext(ctx)
	if err != nil {
		return mapErr(err, "setup: list auth methods", nil)
	}
	if a, ok := auths[s.o.AppRoleMount+"/"]; ok {
		if a.Type != "approle" {
			return broker.Errorf(broker.CodeInvalid, "setup: auth method at %s/ is %s, want approle", s.o.AppRoleMount, a.Type)
		}
		return nil
	}
	if err := s.admin.Sys().EnableAuthWithOptionsWithContext(ctx, s.o.AppRoleMount, &api.EnableAuthOptions{Type: "approle"}); err != nil {
		return mapErr(err, "setup: enable approle", nil)
	}
	s.changed("enabled approle auth method at %s/", s.o.AppRoleMount)
	return nil
}

func (s *setup) rolePath(role string) string { return "auth/" + s.o.AppRoleMount + "/role/" + role }

func (s *setup) roleStep(r roleSpec) func(context.Context) error {
	return func(ctx context.Context) error { return s.role(ctx, r) }
}

func (s *setup) roleIDStep(r roleSpec) func(context.Context) error {
	return func(ctx context.Context) error { return s.roleID(ctx, r) }
}

func (s *setup) secretIDStep(r roleSpec) func(context.Context) error {
	return func(ctx context.Context) error { return s.secretID(ctx, r) }
}

func (s *setup) role(ctx context.Context, r roleSpec) error {
	want := map[string]any{
		"token_policies": []string{r.policy},
		"token_ttl":      int64(s.o.TokenTTL / time.Second),
		"token_max_ttl":  int64(s.o.TokenMaxTTL / time.Second),
		"secret_id_ttl":  int64(s.o.SecretIDTTL / time.Second),
		"bind_secret_id": true,
		// Without Vault's "default" policy: it would let the broker's token
		// mint sys/wrapping/wrap tokens, hash with sys/tools/hash and more.
		"token_no_default_policy": true,
	}
	sec, err := s.admin.Logical().ReadWithContext(ctx, s.rolePath(r.role))
	if err != nil {
		return mapErr(err, "setup: read approle role", nil)
	}
	if sec != nil && roleMatches(sec.Data, want) {
		return nil
	}
	if _, err := s.admin.Logical().WriteWithContext(ctx, s.rolePath(r.role), want); err != nil {
		return mapErr(err, "setup: write approle role", nil)
	}
	s.changed("wrote approle role %s (policy %s, token ttl %s, max ttl %s)", r.role, r.policy, s.o.TokenTTL, s.o.TokenMaxTTL)
	return nil
}

func roleMatches(have, want map[string]any) bool {
	num := func(v any) int64 {
		n, _ := v.(json.Number)
		i, _ := n.Int64()
		return i
	}
	var pols []string
	if ps, ok := have["token_policies"].([]any); ok {
		for _, p := range ps {
			s, _ := p.(string)
			pols = append(pols, s)
		}
	}
	b, _ := have["bind_secret_id"].(bool)
	nd, _ := have["token_no_default_policy"].(bool)
	return nd && slices.Equal(pols, want["token_policies"].([]string)) &&
		num(have["token_ttl"]) == want["token_ttl"].(int64) &&
		num(have["token_max_ttl"]) == want["token_max_ttl"].(int64) &&
		num(have["secret_id_ttl"]) == want["secret_id_ttl"].(int64) &&
		b
}

func (s *setup) roleID(ctx context.Context, r roleSpec) error {
	sec, err := s.admin.Logical().ReadWithContext(ctx, s.rolePath(r.role)+"/role-id")
	if err != nil {
		return mapErr(err, "setup: read role_id", nil)
	}
	if sec == nil {
		return broker.Errorf(broker.CodeInternal, "setup: vault returned no role_id")
	}
	id, _ := sec.Data["role_id"].(string)
	if id == "" {
		return broker.Errorf(broker.CodeInternal, "setup: vault returned no role_id")
	}
	*r.roleID = id
	if r.roleIDFile == "" {
		return nil
	}
	if b, err := os.ReadFile(r.roleIDFile); err == nil && strings.TrimSpace(string(b)) == id {
		return nil
	}
	if err := writeFileAtomic(r.roleIDFile, []byte(id+"\n")); err != nil {
		return err
	}
	s.changed("wrote role_id of %s to %s", r.role, r.roleIDFile)
	return nil
}

func (s *setup) secretID(ctx context.Context, r roleSpec) error {
	if r.secretIDFile == "" {
		return nil
	}
	if b, err := os.ReadFile(r.secretIDFile); err == nil {
		if cur := strings.TrimSpace(string(b)); cur != "" {
			sec, err := s.admin.Logical().WriteWithContext(ctx, s.rolePath(r.role)+"/secret-id/lookup", map[string]any{"secret_id": cur})
			switch {
			case err == nil && sec != nil && sec.Data != nil:
				return nil // still valid: keep it
			case err != nil && statusOf(err) != 404 && statusOf(err) != 400:
				return mapErr(err, "setup: look up secret_id", nil)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return broker.WithCode(broker.CodeInvalid, err, "setup: cannot read secret_id file "+r.secretIDFile)
	}
	sec, err := s.admin.Logical().WriteWithContext(ctx, s.rolePath(r.role)+"/secret-id", map[string]any{})
	if err != nil {
		return mapErr(err, "setup: generate secret_id", nil)
	}
	var id string
	if sec != nil {
		id, _ = sec.Data["secret_id"].(string)
	}
	if id == "" {
		return broker.Errorf(broker.CodeInternal, "setup: vault returned no secret_id")
	}
	if err := writeFileAtomic(r.secretIDFile, []byte(id+"\n")); err != nil {
		return err
	}
	*r.secretIDWritten = true
	s.changed("wrote a new secret_id of %s to %s", r.role, r.secretIDFile)
	return nil
}

// writeFileAtomic writes b to path with mode 0600 (internal/atomicfile).
// Errors: invalid (naming the path).
func writeFileAtomic(path string, b []byte) error {
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return broker.WithCode(broker.CodeInvalid, err, "cannot write "+path)
	}
	return nil
}
