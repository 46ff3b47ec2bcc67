package storetest

import (
	"fmt"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/layout"
)

// base is a fixed instant with nanoseconds, in UTC, so JSON round trips compare exactly.
var base = time.Date(2026, 11, 28, 12, 0, 0, 123456789, time.UTC)

// Bootstrap returns a bootstrap carrying token, as the POST that minted it answers.
func Bootstrap(sandboxID, token string) *broker.Bootstrap {
	return &broker.Bootstrap{
		SandboxID:    sandboxID,
		VaultAddr:    "http://127.0.0.1:8200",
		Token:        token,
		CreationPath: layout.CreationPath("broker", sandboxID),
		ExpiresAt:    base.Add(5 * time.Minute),
		EnvNames:     []string{"OPENAI_API_KEY", "GITHUB_TOKEN"},
	}
}

// Runtime returns a runtime with every field set, its sandbox carrying a
// bootstrap with token (which a store must strip).
func Runtime(userID, id, token string) broker.Runtime {
	sb := "sb-" + id
	return broker.Runtime{
		ID:        id,
		UserID:    userID,
		ProjectID: "proj-" + userID,
		Name:      "runtime " + id,
		SecretIDs: []string{"sec-1", "sec-2"},
		Sandbox: broker.Sandbox{
			ID:        sb,
			EnvNames:  []string{"OPENAI_API_KEY", "GITHUB_TOKEN"},
			ExpiresAt: base.Add(5 * time.Minute),
			CreatedAt: base,
			Bootstrap: Bootstrap(sb, token),
		},
		Restarts:  2,
		CreatedAt: base,
		UpdatedAt: base.Add(time.Second),
	}
}

// Evaluation returns an evaluation with n items, every sandbox carrying a
// bootstrap with token.
func Evaluation(userID, id, token string, n int) broker.Evaluation {
	e := broker.Evaluation{
		ID:        id,
		UserID:    userID,
		ProjectID: "proj-" + userID,
		SecretIDs: []string{"sec-1"},
		CreatedAt: base,
	}
	for i := range n {
		rs, ts := fmt.Sprintf("sb-%s-%d-r", id, i), fmt.Sprintf("sb-%s-%d-t", id, i)
		e.Items = append(e.Items, broker.EvaluationItem{
			Name: fmt.Sprintf("item-%d", i),
			RuntimeSandbox: broker.Sandbox{ID: rs, EnvNames: []string{"OPENAI_API_KEY"},
				ExpiresAt: base.Add(time.Minute), CreatedAt: base, Bootstrap: Bootstrap(rs, token)},
			TaskSandbox: broker.Sandbox{ID: ts, EnvNames: []string{"OPENAI_API_KEY"},
				ExpiresAt: base.Add(time.Minute), CreatedAt: base, Bootstrap: Bootstrap(ts, token)},
		})
	}
	return e
}

// withoutBootstrap is what a store must answer for r.
func withoutBootstrap(r broker.Runtime) broker.Runtime {
	r.Sandbox.Bootstrap = nil
	return r
}

func evaluationWithoutBootstrap(e broker.Evaluation) broker.Evaluation {
	items := make([]broker.EvaluationItem, len(e.Items))
	copy(items, e.Items)
	for i := range items {
		items[i].RuntimeSandbox.Bootstrap = nil
		items[i].TaskSandbox.Bootstrap = nil
	}
	e.Items = items
	return e
}

// Secrets returns a secret list as the list cache holds it.
func Secrets(n int) []broker.Secret {
	openai := "openai"
	out := []broker.Secret{}
	for i := range n {
		s := broker.Secret{
			ID:          fmt.Sprintf("sec-%d", i),
			Name:        fmt.Sprintf("NAME_%d", i),
			MaskedValue: "sk-••••••••",
			Fingerprint: "fp-abc",
			Version:     i + 1,
			CreatedAt:   base,
			UpdatedAt:   base.Add(time.Duration(i) * time.Second),
		}
		if i%2 == 0 {
			s.Provider = &openai
		}
		out = append(out, s)
	}
	return out
}
