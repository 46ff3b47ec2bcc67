package broker

import (
	"context"
	"fmt"
)

// CreateEvaluation provisions, for every item, a runtime sandbox and a task
// sandbox, each with its own bootstrap over the same selection. If any token
// cannot be minted, every token minted so far is revoked.
// Errors: invalid, not_found, unavailable, internal.
func (s *Service) CreateEvaluation(ctx context.Context, userID string, in EvaluationInput) (Evaluation, error) {
	if err := s.checkUser(userID); err != nil {
		return Evaluation{}, err
	}
	if err := checkProject(in.ProjectID, ""); err != nil {
		return Evaluation{}, err
	}
	if err := s.checkItems(in.Items); err != nil {
		return Evaluation{}, err
	}
	e, ids, err := s.resolveFor(ctx, userID, in.SecretIDs, in.Delivery)
	if err != nil {
		return Evaluation{}, err
	}
	ev := Evaluation{ID: NewID(), UserID: userID, ProjectID: in.ProjectID, SecretIDs: ids,
		Items: make([]EvaluationItem, len(in.Items)), CreatedAt: s.cfg.Now().UTC()}
	sbs := make([]Sandbox, 2*len(in.Items))
	err = ForEach(ctx, len(sbs), s.cfg.Concurrency, func(ctx context.Context, i int) error {
		var err error
		sbs[i], err = s.mint(ctx, ev.ID, userID, e)
		return err
	})
	if err == nil {
		for i, name := range in.Items {
			ev.Items[i] = EvaluationItem{Name: name, RuntimeSandbox: sbs[2*i], TaskSandbox: sbs[2*i+1]}
		}
		err = s.d.Records.PutEvaluation(ctx, ev.WithoutBootstraps())
	}
	if err != nil {
		s.retireAll(ctx, ev.ID, sbs)
		return Evaluation{}, err
	}
	return ev, nil
}

func (s *Service) checkItems(items []string) error {
	limit := s.val.Limits().MaxEvalItems
	switch {
	case len(items) == 0:
		return Invalid(FieldError{"items", "at least one item is required"})
	case len(items) > limit:
		return Invalid(FieldError{"items", fmt.Sprintf("at most %d items per evaluation", limit)})
	}
	for i, name := range items {
		if name == "" || len(name) > 128 {
			return Invalid(FieldError{fmt.Sprintf("items[%d].name", i), "is required, at most 128 characters"})
		}
	}
	return nil
}

// GetEvaluation returns an evaluation without any token.
// Errors: not_found (absent or another user's), unavailable, internal.
func (s *Service) GetEvaluation(ctx context.Context, userID, id string) (Evaluation, error) {
	if err := s.checkUser(userID); err != nil {
		return Evaluation{}, err
	}
	if !ValidID(id) {
		return Evaluation{}, Errorf(CodeNotFound, "evaluation not found")
	}
	ev, err := s.d.Records.GetEvaluation(ctx, userID, id)
	if IsCode(err, CodeNotFound) {
		return Evaluation{}, Errorf(CodeNotFound, "evaluation not found")
	}
	return ev.WithoutBootstraps(), err
}
