package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CreateSecretInput is a new secret as a caller submits it.
type CreateSecretInput struct {
	Name     string
	Value    string
	Provider *string
	// EgressHosts are where egressd may send the value (none: the secret
	// can only be delivered in the environment).
	EgressHosts []string
}

func (s *Service) checkUser(userID string) error {
	if !ValidIdent(userID) {
		return Errorf(CodeUnauthenticated, "invalid user")
	}
	return nil
}

// ListSecrets returns the user's secrets sorted by name, from the list cache
// when it is warm. Errors: unauthenticated, unavailable, internal.
func (s *Service) ListSecrets(ctx context.Context, userID string) ([]Secret, error) {
	if err := s.checkUser(userID); err != nil {
		return nil, err
	}
	list, stamp, hit, err := s.d.Cache.Get(ctx, userID)
	if err != nil {
		s.cfg.Warn(ctx, "list_cache", err)
	} else if hit {
		s.cfg.Observer.ListCache(true)
		return list, nil
	}
	s.cfg.Observer.ListCache(false)
	list, err = s.d.Secrets.ListSecrets(ctx, userID)
	if err != nil {
		return nil, err
	}
	SortSecrets(list)
	if stamp != "" {
		if perr := s.d.Cache.Put(ctx, userID, stamp, list); perr != nil {
			s.cfg.Warn(ctx, "list_cache", perr)
		}
	}
	return list, nil
}

// GetSecret returns one secret's metadata. An id that is not the caller's
// answers exactly like an absent one. Errors: not_found, unavailable, internal.
func (s *Service) GetSecret(ctx context.Context, userID, id string) (Secret, error) {
	if err := s.checkUser(userID); err != nil {
		return Secret{}, err
	}
	if !ValidID(id) {
		return Secret{}, ErrSecretNotFound
	}
	sec, err := s.d.Secrets.GetSecret(ctx, userID, id)
	if IsCode(err, CodeNotFound) {
		return Secret{}, ErrSecretNotFound
	}
	return sec, err
}

// CreateSecret validates and stores a new secret. The name is reserved
// atomically so two replicas racing for it cannot both win.
// Errors: invalid, conflict (name taken), unavailable, internal.
func (s *Service) CreateSecret(ctx context.Context, userID string, in CreateSecretInput) (Secret, error) {
	if err := s.checkUser(userID); err != nil {
		return Secret{}, err
	}
	var fields []FieldError
	if m := s.val.CheckName(in.Name); m != "" {
		fields = append(fields, FieldError{"name", m})
	}
	if m := s.val.CheckValue(in.Value); m != "" {
		fields = append(fields, FieldError{"value", m})
	}
	if in.Provider != nil {
		if m := CheckProvider(*in.Provider); m != "" {
			fields = append(fields, FieldError{"provider", m})
		}
	}
	fields = append(fields, CheckEgressHosts("egress_hosts", in.EgressHosts)...)
	if len(fields) > 0 {
		return Secret{}, Invalid(fields...)
	}
	if err := s.checkCount(ctx, userID); err != nil {
		return Secret{}, err
	}
	w, err := s.seal(ctx, userID, in.Value)
	if err != nil {
		return Secret{}, err
	}
	w.SecretID, w.Name, w.Provider = NewID(), in.Name, in.Provider
	w.EgressHosts = slices.Clone(in.EgressHosts)
	if err := s.reserveName(ctx, userID, in.Name, w.SecretID); err != nil {
		return Secret{}, err
	}
	stamp := s.cacheStamp(ctx, userID)
	sec, err := s.d.Secrets.CreateSecret(ctx, w)
	if err != nil {
		s.cacheWriteFailed(ctx, userID, err)
		// Best effort, and short: the answer must not wait long past the
		// request timeout, and a reservation left behind is taken over
		// after NameGrace anyway.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nameReleaseTimeout)
		defer cancel()
		if rerr := s.d.Secrets.ReleaseName(cctx, userID, in.Name); rerr != nil {
			s.cfg.Warn(ctx, "name_index", rerr)
		}
		return Secret{}, err
	}
	s.cacheWrite(ctx, userID, stamp, ListChange{Secret: sec})
	return sec, nil
}

// nameReleaseTimeout bounds the release of a name whose create failed.
const nameReleaseTimeout = 2 * time.Second

// checkCount refuses a create that would pass MaxSecretsPerUser. It counts
// the user's secrets (one Vault LIST) unless this replica knows the user is
// far below the cap (countHints). Errors: invalid, unavailable, internal.
func (s *Service) checkCount(ctx context.Context, userID string) error {
	limit := s.val.Limits().MaxSecretsPerUser
	if s.counts.take(userID, limit, s.cfg.Now()) {
		return nil
	}
	n, err := s.d.Secrets.CountSecrets(ctx, userID)
	if err != nil {
		return err
	}
	if n >= limit {
		return Invalid(FieldError{"name", fmt.Sprintf("you already have %d secrets, the most one user may keep; delete one first", limit)})
	}
	s.counts.counted(userID, n, s.cfg.Now())
	return nil
}

