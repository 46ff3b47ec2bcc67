package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/broker"
)

// TestErrorOf checks the envelope -> error mapping for every envelope type
// the broker sends, and for answers that are not the broker's envelope.
func TestErrorOf(t *testing.T) {
	cases := []struct {
		status int
		header map[string]string
		body   string
		code   broker.Code
		text   string
	}{
		{422, nil, `{"code":422,"type":"validation_error","detail":"invalid request","errors":[{"field":"name","message":"bad"},{"field":"value","message":"empty"}]}`,
			broker.CodeInvalid, "invalid request: name: bad; value: empty [validation_error 422]"},
		{422, nil, `{"code":422,"type":"validation_error","detail":"name: bad","errors":[{"field":"name","message":"bad"}]}`,
			broker.CodeInvalid, "name: bad [validation_error 422]"},
		{413, nil, `{"code":413,"type":"payload_too_large","detail":"too big"}`, broker.CodeInvalid, "too big [payload_too_large 413]"},
		{404, nil, `{"code":404,"type":"not_found","detail":"secret not found"}`, broker.CodeNotFound, "secret not found [not_found 404]"},
		{409, nil, `{"code":409,"type":"conflict","detail":"exists"}`, broker.CodeConflict, "exists [conflict 409]"},
		{401, nil, `{"code":401,"type":"authentication_error","detail":"missing or invalid API key"}`, broker.CodeUnauthenticated, "missing or invalid API key [authentication_error 401]"},
		{403, nil, `{"code":403,"type":"forbidden","detail":"no"}`, broker.CodeForbidden, "no [forbidden 403]"},
		{429, map[string]string{"Retry-After": "7"}, `{"code":429,"type":"rate_limited","detail":"too many requests"}`, broker.CodeUnavailable, "too many requests (retry after 7s) [rate_limited 429]"},
		{503, nil, `{"code":503,"type":"unavailable","detail":"vault\nis sealed"}`, broker.CodeUnavailable, "vault is sealed [unavailable 503]"},
		{500, nil, `{"code":500,"type":"internal_error","detail":"internal error"}`, broker.CodeInternal, "internal error [internal_error 500]"},
		{502, nil, `<html>upstream said sk-proj-LEAKED</html>`, broker.CodeUnavailable, "bad gateway [HTTP 502]"},
		{404, nil, `{"code":200,"type":"ok"}`, broker.CodeNotFound, "not found [HTTP 404]"},
		{418, nil, ``, broker.CodeInvalid, "i'm a teapot [HTTP 418]"},
	}
	for _, c := range cases {
		h := http.Header{"X-Request-Id": {"req-1"}}
		for k, v := range c.header {
			h.Set(k, v)
		}
		err := (&Response{Status: c.status, Header: h, Body: []byte(c.body)}).Err()
		if got := broker.ErrorCode(err); got != c.code {
			t.Errorf("%d %s: code %q, want %q", c.status, c.body, got, c.code)
		}
		if err.Error() != c.text {
			t.Errorf("%d: text %q, want %q", c.status, err, c.text)
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != c.status || ae.RequestID != "req-1" {
			t.Errorf("%d: %#v", c.status, err)
		}
		var be *broker.Error
		if !errors.As(err, &be) || be.Code != c.code || be.Message != ae.Detail || len(be.Fields) != len(ae.Fields) {
			t.Errorf("%d: broker error %#v", c.status, be)
		}
	}
	if (&Response{Status: 204}).Err() != nil {
		t.Error("204 is not an error")
	}
}

func TestNotJSONAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<html>")
	}))
	defer srv.Close()
	c, _ := New(srv.URL, "k")
	if _, err := c.GetSecret(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
		t.Fatalf("err = %v", err)
	}
}
