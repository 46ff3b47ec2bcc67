package broker

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// cacheDropTimeout bounds the Invalidate that follows a failed Update: it
// runs even when the request was cancelled, for the list must not outlive
// a write it does not show.
const cacheDropTimeout = 2 * time.Second

// cacheStamp reads the user's list cache stamp before a store write, for
// cacheWrite. "" (the cache is unreachable) makes cacheWrite invalidate.
func (s *Service) cacheStamp(ctx context.Context, userID string) string {
	stamp, err := s.d.Cache.Stamp(ctx, userID)
	if err != nil {
		s.cfg.Warn(ctx, "list_cache", err)
		return ""
	}
	return stamp
}

// cacheWrite records a finished store write in the user's cached list: in
// place when no other write came between the stamp read and now, else the
// list is dropped (the next list reads the store). An Update that fails is
// followed by an Invalidate.
func (s *Service) cacheWrite(ctx context.Context, userID, stamp string, change ListChange) {
	if stamp != "" {
		err := s.d.Cache.Update(ctx, userID, stamp, change)
		if err == nil {
			return
		}
		s.cfg.Warn(ctx, "list_cache", err)
	}
	s.dropList(ctx, userID)
}

// cacheWriteFailed drops the user's cached list after a store write that
// failed without saying it changed nothing (a timeout, an outage): the
// write may have landed. Conflict, not_found and invalid change nothing.
func (s *Service) cacheWriteFailed(ctx context.Context, userID string, err error) {
	switch ErrorCode(err) {
	case CodeConflict, CodeNotFound, CodeInvalid:
		return
	}
	s.dropList(ctx, userID)
}

func (s *Service) dropList(ctx context.Context, userID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cacheDropTimeout)
	defer cancel()
	if err := s.d.Cache.Invalidate(ctx, userID); err != nil {
		s.cfg.Warn(ctx, "list_cache", err)
	}
}

// SortSecrets sorts a secret list as lists are answered: by name (names are
// unique), then by ID.
func SortSecrets(list []Secret) {
	slices.SortFunc(list, func(a, b Secret) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
}
