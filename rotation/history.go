package rotation

import (
	"context"
	"sync"

	"github.com/acme/secretsbroker/broker"
)

// KeyVersionScan counts the transit key versions that stored secret versions
// need, over every live (neither deleted nor destroyed) KV version of every
// secret of every user.
type KeyVersionScan struct {
	LatestVersion int         // the key's latest version during the scan
	Users         int         // users scanned
	Secrets       int         // secrets scanned (deleted meanwhile: not counted)
	Versions      int         // live versions scanned
	Current       map[int]int // key version -> current versions encrypted with it
	History       map[int]int // key version -> older (non-current) versions encrypted with it
	Malformed     int         // live versions without a transit ciphertext

	// Versions that need a key version below LatestVersion: what raising the
	// minimum decryption version to LatestVersion would make undecryptable.
	Stale        int // live versions
	StaleCurrent int // of which current versions (a rewrap left them behind)
	StaleSecrets int // secrets with at least one
	// StaleCopies are stale older versions whose value (same fingerprint) is
	// also stored in a version at LatestVersion, typically the version a
	// rewrap copied: raising the minimum loses no value through them, only
	// rollback to those version numbers.
	StaleCopies int
}

// ScanOptions tunes ScanKeyVersions.
type ScanOptions struct {
	// Concurrency bounds the secrets read in parallel (default 8, at most 64).
	Concurrency int
	// Progress, when set, is called as secrets are scanned (from several
	// goroutines, one call at a time).
	Progress func(done, total int)
}

// ScanKeyVersions reads the metadata and every live version's data of every
// secret of every user (one LIST per user, one metadata read per secret, one
// data read per live version) and counts the key versions they need. It
// reads no value and decrypts nothing.
// Errors: unavailable (ctx cancelled too), forbidden, internal.
func (rt *Rotator) ScanKeyVersions(ctx context.Context, opts ScanOptions) (KeyVersionScan, error) {
	workers := opts.Concurrency
	if workers <= 0 {
		workers = DefaultRewrapConcurrency
	}
	workers = min(workers, MaxRewrapConcurrency)
	s := KeyVersionScan{Current: map[int]int{}, History: map[int]int{}}
	info, err := rt.v.KeyInfo(ctx)
	if err != nil {
		return s, err
	}
	s.LatestVersion = info.LatestVersion
	users, err := rt.v.UserIDs(ctx)
	if err != nil {
		return s, err
	}
	s.Users = len(users)
	type ref struct{ user, id string }
	var (
		mu   sync.Mutex
		refs []ref
	)
	err = broker.ForEach(ctx, len(users), workers, func(ctx context.Context, i int) error {
		ids, err := rt.v.SecretIDs(asUser(ctx, users[i]), users[i])
		mu.Lock()
		for _, id := range ids {
			refs = append(refs, ref{users[i], id})
		}
		mu.Unlock()
		return err
	})
	if err != nil {
		return s, err
	}
	done := 0
	err = broker.ForEach(ctx, len(refs), workers, func(ctx context.Context, i int) error {
		versions, err := rt.v.LiveVersions(asUser(ctx, refs[i].user), refs[i].user, refs[i].id)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		done++
		if len(versions) > 0 {
			s.add(versions)
		}
		if opts.Progress != nil {
			opts.Progress(done, len(refs))
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	return s, nil
}

// add counts one secret (callers hold the scan's lock).
func (s *KeyVersionScan) add(versions []StoredVersion) {
	s.Secrets++
	latest := map[string]bool{}
	for _, v := range versions {
		if v.KeyVersion >= s.LatestVersion && v.Fingerprint != "" {
			latest[v.Fingerprint] = true
		}
	}
	stale := false
	for _, v := range versions {
		s.Versions++
		switch {
		case v.KeyVersion == 0:
			s.Malformed++
			continue
		case v.Current:
			s.Current[v.KeyVersion]++
		default:
			s.History[v.KeyVersion]++
		}
		if v.KeyVersion >= s.LatestVersion {
			continue
		}
		s.Stale++
		stale = true
		switch {
		case v.Current:
			s.StaleCurrent++
		case latest[v.Fingerprint]:
			s.StaleCopies++
		}
	}
	if stale {
		s.StaleSecrets++
	}
}

// RaiseOptions tunes RaiseMinDecryptionVersion.
type RaiseOptions struct {
	// Force raises the minimum even though stored versions still need an
	// older key version: they become undecryptable (rollback to them fails).
	Force bool
	Scan  ScanOptions
}

// RaiseReport says what RaiseMinDecryptionVersion found and did.
type RaiseReport struct {
	From, To int            // min_decryption_version before and after (equal: unchanged)
	Scan     KeyVersionScan // zero when the minimum was already at the latest version
	Forced   bool           // raised although Scan.Stale > 0
}

// RaiseMinDecryptionVersion raises the transit key's minimum decryption
// version to its latest version, after ScanKeyVersions checked that no
// stored version (current or older: rollback reuses old ciphertexts) still
// needs an older key version. When some do, it changes nothing and answers
// conflict, unless opts.Force. A minimum already at the latest version is
// left alone (no scan).
//
// Note that RewrapAll leaves the version it copied behind at the old key
// version (KV v2 history is immutable): after a rewrap every secret has such
// a version (counted in Scan.StaleCopies), so raising needs Force unless
// that history was destroyed or trimmed by max_versions.
// Errors: conflict (stored versions need older key versions; the report
// says how many), not_found, forbidden, unavailable, internal.
func (rt *Rotator) RaiseMinDecryptionVersion(ctx context.Context, opts RaiseOptions) (RaiseReport, error) {
	info, err := rt.v.KeyInfo(ctx)
	if err != nil {
		return RaiseReport{}, err
	}
	rep := RaiseReport{From: info.MinDecryptionVersion, To: info.MinDecryptionVersion}
	if info.MinDecryptionVersion >= info.LatestVersion {
		return rep, nil
	}
	if rep.Scan, err = rt.ScanKeyVersions(ctx, opts.Scan); err != nil {
		return rep, err
	}
	sc := rep.Scan
	if sc.Stale > 0 && !opts.Force {
		return rep, broker.Errorf(broker.CodeConflict,
			"%d stored versions of %d secrets still need a key version below %d (%d current, %d older versions whose value is also stored at key version %d, %d older versions holding values stored nowhere else): raising the minimum decryption version would make them undecryptable and rollback to them fail",
			sc.Stale, sc.StaleSecrets, sc.LatestVersion, sc.StaleCurrent, sc.StaleCopies, sc.LatestVersion, sc.Stale-sc.StaleCurrent-sc.StaleCopies)
	}
	if err := rt.v.SetMinDecryptionVersion(ctx, sc.LatestVersion); err != nil {
		return rep, err
	}
	rep.To, rep.Forced = sc.LatestVersion, sc.Stale > 0
	return rep, nil
}
