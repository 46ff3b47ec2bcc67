package main

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// faultyUnwrap is a reverse proxy in front of the real Vault that answers the
// first unwrap with 500 internal error, as Vault itself does to some of
// several concurrent unwraps of one token. forward says whether the unwrap
// reaches Vault (and spends the token) before the 500.
func faultyUnwrap(t *testing.T, vaultAddr string, forward bool) (addr string, unwraps *atomic.Int32) {
	t.Helper()
	target, err := url.Parse(vaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	unwraps = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sys/wrapping/unwrap") && unwraps.Add(1) == 1 {
			if forward {
				proxy.ServeHTTP(httptest.NewRecorder(), r) // Vault spends the token; the answer is lost
			}
			http.Error(w, `{"errors":["internal error"]}`, http.StatusInternalServerError)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, unwraps
}

// A 500 at unwrap after which the token is gone: someone else spent it (or
// Vault spent it for a lost answer). Either way this process holds no data,
// and the interception alarm must sound: exit 4, not "Vault unreachable".
func TestUnconfirmedUnwrapOfASpentTokenIsReplay(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	addr, unwraps := faultyUnwrap(t, f.v.Addr, true)
	vars := f.initEnv(id, token)
	vars["VAULT_ADDR"] = addr
	r := runInit(t, vars, trickyEnv, "write", "--out", filepath.Join(t.TempDir(), "e"))
	if r.code != exitTokenDead {
		t.Fatalf("exit %d, want 4: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "someone else may have intercepted") {
		t.Errorf("exit 4 without the replay warning: %s", r.stderr)
	}
	if n := unwraps.Load(); n != 1 {
		t.Errorf("%d unwraps, want 1 (a gone token is not unwrapped again)", n)
	}
}

// A 500 at unwrap that never reached Vault leaves the token alive: the lookup
// says so, and the unwrap is retried and succeeds.
func TestUnconfirmedUnwrapOfALiveTokenIsRetried(t *testing.T) {
	f := sharedFixture(t)
	id := uniqueID(t)
	token, _ := f.mint(t, id, trickyEnv, "5m")
	addr, unwraps := faultyUnwrap(t, f.v.Addr, false)
	vars := f.initEnv(id, token)
	vars["VAULT_ADDR"] = addr
	out := filepath.Join(t.TempDir(), "e")
	r := runInit(t, vars, trickyEnv, "write", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0: %s", r.code, r.stderr)
	}
	if n := unwraps.Load(); n != 2 {
		t.Errorf("%d unwraps, want 2 (one refused by the proxy, one retried)", n)
	}
	if got := sourceFile(t, out); !maps.Equal(got, trickyEnv) {
		t.Errorf("sourced env differs: %q", got)
	}
}
