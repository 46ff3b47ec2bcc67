package broker

import (
	"context"
	"fmt"
	"slices"
)

// RuntimeInput asks for a runtime with a selection of the caller's secrets.
type RuntimeInput struct {
	ProjectID string
	Name      string
	SecretIDs []string
	// Delivery is DeliveryEnv or DeliveryEgress ("": Config.DefaultDelivery).
	Delivery string
}

// RestartInput asks for a runtime's new sandbox: SecretIDs nil keeps the
// selection, Delivery "" keeps the runtime's delivery.
type RestartInput struct {
	SecretIDs []string
	Delivery  string
}

// EvaluationInput asks for an evaluation: per item, two sandboxes.
type EvaluationInput struct {
	ProjectID string
	SecretIDs []string
	Items     []string // item names
	Delivery  string
}

// env is a resolved selection: env var names (sorted) and values (env
// delivery), or the secrets to make placeholders for (egress delivery).
type env struct {
	names    []string
	values   map[string]string
	delivery string
	egress   []egressSecret
}

// resolve checks that every id is the caller's, reads the ciphertexts
// concurrently and decrypts them in one transit batch call. Duplicate ids are
// ignored; an empty selection yields an empty env. Names come with the
// ciphertexts when the store keeps them there (NamedCiphertextStore: the
// reads under the caller's path are the ownership check), else from the
// caller's secret list. Errors: invalid (too many ids), not_found (any id
// not the caller's), unavailable, internal.
func (s *Service) resolve(ctx context.Context, userID string, ids []string) (env, []string, error) {
	ids = dedupe(ids)
	if limit := s.val.Limits().MaxSecretIDs; len(ids) > limit {
		return env{}, nil, Invalid(FieldError{"secret_ids", fmt.Sprintf("at most %d secret ids per request", limit)})
	}
	e := env{values: make(map[string]string, len(ids))}
	if len(ids) == 0 {
		return e, ids, nil
	}
	for _, id := range ids {
		if !ValidID(id) {
			return env{}, nil, ErrSecretNotFound
		}
	}
	names, cts, err := s.namedCiphertexts(ctx, userID, ids)
	if err == nil && names == nil {
		names, cts, err = s.listedCiphertexts(ctx, userID, ids)
	}
	if IsCode(err, CodeNotFound) {
		return env{}, nil, ErrSecretNotFound
	}
	if err != nil {
		return env{}, nil, err
	}
	plain, err := s.d.Crypto.DecryptBatch(ctx, userID, cts)
	if err != nil {
		return env{}, nil, err
	}
	for i := range ids {
		e.values[names[i]] = string(plain[i])
		e.names = append(e.names, names[i])
	}
	slices.Sort(e.names)
	return e, ids, nil
}

// namedCiphertexts reads names and ciphertexts together when the store can;
// nil names (and no error) when it cannot or a version lacks its name.
func (s *Service) namedCiphertexts(ctx context.Context, userID string, ids []string) ([]string, []string, error) {
	st, ok := s.d.Secrets.(NamedCiphertextStore)
	if !ok {
		return nil, nil, nil
	}
	got, err := st.NamedCiphertexts(ctx, userID, ids)
	if err != nil {
		return nil, nil, err
	}
	if len(got) != len(ids) {
		return nil, nil, Errorf(CodeInternal, "secret store answered %d secrets for %d ids", len(got), len(ids))
	}
	names, cts := make([]string, len(ids)), make([]string, len(ids))
	for i, g := range got {
		if g.Name == "" {
			return nil, nil, nil
		}
		names[i], cts[i] = g.Name, g.Ciphertext
	}
	return names, cts, nil
}

