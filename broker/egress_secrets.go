package broker

import (
	"context"
	"fmt"
	"slices"
)

// CheckEgressHosts validates a secret's egress_hosts: at most MaxEgressHosts
// patterns, each valid (CheckEgressHost), none repeated (a duplicate is
// refused, not folded: it is a caller's mistake worth naming). field is the
// request field ("egress_hosts"); errors name the index, egress_hosts[3].
func CheckEgressHosts(field string, hosts []string) []FieldError {
	if len(hosts) > MaxEgressHosts {
		return []FieldError{{field, fmt.Sprintf("at most %d hosts", MaxEgressHosts)}}
	}
	var out []FieldError
	seen := make(map[string]int, len(hosts))
	for i, h := range hosts {
		f := fmt.Sprintf("%s[%d]", field, i)
		if m := CheckEgressHost(h); m != "" {
			out = append(out, FieldError{f, m})
			continue
		}
		if j, dup := seen[h]; dup {
			out = append(out, FieldError{f, fmt.Sprintf("repeats %s[%d]", field, j)})
			continue
		}
		seen[h] = i
	}
	return out
}

// UpdateSecretInput is a PUT of a secret: a new value, new egress_hosts, or
// both. A nil field is left as it is.
type UpdateSecretInput struct {
	Value       *string
	EgressHosts *[]string
}

// UpdateSecretWith applies a PUT: a new value is a new version (keeping the
// egress_hosts unless new ones are given); egress_hosts alone change the
// secret's metadata and make no new version.
// Errors: invalid (nothing to change, bad value or hosts), not_found,
// conflict, unavailable, internal.
func (s *Service) UpdateSecretWith(ctx context.Context, userID, id string, in UpdateSecretInput) (Secret, error) {
	var fields []FieldError
	if in.Value == nil && in.EgressHosts == nil {
		fields = append(fields, FieldError{"value", "value or egress_hosts is required"})
	}
	if in.Value != nil {
		if m := s.val.CheckValue(*in.Value); m != "" {
			fields = append(fields, FieldError{"value", m})
		}
	}
	var hosts []string
	if in.EgressHosts != nil {
		hosts = slices.Clip(append([]string{}, (*in.EgressHosts)...))
		fields = append(fields, CheckEgressHosts("egress_hosts", hosts)...)
	}
	if len(fields) > 0 {
		return Secret{}, Invalid(fields...)
	}
	if in.Value != nil {
		return s.updateValue(ctx, userID, id, *in.Value, in.EgressHosts != nil, hosts)
	}
	if err := s.checkUser(userID); err != nil {
		return Secret{}, err
	}
	if !ValidID(id) {
		return Secret{}, ErrSecretNotFound
	}
	stamp := s.cacheStamp(ctx, userID)
	sec, err := s.d.Secrets.SetEgressHosts(ctx, userID, id, hosts)
	if IsCode(err, CodeNotFound) {
		return Secret{}, ErrSecretNotFound
	}
	if err != nil {
		s.cacheWriteFailed(ctx, userID, err)
		return Secret{}, err
	}
	s.cacheWrite(ctx, userID, stamp, ListChange{Secret: sec})
	return sec, nil
}

// PresetInput is a secret created from a preset. EgressHosts nil takes the
// preset's defaults.
type PresetInput struct {
	Provider    string
	Value       string
	EgressHosts *[]string
}
