package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// vaultClient is the floor's Vault client: plain net/http over a pooled
// keep-alive transport, JSON in and out, no retries. It counts its requests.
type vaultClient struct {
	addr  string
	token string
	hc    *http.Client
	trips atomic.Uint64
}

func newVaultClient(addr, token string) *vaultClient {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
	return &vaultClient{addr: addr, token: token, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// vaultAnswer is the part of Vault's response envelope the floor reads.
type vaultAnswer struct {
	Data     json.RawMessage `json:"data"`
	WrapInfo *struct {
		Token    string `json:"token"`
		Accessor string `json:"accessor"`
	} `json:"wrap_info"`
	Auth *struct {
		ClientToken string `json:"client_token"`
	} `json:"auth"`
}

// call sends one request to /v1/path. wrapTTL > 0 asks for a wrapped answer.
// A non-2xx answer is an error.
func (v *vaultClient) call(ctx context.Context, method, path string, body any, user string, wrapTTL time.Duration) (*vaultAnswer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.addr+"/v1/"+path, rd)
	if err != nil {
		return nil, err
	}
	if v.token != "" {
		req.Header.Set("X-Vault-Token", v.token)
	}
	if user != "" {
		req.Header.Set("X-Broker-User", user) // as the broker does (audited header)
	}
	if wrapTTL > 0 {
		req.Header.Set("X-Vault-Wrap-TTL", strconv.Itoa(int(wrapTTL/time.Second))+"s")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	v.trips.Add(1)
	res, err := v.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("vault %s %s: status %d", method, path, res.StatusCode)
	}
	var a vaultAnswer
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("vault %s %s: %w", method, path, err)
		}
	}
	return &a, nil
}

// decode unmarshals the data part of an answer.
func (a *vaultAnswer) decode(out any) error {
	if a == nil || len(a.Data) == 0 || string(a.Data) == "null" {
		return nil
	}
	return json.Unmarshal(a.Data, out)
}

// appRoleLogin logs in with role_id and secret_id and returns the token.
func appRoleLogin(ctx context.Context, addr, roleID, secretID string) (string, error) {
	v := newVaultClient(addr, "")
	a, err := v.call(ctx, http.MethodPost, "auth/approle/login", map[string]string{"role_id": roleID, "secret_id": secretID}, "", 0)
	if err != nil {
		return "", err
	}
	if a.Auth == nil || a.Auth.ClientToken == "" {
		return "", fmt.Errorf("approle login: no token in the answer")
	}
	return a.Auth.ClientToken, nil
}