// listedCiphertexts checks the ids against the caller's secret list (from
// the list cache when warm), which also gives their names, then reads the
// ciphertexts.
func (s *Service) listedCiphertexts(ctx context.Context, userID string, ids []string) ([]string, []string, error) {
	list, err := s.ListSecrets(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]string, len(list))
	for _, sec := range list {
		byID[sec.ID] = sec.Name
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		name, ok := byID[id]
		if !ok {
			return nil, nil, ErrSecretNotFound
		}
		names[i] = name
	}
	cts, err := s.d.Secrets.Ciphertexts(ctx, userID, ids)
	if err != nil {
		return nil, nil, err
	}
	return names, cts, nil
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// mint issues one bootstrap for a new sandbox. Its accessor is not written
// on its own: it goes into the caller's runtime or evaluation record
// (Sandbox.Accessor), which the caller writes next, retiring the sandbox if
// that write fails. In egress delivery the sandbox's egress records are
// written first, and removed again on failure. On failure no token lives.
// Errors: unavailable, internal.
func (s *Service) mint(ctx context.Context, runtimeID, userID string, e env) (Sandbox, error) {
	sbID := NewID()
	ctx = withSandbox(ctx, runtimeID, sbID)
	bundle, delivery := e.values, DeliveryEnv
	var hashes []string
	if e.delivery == DeliveryEgress {
		delivery = DeliveryEgress
		b, rec, recs, err := s.egressBundle(runtimeID, userID, sbID, e)
		if err != nil {
			return Sandbox{}, err
		}
		for h := range recs {
			hashes = append(hashes, h)
		}
		slices.Sort(hashes)
		if err := s.d.Egress.PutEgress(ctx, rec, recs); err != nil {
			return Sandbox{}, err
		}
		bundle = b
	}
	undoEgress := func() {
		if delivery == DeliveryEgress {
			s.dropEgress(ctx, sbID, hashes)
		}
	}
	w, err := s.d.Boot.Wrap(ctx, sbID, bundle, s.cfg.WrapTTL)
	if err != nil {
		undoEgress()
		return Sandbox{}, err
	}
	s.cfg.Observer.TokensIssued(1)
	names := slices.Clone(e.names)
	if names == nil {
		names = []string{}
	}
	b := &Bootstrap{
		SandboxID: sbID, VaultAddr: s.cfg.SandboxVaultAddr, Token: w.Token, Accessor: w.Accessor,
		CreationPath: w.CreationPath, ExpiresAt: w.ExpiresAt, EnvNames: names, Delivery: delivery,
	}
	if delivery == DeliveryEgress {
		b.ProxyURL = s.proxyURL()
	}
	return Sandbox{
		ID: sbID, EnvNames: names, ExpiresAt: w.ExpiresAt, CreatedAt: s.cfg.Now().UTC(),
		Delivery: delivery, EgressTokenHashes: hashes, Accessor: w.Accessor, Bootstrap: b,
	}, nil
}

// retire revokes the token of a sandbox if it was never used and removes
// its egress records. Errors: unavailable, internal.
func (s *Service) retire(ctx context.Context, runtimeID string, sb Sandbox) error {
	ctx = withSandbox(ctx, runtimeID, sb.ID)
	if err := s.retireToken(ctx, sb); err != nil {
		return err
	}
	if sb.Delivery == DeliveryEgress && s.d.Egress != nil {
		return s.d.Egress.DeleteEgress(ctx, sb.ID, sb.EgressTokenHashes)
	}
	return nil
}

// retireToken revokes the sandbox's bootstrap token by the accessor its
// record keeps. Revoking is idempotent (a used, expired or revoked token is
// not an error), so a retry after a failure simply revokes again, and the
// record, unchanged by a failed retirement, still names the token. A record
// written before accessors moved into records has none: its accessor entry
// is taken from the record store instead (and put back if revoking fails).
func (s *Service) retireToken(ctx context.Context, sb Sandbox) error {
	if sb.Accessor != "" {
		if err := s.d.Boot.RevokeAccessor(ctx, sb.Accessor); err != nil {
			return err
		}
		s.cfg.Observer.TokensRevoked(1)
		return nil
	}
	acc, ok, err := s.d.Records.TakeAccessor(ctx, sb.ID)
	if err != nil || !ok {
		return err
	}
	if err := s.d.Boot.RevokeAccessor(ctx, acc); err != nil {
		// Keep the accessor so a retry can revoke it.
		_ = s.d.Records.PutAccessor(ctx, sb.ID, acc, s.cfg.WrapTTL)
		return err
	}
	s.cfg.Observer.TokensRevoked(1)
	return nil
}

// revoke is best-effort cleanup of a token minted by a request that failed.
func (s *Service) revoke(ctx context.Context, accessor string) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := s.d.Boot.RevokeAccessor(cctx, accessor); err != nil {
		s.cfg.Warn(ctx, "revoke", err)
		return
	}
	s.cfg.Observer.TokensRevoked(1)
}

func (s *Service) retireAll(ctx context.Context, runtimeID string, sbs []Sandbox) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	for _, sb := range sbs {
		if sb.ID == "" {
			continue
		}
		if err := s.retire(cctx, runtimeID, sb); err != nil {
			s.cfg.Warn(ctx, "revoke", err)
		}
	}
}

func checkProject(projectID, name string) error {
	var fields []FieldError
	if !ValidIdent(projectID) {
		fields = append(fields, FieldError{"project_id", "is required: 1-128 letters, digits, '.', '_', '@', ':' or '-'"})
	}
	if len(name) > 128 {
		fields = append(fields, FieldError{"name", "must be at most 128 characters"})
	}
	if len(fields) > 0 {
		return Invalid(fields...)
	}
	return nil
}
