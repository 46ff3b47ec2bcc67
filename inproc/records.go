package inproc

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/acme/secretsbroker/broker"
)

// record is one stored runtime or evaluation document.
type record struct {
	userID  string
	doc     []byte
	expires time.Time
}

type accessor struct {
	value   string
	expires time.Time
}

func (r record) live(now time.Time) bool   { return now.Before(r.expires) }
func (a accessor) live(now time.Time) bool { return now.Before(a.expires) }

// PutRuntime creates or replaces a runtime record for Options.RecordTTL. The
// sandbox's bootstrap is never stored. Errors: invalid (no id or user id), internal.
func (s *Store) PutRuntime(_ context.Context, r broker.Runtime) error {
	doc, err := broker.EncodeRuntime(r)
	return s.putRecord(r.UserID, doc, err, func(rec record) {
		if old, ok := s.runtimes[r.ID]; ok && old.userID != r.UserID {
			s.unindexLocked(old.userID, r.ID)
		}
		s.runtimes[r.ID] = rec
		ids := s.byUser[r.UserID]
		if ids == nil {
			ids = make(map[string]struct{})
			s.byUser[r.UserID] = ids
		}
		ids[r.ID] = struct{}{}
	})
}

// putRecord stores an encoded record (doc, or encErr when encoding failed)
// for Options.RecordTTL: store runs under the lock, after a sweep.
func (s *Store) putRecord(userID string, doc []byte, encErr error, store func(rec record)) error {
	if encErr != nil {
		return encErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now)
	store(record{userID: userID, doc: doc, expires: now.Add(s.opts.RecordTTL)})
	return nil
}

// GetRuntime returns the user's runtime. Errors: not_found (absent, expired or
// another user's: the same error), internal.
func (s *Store) GetRuntime(_ context.Context, userID, id string) (broker.Runtime, error) {
	return getRecord(s, s.runtimes, userID, id, broker.ErrRuntimeNotFound, broker.DecodeRuntime)
}

// getRecord reads the user's live record id of m (runtimes or evaluations)
// and decodes it; notFound answers an absent, expired or another user's one.
func getRecord[T any](s *Store, m map[string]record, userID, id string, notFound error, decode func([]byte) (T, error)) (T, error) {
	s.mu.Lock()
	rec, ok := m[id]
	now := s.now()
	s.mu.Unlock()
	if !ok || rec.userID != userID || !rec.live(now) {
		var zero T
		return zero, notFound
	}
	return decode(rec.doc)
}

// ListRuntimes returns the user's live runtimes, oldest first (by CreatedAt,
// then id). Errors: internal.
func (s *Store) ListRuntimes(_ context.Context, userID string) ([]broker.Runtime, error) {
	s.mu.Lock()
	now := s.now()
	docs := make([][]byte, 0, len(s.byUser[userID]))
	for id := range s.byUser[userID] {
		if rec, ok := s.runtimes[id]; ok && rec.live(now) {
			docs = append(docs, rec.doc)
		}
	}
	s.mu.Unlock()
	out := make([]broker.Runtime, 0, len(docs))
	for _, doc := range docs {
		r, err := broker.DecodeRuntime(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sortRuntimes(out)
	return out, nil
}

// sortRuntimes orders runtimes by creation time, then id.
func sortRuntimes(rs []broker.Runtime) {
	slices.SortFunc(rs, func(a, b broker.Runtime) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// DeleteRuntime removes the user's runtime. Errors: not_found (absent, expired
// or another user's).
func (s *Store) DeleteRuntime(_ context.Context, userID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.runtimes[id]
	if !ok || rec.userID != userID || !rec.live(s.now()) {
		return broker.ErrRuntimeNotFound
	}
	delete(s.runtimes, id)
	s.unindexLocked(userID, id)
	return nil
}

// PutEvaluation creates or replaces an evaluation record for
// Options.RecordTTL, without any bootstrap. Errors: invalid, internal.
func (s *Store) PutEvaluation(_ context.Context, e broker.Evaluation) error {
	doc, err := broker.EncodeEvaluation(e)
	return s.putRecord(e.UserID, doc, err, func(rec record) { s.evaluations[e.ID] = rec })
}

// GetEvaluation returns the user's evaluation. Errors: not_found (absent,
// expired or another user's), internal.
func (s *Store) GetEvaluation(_ context.Context, userID, id string) (broker.Evaluation, error) {
	return getRecord(s, s.evaluations, userID, id, broker.ErrEvaluationNotFound, broker.DecodeEvaluation)
}

// PutAccessor records sandboxID -> accessor for ttl. Errors: invalid (empty
// sandbox id or accessor, ttl <= 0).
func (s *Store) PutAccessor(_ context.Context, sandboxID, acc string, ttl time.Duration) error {
	if sandboxID == "" || acc == "" || ttl <= 0 {
		return broker.Errorf(broker.CodeInvalid, "accessor record needs a sandbox id, an accessor and a positive ttl")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now)
	s.accessors[sandboxID] = accessor{value: acc, expires: now.Add(ttl)}
	return nil
}

// TakeAccessor returns and forgets the accessor recorded for sandboxID; ok is
// false when none is (never recorded, expired or already taken). No errors.
func (s *Store) TakeAccessor(_ context.Context, sandboxID string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accessors[sandboxID]
	if !ok {
		return "", false, nil
	}
	delete(s.accessors, sandboxID)
	if !a.live(s.now()) {
		return "", false, nil
	}
	return a.value, true, nil
}

func (s *Store) unindexLocked(userID, id string) {
	ids := s.byUser[userID]
	delete(ids, id)
	if len(ids) == 0 {
		delete(s.byUser, userID)
	}
}

// sweepLocked drops expired entries, at most once per sweepInterval.
func (s *Store) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < sweepInterval {
		return
	}
	s.lastSweep = now
	for id, rec := range s.runtimes {
		if !rec.live(now) {
			delete(s.runtimes, id)
			s.unindexLocked(rec.userID, id)
		}
	}
	for id, rec := range s.evaluations {
		if !rec.live(now) {
			delete(s.evaluations, id)
		}
	}
	for id, a := range s.accessors {
		if !a.live(now) {
			delete(s.accessors, id)
		}
	}
}