// reserveName binds name to secretID. A reservation whose secret never got
// written (a replica died between the two writes) is taken over once it is
// older than NameGrace. Errors: conflict, unavailable, internal.
func (s *Service) reserveName(ctx context.Context, userID, name, secretID string) error {
	err := s.d.Secrets.ReserveName(ctx, userID, name, secretID)
	if !IsCode(err, CodeConflict) {
		return err
	}
	// The index is case-folded (one name per case): the holder may be
	// spelled differently.
	taken := Errorf(CodeConflict, "a secret named %s already exists (names are unique regardless of letter case)", name)
	entry, err := s.d.Secrets.NameOwner(ctx, userID, name)
	if IsCode(err, CodeNotFound) { // released meanwhile: try once more
		if err := s.d.Secrets.ReserveName(ctx, userID, name, secretID); IsCode(err, CodeConflict) {
			return taken
		} else {
			return err
		}
	}
	if err != nil {
		return err
	}
	if _, err := s.d.Secrets.GetSecret(ctx, userID, entry.SecretID); !IsCode(err, CodeNotFound) {
		if err != nil {
			return err
		}
		return taken
	}
	if s.cfg.Now().Sub(entry.CreatedAt) < s.cfg.NameGrace {
		return taken // another create is probably in flight
	}
	if err := s.d.Secrets.RebindName(ctx, userID, name, secretID, entry); err != nil {
		if IsCode(err, CodeConflict) {
			return taken
		}
		return err
	}
	return nil
}

// seal encrypts a value and computes its preview and fingerprint, with the
// two Vault calls made concurrently.
func (s *Service) seal(ctx context.Context, userID, value string) (SecretWrite, error) {
	w := SecretWrite{UserID: userID, MaskedValue: Mask(value)}
	err := ForEach(ctx, 2, 2, func(ctx context.Context, i int) error {
		var err error
		if i == 0 {
			w.Ciphertext, err = s.d.Crypto.Encrypt(ctx, userID, []byte(value))
		} else {
			w.Fingerprint, err = s.d.Crypto.Fingerprint(ctx, userID, []byte(value))
		}
		return err
	})
	return w, err
}

// maxCASAttempts bounds how often a rotate retries after losing a
// check-and-set race to a concurrent writer.
const maxCASAttempts = 8

// UpdateSecret stores value as a new version of the secret. Concurrent
// updates never overwrite each other: each successful one is its own version.
// Errors: invalid, not_found, conflict (still racing after retries), unavailable, internal.
func (s *Service) UpdateSecret(ctx context.Context, userID, id, value string) (Secret, error) {
	if m := s.val.CheckValue(value); m != "" {
		return Secret{}, Invalid(FieldError{"value", m})
	}
	return s.updateValue(ctx, userID, id, value, false, nil)
}

// updateValue writes value as a new version; with setHosts the version's
// metadata carries hosts, else the current egress_hosts.
func (s *Service) updateValue(ctx context.Context, userID, id, value string, setHosts bool, hosts []string) (Secret, error) {
	if err := s.checkUser(userID); err != nil {
		return Secret{}, err
	}
	if !ValidID(id) {
		return Secret{}, ErrSecretNotFound
	}
	// The metadata read (which the first check-and-set uses) and the two
	// transit calls of seal, all at once.
	var (
		cur Secret
		w   SecretWrite
	)
	err := ForEach(ctx, 2, 2, func(ctx context.Context, i int) error {
		var err error
		if i == 0 {
			cur, err = s.GetSecret(ctx, userID, id)
		} else {
			w, err = s.seal(ctx, userID, value)
		}
		return err
	})
	if err != nil {
		return Secret{}, err
	}
	if setHosts {
		w.EgressHosts = hosts
		if w.EgressHosts == nil {
			w.EgressHosts = []string{}
		}
	}
	return s.writeVersion(ctx, userID, id, w, &cur)
}

