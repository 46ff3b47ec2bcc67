package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// egressSecret is one selected secret of an egress sandbox, as its metadata
// describes it: provisioning in egress mode never reads or decrypts a value.
type egressSecret struct {
	ID, Name, Prefix string
	Hosts            []string
}

// delivery returns the delivery mode of a request ("" takes the default).
// Errors: invalid (unknown mode, or egress while it is not configured).
func (s *Service) delivery(d string) (string, error) {
	if d == "" {
		d = s.cfg.DefaultDelivery
	}
	switch d {
	case DeliveryEnv:
		return d, nil
	case DeliveryEgress:
		if s.cfg.Egress == nil || s.d.Egress == nil {
			return "", Invalid(FieldError{"delivery", "egress delivery is not configured on this broker"})
		}
		return d, nil
	}
	return "", Invalid(FieldError{"delivery", `must be "env" or "egress"`})
}

// resolveFor resolves a selection for a delivery mode: env reads and
// decrypts the values (resolve); egress reads each secret's metadata only
// (name, masked preview, egress_hosts), concurrently, and refuses secrets
// without egress_hosts, naming them.
// Errors: invalid, not_found, unavailable, internal.
func (s *Service) resolveFor(ctx context.Context, userID string, ids []string, delivery string) (env, []string, error) {
	delivery, err := s.delivery(delivery)
	if err != nil {
		return env{}, nil, err
	}
	if delivery == DeliveryEnv {
		e, ids, err := s.resolve(ctx, userID, ids)
		e.delivery = DeliveryEnv
		return e, ids, err
	}
	asked := ids
	ids = dedupe(ids)
	if limit := s.val.Limits().MaxSecretIDs; len(ids) > limit {
		return env{}, nil, Invalid(FieldError{"secret_ids", fmt.Sprintf("at most %d secret ids per request", limit)})
	}
	for _, id := range ids {
		if !ValidID(id) {
			return env{}, nil, ErrSecretNotFound
		}
	}
	secs := make([]Secret, len(ids))
	err = ForEach(ctx, len(ids), s.cfg.Concurrency, func(ctx context.Context, i int) error {
		var err error
		secs[i], err = s.d.Secrets.GetSecret(ctx, userID, ids[i])
		return err
	})
	if IsCode(err, CodeNotFound) {
		return env{}, nil, ErrSecretNotFound
	}
	if err != nil {
		return env{}, nil, err
	}
	e := env{delivery: DeliveryEgress, values: map[string]string{}}
	var missing []FieldError
	for _, sec := range secs {
		if len(sec.EgressHosts) == 0 {
			// The index in the request as sent (the first occurrence).
			missing = append(missing, FieldError{fmt.Sprintf("secret_ids[%d]", slices.Index(asked, sec.ID)),
				fmt.Sprintf("secret %s (%s) has no egress_hosts: egress delivery needs them", sec.Name, sec.ID)})
			continue
		}
		e.egress = append(e.egress, egressSecret{ID: sec.ID, Name: sec.Name,
			Prefix: MaskedPrefix(sec.MaskedValue), Hosts: slices.Clone(sec.EgressHosts)})
		e.names = append(e.names, sec.Name)
	}
	if len(missing) > 0 {
		return env{}, nil, Invalid(missing...)
	}
	slices.Sort(e.names)
	return e, ids, nil
}

// egressBundle prepares one egress sandbox: a placeholder per secret, a
// proxy credential, the records egressd reads and the bundle the sandbox
// unwraps. Errors: internal (no randomness).
func (s *Service) egressBundle(runtimeID, userID, sbID string, e env) (map[string]string, SandboxEgress, map[string]PlaceholderRecord, error) {
	ec := s.cfg.Egress
	cred, err := NewProxyCredential()
	if err != nil {
		return nil, SandboxEgress{}, nil, err
	}
	bundle := make(map[string]string, len(e.egress)+7)
	recs := make(map[string]PlaceholderRecord, len(e.egress))
	var hosts []string
	for _, sec := range e.egress {
		p, err := NewPlaceholder(sec.Prefix)
		if err != nil {
			return nil, SandboxEgress{}, nil, err
		}
		bundle[sec.Name] = p.String()
		recs[TokenHash(p.Token)] = PlaceholderRecord{SandboxID: sbID, UserID: userID, SecretID: sec.ID,
			Prefix: p.Prefix, Hosts: slices.Clone(sec.Hosts)}
		for _, h := range sec.Hosts {
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	if hosts == nil {
		hosts = []string{}
	}
	proxy := "http://" + sbID + ":" + cred + "@" + ec.ProxyHost
	for _, k := range ProxyEnvNames() {
		bundle[k] = proxy
	}
	bundle["NO_PROXY"], bundle["no_proxy"] = ec.NoProxy, ec.NoProxy
	bundle[EgressCAKey] = ec.CAPEM
	rec := SandboxEgress{SandboxID: sbID, RuntimeID: runtimeID, UserID: userID,
		CredentialHash: CredentialHash(cred), Hosts: hosts, ExpiresAt: s.cfg.Now().UTC().Add(ec.Lifetime)}
	return bundle, rec, recs, nil
}

// ProxyEnvNames are the proxy variables of an egress bundle, each set to
// egressd's URL with the sandbox's credentials.
func ProxyEnvNames() []string {
	return []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"}
}

// EgressEnvNames are every name an egress bundle or sandbox-init sets
// besides the secrets' own: all denied for secrets (DefaultDeniedNames).
func EgressEnvNames() []string {
	return append(ProxyEnvNames(), "NO_PROXY", "no_proxy", EgressCAKey,
		"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO")
}

// MaskedPrefix is the start of a value that its masked preview (Mask)
// reveals: the first characters before the mask, "" when the preview
// reveals nothing.
func MaskedPrefix(masked string) string {
	r := []rune(masked)
	if len(r) != previewWidth {
		return ""
	}
	p := string(r[:revealPrefix])
	if strings.ContainsRune(p, MaskRune) {
		return "" // nothing revealed (or a value starting with the mask character)
	}
	return p
}

// proxyURL is what a bootstrap shows of egressd: its URL without credentials.
func (s *Service) proxyURL() string { return "http://" + s.cfg.Egress.ProxyHost }

// dropEgress removes the egress records of sandboxes; best effort with a
// fresh context (used on failure paths).
func (s *Service) dropEgress(ctx context.Context, sbID string, hashes []string) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := s.d.Egress.DeleteEgress(cctx, sbID, hashes); err != nil {
		s.cfg.Warn(ctx, "egress_records", err)
	}
}
