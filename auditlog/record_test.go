package auditlog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseLineRecorded(t *testing.T) {
	ls := lines(scenarioLog(t))
	var wrapped, unwrapFail int
	for i, l := range ls {
		r, err := ParseLine(l)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if r.Time.IsZero() || r.Req.Path == "" {
			t.Fatalf("line %d: no time or path: %+v", i+1, r)
		}
		if r.Resp != nil && r.Resp.WrapInfo != nil {
			wrapped++
			wi := r.Resp.WrapInfo
			if !strings.HasPrefix(wi.Token, HMACPrefix) || !strings.HasPrefix(wi.Accessor, HMACPrefix) ||
				wi.TTL != 5*time.Minute || !strings.HasPrefix(wi.CreationPath, "broker/data/sandboxes/") || wi.CreationTime.IsZero() {
				t.Fatalf("line %d: wrap info %+v", i+1, wi)
			}
			if r.Req.WrapTTL != 5*time.Minute || r.Req.Header(HeaderUser) != scenarioUser || r.Req.Header("X-Request-Id") == "" {
				t.Fatalf("line %d: wrapped read request %+v", i+1, r.Req)
			}
		}
		if r.Req.Path == "sys/wrapping/unwrap" && r.Error != "" {
			unwrapFail++
			if r.Type != "request" || !strings.HasPrefix(r.Auth.ClientToken, HMACPrefix) {
				t.Fatalf("failed unwrap: %+v", r)
			}
		}
	}
	if wrapped != 3 || unwrapFail != 1 {
		t.Fatalf("%d wrapped reads, %d failed unwraps; want 3 and 1", wrapped, unwrapFail)
	}
}

func TestParseLineMalformed(t *testing.T) {
	for _, l := range []string{
		"", "   ", "garbage", "[1,2]", "null", `"request"`, "{", `{}`,
		`{"type":"request"}`,
		`{"type":"request","time":"yesterday","request":{}}`,
		`{"type":"event","time":"2026-01-01T00:00:00Z","request":{}}`,
		`{"type":"request","time":"2026-01-01T00:00:00Z"}`,
		`{"type":"request","time":"2026-01-01T00:00:00Z","request":[]}`,
		`{"type":"request","time":"2026-01-01T00:00:00Z","request":{}} {"x":1}`,
		`{"type":"request","time":"2026-01-01T00:00:00Z","request":{}}}`,
	} {
		if _, err := ParseLine([]byte(l)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseLine(%q) = %v, want ErrMalformed", l, err)
		}
	}
}

// Fields of unexpected types are ignored, never fatal.
func TestParseLineTolerant(t *testing.T) {
	l := `{"type":"response","time":"2026-01-01T00:00:00.5Z","error":7,"auth":{"accessor":1,"policies":"x","metadata":[]},` +
		`"request":{"id":"r1","path":"broker/data/users/u1/secrets/s1","operation":"update","headers":{"x-broker-user":"u2","x-request-id":[1,"rq"]},"wrap_ttl":"30","data":{"token":5,"accessor":"hmac-sha256:ab"}},` +
		`"response":{"data":{"version":"3"},"wrap_info":{"ttl":"x","creation_time":5}}}`
	r, err := ParseLine([]byte(l))
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != "" || r.Auth.Accessor != "" || r.Req.Header(HeaderUser) != "u2" || r.Req.Header(HeaderRequestID) != "rq" ||
		r.Req.WrapTTL != 30*time.Second || r.Req.Data["accessor"] != "hmac-sha256:ab" || r.Resp.Version != 3 ||
		r.Resp.WrapInfo == nil || r.Resp.WrapInfo.TTL != 0 {
		t.Fatalf("%+v %+v", r, r.Resp)
	}
	if len(r.HMACs) != 1 || r.HMACs[0] != "hmac-sha256:ab" {
		t.Fatalf("HMACs %v", r.HMACs)
	}
}

func TestCleanError(t *testing.T) {
	for in, want := range map[string]string{
		"1 error occurred:\n\t* permission denied\n\n":                "permission denied",
		"2 errors occurred:\n\t* a\n\t* b\n\n":                        "a; b",
		"wrapping token is not valid or does not exist":               "wrapping token is not valid or does not exist",
		"check-and-set parameter did not match the current version\n": "check-and-set parameter did not match the current version",
	} {
		if got := cleanError(in); got != want {
			t.Errorf("cleanError(%q) = %q, want %q", in, got, want)
		}
	}
}
