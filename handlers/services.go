package handlers

import (
	"context"

	"github.com/acme/secretsbroker/broker"
)

// The HTTP layer works through the interfaces below, declared here where
// they are used, one per responsibility. *broker.Service implements the
// three services and *broker.Authenticator implements Authenticator
// (cmd/brokerd wires them); unit tests use small implementations of their own.
// Every method returns a coded *broker.Error, which handleError maps to a
// status in one place.

// SecretsService is what the /api/v1/user/secrets routes need.
type SecretsService interface {
	// ListSecrets errors: unauthenticated, unavailable, internal.
	ListSecrets(ctx context.Context, userID string) ([]broker.Secret, error)
	// CreateSecret errors: invalid, conflict, unavailable, internal.
	CreateSecret(ctx context.Context, userID string, in broker.CreateSecretInput) (broker.Secret, error)
	// GetSecret errors: not_found, unavailable, internal.
	GetSecret(ctx context.Context, userID, id string) (broker.Secret, error)
	// UpdateSecretWith errors: invalid, not_found, conflict, unavailable, internal.
	UpdateSecretWith(ctx context.Context, userID, id string, in broker.UpdateSecretInput) (broker.Secret, error)
	// DeleteSecret errors: not_found, unavailable, internal.
	DeleteSecret(ctx context.Context, userID, id string) error
	// Versions errors: not_found, unavailable, internal.
	Versions(ctx context.Context, userID, id string) ([]broker.SecretVersion, error)
	// Rollback errors: invalid, not_found, conflict, unavailable, internal.
	Rollback(ctx context.Context, userID, id string, version int) (broker.Secret, error)
	// Presets errors: unavailable, internal.
	Presets(ctx context.Context, userID string) ([]broker.Preset, error)
	// CreateFromPresetWith errors: invalid, conflict, unavailable, internal.
	CreateFromPresetWith(ctx context.Context, userID string, in broker.PresetInput) (broker.Secret, error)
}

// RuntimesService is what the /api/v1/runtimes routes need.
type RuntimesService interface {
	// CreateRuntime errors: invalid, not_found, unavailable, internal.
	CreateRuntime(ctx context.Context, userID string, in broker.RuntimeInput) (broker.Runtime, error)
	// ListRuntimes errors: unavailable, internal.
	ListRuntimes(ctx context.Context, userID string) ([]broker.Runtime, error)
	// GetRuntime errors: not_found, unavailable, internal.
	GetRuntime(ctx context.Context, userID, id string) (broker.Runtime, error)
	// RestartRuntimeWith errors: invalid, not_found, unavailable, internal.
	RestartRuntimeWith(ctx context.Context, userID, id string, in broker.RestartInput) (broker.Runtime, error)
	// DeleteRuntime errors: not_found, unavailable, internal.
	DeleteRuntime(ctx context.Context, userID, id string) error
}

// EvaluationsService is what the /api/v1/evaluations routes need.
type EvaluationsService interface {
	// CreateEvaluation errors: invalid, not_found, unavailable, internal.
	CreateEvaluation(ctx context.Context, userID string, in broker.EvaluationInput) (broker.Evaluation, error)
	// GetEvaluation errors: not_found, unavailable, internal.
	GetEvaluation(ctx context.Context, userID, id string) (broker.Evaluation, error)
}

// Authenticator resolves an API key to its record.
type Authenticator interface {
	// Authenticate errors: unauthenticated, unavailable, internal.
	Authenticate(ctx context.Context, key string) (broker.APIKey, error)
}

var (
	_ SecretsService     = (*broker.Service)(nil)
	_ RuntimesService    = (*broker.Service)(nil)
	_ EvaluationsService = (*broker.Service)(nil)
	_ Authenticator      = (*broker.Authenticator)(nil)
)
