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
	if err := decodeJSON([]byte(`{"name":"A","value":"v","provider":null,"extra":1}`), &b); err != nil || b.Name != "A" || b.Provider != nil {
		t.Fatalf("valid body: %v %+v", err, b)
	}
}

func asBrokerError(err error, target **broker.Error) bool {
	return errors.As(err, target)
}

// FuzzDecodeJSON: decoding never panics, and either succeeds or answers an
// invalid error with at least one field and a message that does not echo the
// body.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"A","value":"v"}`, `{"name":5}`, `{`, ``, `null`, `[]`, `{"provider":null}`, `{"value":"\u0000"}`} {
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
