package redisx

import (
	"encoding/json"
	"slices"

	"github.com/acme/secretsbroker/broker"
)

// Records are stored as JSON, the same documents package inproc keeps (this
// file mirrors its codec.go: adapters do not import each other), so that a
// caller never shares memory with the store and both adapters round-trip
// exactly the same fields. Broker types hide UserID from JSON, hence the
// envelopes.

type runtimeDoc struct {
	UserID  string         `json:"user_id"`
	Runtime broker.Runtime `json:"runtime"`
}

type evaluationDoc struct {
	UserID     string            `json:"user_id"`
	Evaluation broker.Evaluation `json:"evaluation"`
}

// stripRuntime returns r without its bootstrap (which carries the token).
// r is a copy; the caller's value is left untouched.
func stripRuntime(r broker.Runtime) broker.Runtime {
	r.Sandbox.Bootstrap = nil
	return r
}

// stripEvaluation returns e without any bootstrap, leaving the caller's items untouched.
func stripEvaluation(e broker.Evaluation) broker.Evaluation {
	e.Items = slices.Clone(e.Items)
	for i := range e.Items {
		e.Items[i].RuntimeSandbox.Bootstrap = nil
		e.Items[i].TaskSandbox.Bootstrap = nil
	}
	return e
}

func encodeRuntime(r broker.Runtime) ([]byte, error) {
	b, err := json.Marshal(runtimeDoc{UserID: r.UserID, Runtime: stripRuntime(r)})
	if err != nil {
		return nil, broker.Wrap(broker.CodeInternal, err, "encode runtime record")
	}
	return b, nil
}

func decodeRuntime(b []byte) (broker.Runtime, error) {
	var d runtimeDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return broker.Runtime{}, broker.Wrap(broker.CodeInternal, err, "decode runtime record")
	}
	d.Runtime.UserID = d.UserID
	return d.Runtime, nil
}

func encodeEvaluation(e broker.Evaluation) ([]byte, error) {
	b, err := json.Marshal(evaluationDoc{UserID: e.UserID, Evaluation: stripEvaluation(e)})
	if err != nil {
		return nil, broker.Wrap(broker.CodeInternal, err, "encode evaluation record")
	}
	return b, nil
}

func decodeEvaluation(b []byte) (broker.Evaluation, error) {
	var d evaluationDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return broker.Evaluation{}, broker.Wrap(broker.CodeInternal, err, "decode evaluation record")
	}
	d.Evaluation.UserID = d.UserID
	return d.Evaluation, nil
}

func errRuntimeNotFound() error    { return broker.Errorf(broker.CodeNotFound, "runtime not found") }
func errEvaluationNotFound() error { return broker.Errorf(broker.CodeNotFound, "evaluation not found") }

func requireIDs(kind, userID, id string) error {
	if userID == "" || id == "" {
		return broker.Errorf(broker.CodeInvalid, "%s record needs a user id and an id", kind)
	}
	return nil
}
