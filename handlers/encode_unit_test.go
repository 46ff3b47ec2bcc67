package handlers

import (
	"bytes"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/broker"
)

// TestJSONSerializerBytes: the answer encoder writes exactly what echo's
// DefaultJSONSerializer writes, byte for byte and error for error, for
// secrets with hostile strings (HTML, U+2028, control bytes, invalid
// UTF-8), nil and empty lists, nil providers, odd times (zones, zero,
// years echo cannot encode), indented or not, and for the other answers.
func TestJSONSerializerBytes(t *testing.T) {
	e := echo.New()
	encode := func(s echo.JSONSerializer, v any, indent string) (string, string) {
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest("GET", "/", nil), rec)
		err := s.Serialize(c, v, indent)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		return rec.Body.String(), msg
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "aZ09 <>&\"\\/'\n\t\x00\x1f\x7f\xe2\x80\xa8\u2029é\xff"
	str := func() string {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	zone := time.FixedZone("odd", -(3*3600 + 30*60))
	times := []time.Time{{}, time.Unix(1700000000, 123456789), time.Date(2026, 1, 2, 3, 4, 5, 6, zone), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	var values []any
	for i := range 3000 {
		s := broker.Secret{ID: str(), Name: str(), MaskedValue: str(), Fingerprint: str(), Version: rng.IntN(1 << 20),
			CreatedAt: times[rng.IntN(len(times)-1)], UpdatedAt: times[rng.IntN(len(times)-1)]}
		if i%3 == 0 {
			p := str()
			s.Provider = &p
		}
		switch i % 4 {
		case 1:
			s.EgressHosts = []string{}
		case 2:
			s.EgressHosts = []string{str(), str()}
		}
		values = append(values, s)
	}
	bad := values[0].(broker.Secret)
	bad.UpdatedAt = times[3] // year 10000: encoding/json refuses it
	values = append(values, bad, &bad, secretList{Secrets: []broker.Secret{bad}}, values[1].(broker.Secret).EgressHosts,
		secretList{Secrets: []broker.Secret{values[1].(broker.Secret), values[2].(broker.Secret)}, Total: 2},
		Envelope{Code: 422, Type: "validation_error", Detail: "<bad>", Errors: []broker.FieldError{{Field: "name", Message: str()}}},
		map[string]any{"presets": broker.DefaultPresets()}, nil)
	errors := 0
	for i, v := range values {
		for _, indent := range []string{"", "  "} {
			gotB, gotE := encode(jsonSerializer{}, v, indent)
			wantB, wantE := encode(echo.DefaultJSONSerializer{}, v, indent)
			if gotB != wantB || gotE != wantE {
				t.Fatalf("value %d (%T), indent %q:\n got %q, error %q\nwant %q, error %q", i, v, indent, gotB, gotE, wantB, wantE)
			}
			if gotE != "" {
				errors++
			}
			if gotE == "" && !bytes.HasSuffix([]byte(gotB), []byte("}\n")) && v != nil {
				if _, isSlice := v.([]string); !isSlice {
					t.Fatalf("value %d: %q is not one object and a newline", i, gotB)
				}
			}
		}
	}
	if errors == 0 {
		t.Fatalf("no value exercised the encoding error")
	}
}
