package handlers

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/broker"
)

// TestJSONSerializerBytes: answers (echo's DefaultJSONSerializer, the one
// encoder of c.JSON) are byte for byte (and error or not) what they were
// when Secret itself was a Marshaler (egress_hosts [] when none; now only
// the HostList is), encoded by echo's DefaultJSONSerializer:
// for secrets with hostile strings (HTML, U+2028, control bytes, invalid
// UTF-8), nil and empty lists, nil providers, odd times (zones, zero, years
// encoding/json cannot encode), indented or not, alone, by pointer and in
// lists, and for the other answers. Decoding an answered secret gives its
// hosts back, with [] read as nil.
func TestJSONSerializerBytes(t *testing.T) {
	e := echo.New()
	api := newHarness(t, Config{}).srv.e.JSONSerializer // the API's own encoder
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
			gotB, gotE := encode(api, v, indent)
			wantB, wantE := encode(echo.DefaultJSONSerializer{}, legacyOf(v), indent)
			// The error texts name different Marshalers; the answer to
			// either is the same internal error.
			if gotB != wantB || (gotE == "") != (wantE == "") {
				t.Fatalf("value %d (%T), indent %q:\n got %q, error %q\nwant %q, error %q", i, v, indent, gotB, gotE, wantB, wantE)
			}
			if gotE != "" {
				errors++
			}
			if sec, ok := v.(broker.Secret); ok && gotE == "" {
				var back broker.Secret
				if err := json.Unmarshal([]byte(gotB), &back); err != nil || len(back.EgressHosts) != len(sec.EgressHosts) ||
					(back.EgressHosts == nil) != (len(sec.EgressHosts) == 0) {
					t.Fatalf("value %d: decoded egress_hosts %#v (%v), want %#v", i, back.EgressHosts, err, sec.EgressHosts)
				}
			}
			if gotE == "" && !bytes.HasSuffix([]byte(gotB), []byte("}\n")) && v != nil {
				if _, isSlice := v.(broker.HostList); !isSlice {
					t.Fatalf("value %d: %q is not one object and a newline", i, gotB)
				}
			}
		}
	}
	if errors == 0 {
		t.Fatalf("no value exercised the encoding error")
	}
}

// legacySecret is broker.Secret as it was encoded before HostList: a
// Marshaler showing egress_hosts as [] when nil. Its own EgressHosts, a
// plain []string, hides the embedded HostList (the shallower field wins)
// and is encoded last, where the Secret's was.
type legacySecret struct {
	broker.Secret
	EgressHosts []string `json:"egress_hosts"`
}

func (s legacySecret) MarshalJSON() ([]byte, error) {
	type plain legacySecret
	if s.EgressHosts == nil {
		s.EgressHosts = []string{}
	}
	return json.Marshal(plain(s))
}

func legacySecretOf(s broker.Secret) legacySecret {
	return legacySecret{Secret: s, EgressHosts: s.EgressHosts}
}

// legacyOf maps the values holding secrets to their legacy forms.
func legacyOf(v any) any {
	switch v := v.(type) {
	case broker.Secret:
		return legacySecretOf(v)
	case *broker.Secret:
		l := legacySecretOf(*v)
		return &l
	case secretList:
		out := struct {
			Secrets []legacySecret `json:"secrets"`
			Total   int            `json:"total"`
		}{Total: v.Total}
		if v.Secrets != nil {
			out.Secrets = []legacySecret{}
		}
		for _, s := range v.Secrets {
			out.Secrets = append(out.Secrets, legacySecretOf(s))
		}
		return out
	case broker.HostList:
		return []string(v)
	}
	return v
}