// writeVersion writes w as the next version with check-and-set, re-reading
// the current version after each lost race. first, when set, is a read the
// caller just made: the first attempt uses it instead of reading again.
func (s *Service) writeVersion(ctx context.Context, userID, id string, w SecretWrite, first *Secret) (Secret, error) {
	hostsOf := w.EgressHosts // set by the caller: new egress_hosts
	stamp := s.cacheStamp(ctx, userID)
	for attempt := range maxCASAttempts {
		var cur Secret
		if attempt == 0 && first != nil {
			cur = *first
		} else {
			var err error
			if cur, err = s.GetSecret(ctx, userID, id); err != nil {
				return Secret{}, err
			}
		}
		w.SecretID, w.Name, w.Provider = id, cur.Name, cur.Provider
		if hostsOf == nil {
			w.EgressHosts = cur.EgressHosts
		}
		sec, err := s.d.Secrets.UpdateSecret(ctx, w, cur.Version)
		if err == nil {
			s.cacheWrite(ctx, userID, stamp, ListChange{Secret: sec})
			return sec, nil
		}
		if !IsCode(err, CodeConflict) {
			s.cacheWriteFailed(ctx, userID, err)
			if IsCode(err, CodeNotFound) {
				return Secret{}, ErrSecretNotFound
			}
			return Secret{}, err
		}
		select {
		case <-ctx.Done():
			return Secret{}, WithCode(CodeUnavailable, ctx.Err(), "request cancelled")
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return Secret{}, Errorf(CodeConflict, "the secret is being updated concurrently; retry")
}

// DeleteSecret removes a secret, every version, and frees its name.
// Errors: not_found, unavailable, internal.
func (s *Service) DeleteSecret(ctx context.Context, userID, id string) error {
	sec, err := s.GetSecret(ctx, userID, id)
	if err != nil {
		return err
	}
	stamp := s.cacheStamp(ctx, userID)
	if err := s.d.Secrets.DeleteSecret(ctx, userID, id); err != nil {
		if IsCode(err, CodeNotFound) {
			return ErrSecretNotFound
		}
		s.cacheWriteFailed(ctx, userID, err)
		return err
	}
	s.cacheWrite(ctx, userID, stamp, ListChange{Secret: Secret{ID: id}, Deleted: true})
	entry, err := s.d.Secrets.NameOwner(ctx, userID, sec.Name)
	if err == nil && entry.SecretID == id {
		err = s.d.Secrets.ReleaseName(ctx, userID, sec.Name)
	}
	if err != nil && !IsCode(err, CodeNotFound) {
		// The secret is gone; a stale name entry is repaired by the next create.
		s.cfg.Warn(ctx, "name_index", err)
	}
	return nil
}

// Versions lists a secret's versions, oldest first.
// Errors: not_found, unavailable, internal.
func (s *Service) Versions(ctx context.Context, userID, id string) ([]SecretVersion, error) {
	if _, err := s.GetSecret(ctx, userID, id); err != nil {
		return nil, err
	}
	return s.d.Secrets.Versions(ctx, userID, id)
}

// Rollback makes an old version's value current again, as a new version. The
// ciphertext is reused; the value is decrypted only to recompute its preview.
// Errors: invalid (no such version), not_found, conflict, unavailable, internal.
func (s *Service) Rollback(ctx context.Context, userID, id string, version int) (Secret, error) {
	cur, err := s.GetSecret(ctx, userID, id)
	if err != nil {
		return Secret{}, err
	}
	if version < 1 {
		return Secret{}, Invalid(FieldError{"version", "must be a positive version number"})
	}
	ct, err := s.d.Secrets.VersionCiphertext(ctx, userID, id, version)
	if IsCode(err, CodeNotFound) {
		return Secret{}, Invalid(FieldError{"version", fmt.Sprintf("version %d does not exist or was destroyed", version)})
	}
	if err != nil {
		return Secret{}, err
	}
	plain, err := s.d.Crypto.DecryptBatch(ctx, userID, []string{ct})
	if err != nil {
		return Secret{}, err
	}
	w := SecretWrite{UserID: userID, Ciphertext: ct, MaskedValue: Mask(string(plain[0]))}
	if w.Fingerprint, err = s.d.Crypto.Fingerprint(ctx, userID, plain[0]); err != nil {
		return Secret{}, err
	}
	return s.writeVersion(ctx, userID, id, w, &cur)
}

// Presets lists the presets with whether the caller has configured each.
// Errors: unavailable, internal.
func (s *Service) Presets(ctx context.Context, userID string) ([]Preset, error) {
	list, err := s.ListSecrets(ctx, userID)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(list))
	for _, sec := range list {
		have[sec.Name] = true
	}
	out := slices.Clone(s.cfg.Presets)
	for i := range out {
		out[i].Configured = have[out[i].EnvVarName]
		out[i].EgressHosts = slices.Clone(out[i].EgressHosts)
	}
	return out, nil
}

// CreateFromPreset creates the secret named after a preset's env var.
// Errors: invalid (unknown preset or bad value), conflict, unavailable, internal.
func (s *Service) CreateFromPreset(ctx context.Context, userID, provider, value string) (Secret, error) {
	return s.CreateFromPresetWith(ctx, userID, PresetInput{Provider: provider, Value: value})
}

// CreateFromPresetWith creates the secret named after a preset's env var,
// with in.EgressHosts or else the preset's default egress_hosts.
// Errors: invalid (unknown preset, bad value or hosts), conflict, unavailable, internal.
func (s *Service) CreateFromPresetWith(ctx context.Context, userID string, in PresetInput) (Secret, error) {
	known := make([]string, 0, len(s.cfg.Presets))
	for _, p := range s.cfg.Presets {
		if p.Provider == in.Provider {
			prov := p.Provider
			hosts := p.EgressHosts
			if in.EgressHosts != nil {
				hosts = *in.EgressHosts
			}
			return s.CreateSecret(ctx, userID, CreateSecretInput{Name: p.EnvVarName, Value: in.Value, Provider: &prov, EgressHosts: hosts})
		}
		known = append(known, p.Provider)
	}
	return Secret{}, Invalid(FieldError{"provider", fmt.Sprintf("unknown preset; known presets: %s", strings.Join(known, ", "))})
}
