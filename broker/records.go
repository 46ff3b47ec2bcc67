package broker

import (
	"encoding/json"
	"slices"
)

// Record stores (redisx, inproc) keep runtimes and evaluations as the JSON
// documents below, so both adapters round-trip exactly the same fields, a
// caller never shares memory with a store, and a bootstrap (which carries the
// token) is never stored. The domain types hide UserID from JSON, hence the
// envelopes.

type runtimeDoc struct {
	UserID  string  `json:"user_id"`
	Runtime Runtime `json:"runtime"`
}

type evaluationDoc struct {
	UserID     string     `json:"user_id"`
	Evaluation Evaluation `json:"evaluation"`
}

// WithoutBootstrap returns a copy of r without its bootstrap.
func (r Runtime) WithoutBootstrap() Runtime {
	r.Sandbox.Bootstrap = nil
	return r
}

// WithoutBootstraps returns a copy of e without any bootstrap, leaving the
// caller's items untouched.
func (e Evaluation) WithoutBootstraps() Evaluation {
	e.Items = slices.Clone(e.Items)
	for i := range e.Items {
		e.Items[i].RuntimeSandbox.Bootstrap = nil
		e.Items[i].TaskSandbox.Bootstrap = nil
	}
	return e
}

// EncodeRuntime returns the stored form of r, without its bootstrap.
// Errors: invalid (no user id or id), internal.
func EncodeRuntime(r Runtime) ([]byte, error) {
	if r.UserID == "" || r.ID == "" {
		return nil, Errorf(CodeInvalid, "runtime record needs a user id and an id")
	}
	b, err := json.Marshal(runtimeDoc{UserID: r.UserID, Runtime: r.WithoutBootstrap()})
	if err != nil {
		return nil, WithCode(CodeInternal, err, "encode runtime record")
	}
	return b, nil
}

// DecodeRuntime parses a stored runtime. Errors: internal.
func DecodeRuntime(b []byte) (Runtime, error) {
	var d runtimeDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return Runtime{}, WithCode(CodeInternal, err, "decode runtime record")
	}
	d.Runtime.UserID = d.UserID
	return d.Runtime, nil
}

// EncodeEvaluation returns the stored form of e, without bootstraps.
// Errors: invalid (no user id or id), internal.
func EncodeEvaluation(e Evaluation) ([]byte, error) {
	if e.UserID == "" || e.ID == "" {
		return nil, Errorf(CodeInvalid, "evaluation record needs a user id and an id")
	}
	b, err := json.Marshal(evaluationDoc{UserID: e.UserID, Evaluation: e.WithoutBootstraps()})
	if err != nil {
		return nil, WithCode(CodeInternal, err, "encode evaluation record")
	}
	return b, nil
}

// DecodeEvaluation parses a stored evaluation. Errors: internal.
func DecodeEvaluation(b []byte) (Evaluation, error) {
	var d evaluationDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return Evaluation{}, WithCode(CodeInternal, err, "decode evaluation record")
	}
	d.Evaluation.UserID = d.UserID
	return d.Evaluation, nil
}
