package handlers

import (
	"testing"

	"github.com/acme/secretsbroker/broker"
)

// TestDecodeJSONRefusesInvalidUTF8: encoding/json would turn a raw invalid
// byte or a lone surrogate escape into U+FFFD, so the broker would store a
// value other than the one sent; bind refuses both (422), and accepts valid
// text, escaped pairs and an escaped backslash before "u".
func TestDecodeJSONRefusesInvalidUTF8(t *testing.T) {
	bad := map[string]string{
		"raw 0xff":           "{\"name\":\"K\",\"value\":\"a\xffb\"}",
		"raw truncated rune": "{\"name\":\"K\",\"value\":\"\xe2\x82\"}",
		"lone high":          `{"name":"K","value":"a\ud800b"}`,
		"lone low":           `{"name":"K","value":"\udc00"}`,
		"high then high":     `{"name":"K","value":"\ud800\ud800"}`,
		"high at end":        `{"name":"K","value":"x\uD83D"}`,
		"in the name":        `{"name":"K\udfff","value":"v"}`,
	}
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			var b createSecretBody
			err := decodeJSON([]byte(body), &b)
			if !broker.IsCode(err, broker.CodeInvalid) {
				t.Fatalf("decodeJSON = %v (value %q), want invalid", err, b.Value)
			}
		})
	}
	good := map[string]string{
		`{"name":"K","value":"ünï €"}`:                "ünï €",
		`{"name":"K","value":"\ud83d\ude00"}`:         "\U0001F600",
		`{"name":"K","value":"\\ud800"}`:              `\ud800`,
		`{"name":"K","value":"\u00e9\\\ud83d\ude00"}`: "é\\\U0001F600",
	}
	for body, want := range good {
		var b createSecretBody
		if err := decodeJSON([]byte(body), &b); err != nil || b.Value != want {
			t.Errorf("decodeJSON(%s) = %v, value %q, want %q", body, err, b.Value, want)
		}
	}
}
