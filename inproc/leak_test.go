package inproc

import (
	"bytes"
	"context"
	"testing"

	"github.com/acme/secretsbroker/inproc/storetest"
)

// TestStoredDocumentsHoldNoToken looks at the stored bytes themselves.
func TestStoredDocumentsHoldNoToken(t *testing.T) {
	const tok = "hvs.LEAKCHECK-inproc-token"
	s := New(nil, Options{})
	ctx := context.Background()
	if err := s.PutRuntime(ctx, storetest.Runtime("u", "rt", tok)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEvaluation(ctx, storetest.Evaluation("u", "ev", tok, 3)); err != nil {
		t.Fatal(err)
	}
	for id, rec := range s.runtimes {
		if bytes.Contains(rec.doc, []byte(tok)) || bytes.Contains(rec.doc, []byte("bootstrap")) {
			t.Fatalf("runtime %s stored with its bootstrap: %s", id, rec.doc)
		}
	}
	for id, rec := range s.evaluations {
		if bytes.Contains(rec.doc, []byte(tok)) || bytes.Contains(rec.doc, []byte("bootstrap")) {
			t.Fatalf("evaluation %s stored with a bootstrap: %s", id, rec.doc)
		}
	}
}
