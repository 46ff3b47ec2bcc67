package handlers

import (
	"errors"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/broker"
)

func TestDecodeJSONErrors(t *testing.T) {
	cases := map[string]struct {
		body, field, msg string
	}{
		"empty":       {"", "body", "JSON object is required"},
		"malformed":   {`{"name": `, "body", "malformed JSON"},
		"syntax":      {`{"name" "x"}`, "body", "malformed JSON at byte"},
		"wrong type":  {`{"name": 5}`, "name", "must be a string"},
		"wrong type2": {`{"value": ["a"]}`, "value", "must be a string"},
		"provider":    {`{"provider": 3}`, "provider", "must be a string"},
		"not object":  {`[1,2]`, "body", "must be an object"},
		"two objects": {`{} {}`, "body", "exactly one JSON object"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var b createSecretBody
			err := decodeJSON([]byte(tc.body), &b)
			var be *broker.Error
			if !asBrokerError(err, &be) || be.Code != broker.CodeInvalid || len(be.Fields) != 1 {
				t.Fatalf("decodeJSON(%q) = %v, want one invalid field", tc.body, err)
			}
			if be.Fields[0].Field != tc.field || !strings.Contains(be.Fields[0].Message, tc.msg) {
				t.Fatalf("decodeJSON(%q) field %+v, want %s: %s", tc.body, be.Fields[0], tc.field, tc.msg)
			}
		})
	}
	var b createSecretBody
	if err := decodeJSON([]byte(`{"name":"A","value":"v","provider":null}`), &b); err != nil || b.Name != "A" || b.Provider != nil {
		t.Fatalf("valid body: %v %+v", err, b)
	}
}

// TestDecodeJSONUnknownFields: a member the request does not have is a
// validation error naming it, also inside nested objects; the names the
// API documents (and encoding/json's case-insensitive matching) pass.
func TestDecodeJSONUnknownFields(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		into   any
		fields []string
	}{
		{"bogus on create", `{"name":"A","value":"v","bogus":1}`, &createSecretBody{}, []string{"bogus"}},
		{"only bogus", `{"bogus":1}`, &createSecretBody{}, []string{"bogus"}},
		{"wrap_ttl on runtimes", `{"project_id":"p","secret_ids":[],"wrap_ttl":"2h"}`, &runtimeBody{}, []string{"wrap_ttl"}},
		{"two unknown, sorted", `{"value":"v","zz":1,"aa":2}`, &updateSecretBody{}, []string{"aa", "zz"}},
		{"nested item", `{"project_id":"p","secret_ids":[],"items":[{"name":"a"},{"name":"b","nme":"c"}]}`, &evaluationBody{}, []string{"items[1].nme"}},
		{"restart", `{"secret_ids":[],"keep":true}`, &restartBody{}, []string{"keep"}},
		{"rollback", `{"version":2,"force":true}`, &rollbackBody{}, []string{"force"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := decodeJSON([]byte(c.body), c.into)
			var be *broker.Error
			if !asBrokerError(err, &be) || be.Code != broker.CodeInvalid {
				t.Fatalf("decodeJSON(%s) = %v, want a validation error", c.body, err)
			}
			var got []string
			for _, f := range be.Fields {
				got = append(got, f.Field)
				if !strings.Contains(f.Message, "unknown field") {
					t.Errorf("field %s: message %q", f.Field, f.Message)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.fields, ",") {
				t.Fatalf("decodeJSON(%s) names %v, want %v", c.body, got, c.fields)
			}
		})
	}
	ok := []struct {
		body string
		into any
	}{
		{`{"name":"A","value":"v","provider":"openai"}`, &createSecretBody{}},
		{`{"Name":"A","VALUE":"v"}`, &createSecretBody{}},
		{`{"provider":"openai","value":"v"}`, &presetBody{}},
		{`{"value":"v"}`, &updateSecretBody{}},
		{`{"version":1}`, &rollbackBody{}},
		{`{"project_id":"p","name":"n","secret_ids":["a"]}`, &runtimeBody{}},
		{`{"secret_ids":null}`, &restartBody{}},
		{`{"project_id":"p","secret_ids":["a"],"items":[{"name":"x"}]}`, &evaluationBody{}},
	}
	for _, c := range ok {
		if err := decodeJSON([]byte(c.body), c.into); err != nil {
			t.Errorf("decodeJSON(%s): %v", c.body, err)
		}
	}
}

func asBrokerError(err error, target **broker.Error) bool {
	return errors.As(err, target)
}

// FuzzDecodeJSON: decoding never panics, and either succeeds or answers an
// invalid error with at least one field and a message that does not echo the
// body.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"A","value":"v"}`, `{"name":5}`, `{"bogus":1}`, `{"items":[{"x":1}]}`, `{`, ``, `null`, `[]`, `{"provider":null}`, `{"value":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b createSecretBody
		err := decodeJSON(body, &b)
		if err == nil {
			return
		}
		var be *broker.Error
		if !asBrokerError(err, &be) || be.Code != broker.CodeInvalid || len(be.Fields) == 0 {
			t.Fatalf("decodeJSON error %v is not a coded invalid error with fields", err)
		}
		if len(body) > 8 && strings.Contains(be.Error(), string(body)) {
			t.Fatalf("error echoes the body")
		}
	})
}

func BenchmarkDecodeJSON(b *testing.B) {
	body := []byte(`{"name":"OPENAI_API_KEY","value":"sk-proj-0123456789abcdef0123456789abcdef","provider":"openai"}`)
	for b.Loop() {
		var v createSecretBody
		if err := decodeJSON(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}
