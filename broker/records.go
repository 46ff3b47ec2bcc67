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
	// Egress maps an egress sandbox's id to its placeholders' token hashes
	// (Sandbox.EgressTokenHashes, hidden from the API).
	Egress map[string][]string `json:"egress,omitempty"`
	// Accessors maps a sandbox's id to its wrapping accessor
	// (Sandbox.Accessor, hidden from the API).
	Accessors map[string]string `json:"accessors,omitempty"`
}

type evaluationDoc struct {
	UserID     string              `json:"user_id"`
	Evaluation Evaluation          `json:"evaluation"`
	Egress     map[string][]string `json:"egress,omitempty"`
	Accessors  map[string]string   `json:"accessors,omitempty"`
}

// accessorsOf collects the wrapping accessors of sandboxes by sandbox id.
func accessorsOf(sbs ...Sandbox) map[string]string {
	var m map[string]string
	for _, sb := range sbs {
		if sb.Accessor != "" && sb.ID != "" {
			if m == nil {
				m = make(map[string]string, len(sbs))
			}
			m[sb.ID] = sb.Accessor
		}
	}
	return m
}

// fromDoc sets what the stored record keeps of sb beside its JSON.
func (sb *Sandbox) fromDoc(egress map[string][]string, accessors map[string]string) {
	sb.EgressTokenHashes = egress[sb.ID]
	sb.Accessor = accessors[sb.ID]
}

// egressOf collects the token hashes of egress sandboxes by sandbox id.
func egressOf(sbs ...Sandbox) map[string][]string {
	var m map[string][]string
	for _, sb := range sbs {
		if sb.Delivery == DeliveryEgress && sb.ID != "" {
			if m == nil {
				m = map[string][]string{}
			}
			m[sb.ID] = append([]string{}, sb.EgressTokenHashes...)
		}
	}
	return m
}

func (e Evaluation) sandboxes() []Sandbox {
	out := make([]Sandbox, 0, 2*len(e.Items))
	for _, it := range e.Items {
		out = append(out, it.RuntimeSandbox, it.TaskSandbox)
	}
	return out
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

// Owner is the user a stored runtime belongs to.
func (r Runtime) Owner() string { return r.UserID }

// Owner is the user a stored evaluation belongs to.
func (e Evaluation) Owner() string { return e.UserID }

// EncodeRuntime returns the stored form of r, without its bootstrap.
// Errors: invalid (no user id or id), internal.
func EncodeRuntime(r Runtime) ([]byte, error) {
	return encodeRecord("runtime", r.UserID, r.ID, runtimeDoc{UserID: r.UserID, Runtime: r.WithoutBootstrap(),
		Egress: egressOf(r.Sandbox), Accessors: accessorsOf(r.Sandbox)})
}

// DecodeRuntime parses a stored runtime. Errors: internal.
func DecodeRuntime(b []byte) (Runtime, error) {
	d, err := decodeRecord[runtimeDoc]("runtime", b)
	d.Runtime.UserID = d.UserID
	d.Runtime.Sandbox.fromDoc(d.Egress, d.Accessors)
	return d.Runtime, err
}

// EncodeEvaluation returns the stored form of e, without bootstraps.
// Errors: invalid (no user id or id), internal.
func EncodeEvaluation(e Evaluation) ([]byte, error) {
	return encodeRecord("evaluation", e.UserID, e.ID, evaluationDoc{UserID: e.UserID, Evaluation: e.WithoutBootstraps(),
		Egress: egressOf(e.sandboxes()...), Accessors: accessorsOf(e.sandboxes()...)})
}

// DecodeEvaluation parses a stored evaluation. Errors: internal.
func DecodeEvaluation(b []byte) (Evaluation, error) {
	d, err := decodeRecord[evaluationDoc]("evaluation", b)
	d.Evaluation.UserID = d.UserID
	for i := range d.Evaluation.Items {
		it := &d.Evaluation.Items[i]
		it.RuntimeSandbox.fromDoc(d.Egress, d.Accessors)
		it.TaskSandbox.fromDoc(d.Egress, d.Accessors)
	}
	return d.Evaluation, err
}

// encodeRecord marshals the envelope doc of a kind ("runtime") of record.
func encodeRecord(kind, userID, id string, doc any) ([]byte, error) {
	if userID == "" || id == "" {
		return nil, Errorf(CodeInvalid, "%s record needs a user id and an id", kind)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, WithCode(CodeInternal, err, "encode "+kind+" record")
	}
	return b, nil
}

// decodeRecord parses the envelope of a kind of record; the zero envelope
// on error.
func decodeRecord[D any](kind string, b []byte) (D, error) {
	var d D
	if err := json.Unmarshal(b, &d); err != nil {
		var zero D
		return zero, WithCode(CodeInternal, err, "decode "+kind+" record")
	}
	return d, nil
}
