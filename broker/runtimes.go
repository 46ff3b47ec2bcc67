package broker

import "context"

// CreateRuntime provisions a runtime: one sandbox whose bootstrap carries the
// selected secrets. Only this answer (and restart's) holds the token.
// Errors: invalid, not_found (a secret id not the caller's), unavailable, internal.
func (s *Service) CreateRuntime(ctx context.Context, userID string, in RuntimeInput) (Runtime, error) {
	if err := s.checkUser(userID); err != nil {
		return Runtime{}, err
	}
	if err := checkProject(in.ProjectID, in.Name); err != nil {
		return Runtime{}, err
	}
	e, ids, err := s.resolveFor(ctx, userID, in.SecretIDs, in.Delivery)
	if err != nil {
		return Runtime{}, err
	}
	now := s.cfg.Now().UTC()
	rt := Runtime{ID: NewID(), UserID: userID, ProjectID: in.ProjectID, Name: in.Name,
		SecretIDs: ids, CreatedAt: now, UpdatedAt: now}
	if rt.Sandbox, err = s.mint(ctx, rt.ID, userID, e); err != nil {
		return Runtime{}, err
	}
	if err := s.saveRuntime(ctx, rt); err != nil {
		s.retireAll(ctx, rt.ID, []Sandbox{rt.Sandbox})
		return Runtime{}, err
	}
	return rt, nil
}

func (s *Service) saveRuntime(ctx context.Context, rt Runtime) error {
	return s.d.Records.PutRuntime(ctx, rt.WithoutBootstrap())
}

// GetRuntime returns a runtime without any token.
// Errors: not_found (absent or another user's), unavailable, internal.
func (s *Service) GetRuntime(ctx context.Context, userID, id string) (Runtime, error) {
	rt, err := s.getStoredRuntime(ctx, userID, id)
	if err != nil {
		return Runtime{}, err
	}
	rt.Sandbox.EgressTokenHashes, rt.Sandbox.Accessor = nil, ""
	return rt, nil
}

// getStoredRuntime is GetRuntime keeping what the record knows of the
// sandbox's egress records (for its retirement).
func (s *Service) getStoredRuntime(ctx context.Context, userID, id string) (Runtime, error) {
	if err := s.checkUser(userID); err != nil {
		return Runtime{}, err
	}
	if !ValidID(id) {
		return Runtime{}, Errorf(CodeNotFound, "runtime not found")
	}
	rt, err := s.d.Records.GetRuntime(ctx, userID, id)
	if IsCode(err, CodeNotFound) {
		return Runtime{}, Errorf(CodeNotFound, "runtime not found")
	}
	return rt.WithoutBootstrap(), err
}

// ListRuntimes returns the caller's runtimes without tokens.
// Errors: unavailable, internal.
func (s *Service) ListRuntimes(ctx context.Context, userID string) ([]Runtime, error) {
	if err := s.checkUser(userID); err != nil {
		return nil, err
	}
	list, err := s.d.Records.ListRuntimes(ctx, userID)
	for i := range list {
		list[i] = list[i].WithoutBootstrap()
	}
	return list, err
}

// RestartRuntime replaces the runtime's sandbox with a new one (optionally
// with a new selection) and revokes the old bootstrap token if unused.
// Errors: invalid, not_found, unavailable, internal.
func (s *Service) RestartRuntime(ctx context.Context, userID, id string, secretIDs []string) (Runtime, error) {
	return s.RestartRuntimeWith(ctx, userID, id, RestartInput{SecretIDs: secretIDs})
}

// RestartRuntimeWith is RestartRuntime with a choice of delivery (in.Delivery
// "" keeps the runtime's). The old sandbox's egress records are removed.
// Errors: invalid, not_found, unavailable, internal.
func (s *Service) RestartRuntimeWith(ctx context.Context, userID, id string, in RestartInput) (Runtime, error) {
	rt, err := s.getStoredRuntime(ctx, userID, id)
	if err != nil {
		return Runtime{}, err
	}
	secretIDs := in.SecretIDs
	if secretIDs == nil {
		secretIDs = rt.SecretIDs
	}
	delivery := in.Delivery
	if delivery == "" {
		delivery = rt.Sandbox.Delivery
	}
	e, ids, err := s.resolveFor(ctx, userID, secretIDs, delivery)
	if err != nil {
		return Runtime{}, err
	}
	sb, err := s.mint(ctx, rt.ID, userID, e)
	if err != nil {
		return Runtime{}, err
	}
	if err := s.retire(ctx, rt.ID, rt.Sandbox); err != nil {
		s.retireAll(ctx, rt.ID, []Sandbox{sb})
		return Runtime{}, err
	}
	rt.Sandbox, rt.SecretIDs = sb, ids
	rt.Restarts++
	rt.UpdatedAt = s.cfg.Now().UTC()
	if err := s.saveRuntime(ctx, rt); err != nil {
		s.retireAll(ctx, rt.ID, []Sandbox{sb})
		return Runtime{}, err
	}
	return rt, nil
}

// DeleteRuntime revokes the runtime's outstanding token and forgets it.
// Errors: not_found, unavailable, internal.
func (s *Service) DeleteRuntime(ctx context.Context, userID, id string) error {
	rt, err := s.getStoredRuntime(ctx, userID, id)
	if err != nil {
		return err
	}
	if err := s.retire(ctx, rt.ID, rt.Sandbox); err != nil {
		return err
	}
	if err := s.d.Records.DeleteRuntime(ctx, userID, id); err != nil && !IsCode(err, CodeNotFound) {
		return err
	}
	return nil
}
