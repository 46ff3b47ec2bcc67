package main

import (
	"crypto/sha256"
	"encoding/hex"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acme/secretsbroker/broker"
)

// TestSecurityKeyComparisonIsConstantTime reviews the code that checks an
// API key: broker.Authenticator.Authenticate must compare the key's hash
// with subtle.ConstantTimeCompare and never with == or != (a timing oracle),
// and the hash must be SHA-256 of the whole key (what apikeys/<hash> stores).
func TestSecurityKeyComparisonIsConstantTime(t *testing.T) {
	if got, want := broker.HashAPIKey("sbk_example"), sha256.Sum256([]byte("sbk_example")); got != hex.EncodeToString(want[:]) {
		t.Fatalf("HashAPIKey is not hex(sha256(key)): %s", got)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "..", "broker", "apikeys.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "Authenticate" && fd.Recv != nil {
			fn = fd
		}
	}
	if fn == nil {
		t.Fatal("no Authenticator.Authenticate in broker/apikeys.go")
	}
	constantTime := 0
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "subtle" && sel.Sel.Name == "ConstantTimeCompare" {
					constantTime++
				}
				if sel.Sel.Name == "Compare" || sel.Sel.Name == "EqualFold" || sel.Sel.Name == "Equal" {
					t.Errorf("%s: %s compares in variable time", fset.Position(x.Pos()), sel.Sel.Name)
				}
			}
		case *ast.BinaryExpr:
			if x.Op != token.EQL && x.Op != token.NEQ {
				return true
			}
			for _, side := range []ast.Expr{x.X, x.Y} {
				s := strings.ToLower(exprString(side))
				if strings.Contains(s, "hash") || strings.HasSuffix(s, ".id") || s == "key" {
					t.Errorf("%s: %s compared with %s (not constant time)", fset.Position(x.Pos()), exprString(side), x.Op)
				}
			}
		}
		return true
	})
	if constantTime == 0 {
		t.Error("Authenticate does not call subtle.ConstantTimeCompare")
	}
}

func exprString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprString(x.X) + "." + x.Sel.Name
	case *ast.CallExpr:
		return exprString(x.Fun) + "()"
	default:
		return ""
	}
}

// TestSecurityNearMissKeys: keys one character away from a real key, a
// truncated or extended key, the key upper-cased and the key's hash itself are all
// refused with the same 401 body as a random key; the real key still works.
func TestSecurityNearMissKeys(t *testing.T) {
	e := newAPIEnv(t)
	b := e.broker(false, map[string]string{"BROKER_AUTH_FAIL_PER_MINUTE": "1000"})
	_, key := e.user("nearmiss")
	c := e.client(b, key)
	flip := func(i int) string {
		r := []byte(key)
		if r[i] == 'a' {
			r[i] = 'b'
		} else {
			r[i] = 'a'
		}
		return string(r)
	}
	random := "sbk_" + randHex(len(key)/2)
	planted.add("api key", random)
	want := c.withKey(random).do("GET", "/api/v1/user/secrets", nil)
	checkEnvelope(t, want, 401, "authentication_error")
	for name, k := range map[string]string{
		"last char": flip(len(key) - 1), "first char after prefix": flip(len(broker.APIKeyPrefix)),
		"truncated": key[:len(key)-1], "extended": key + "0", "hash": broker.HashAPIKey(key),
		"upper case": strings.ToUpper(key),
	} {
		planted.add("api key", k)
		r := c.withKey(k).do("GET", "/api/v1/user/secrets", nil)
		if r.Status != want.Status || string(r.Body) != string(want.Body) {
			t.Errorf("%s key: %d %s, want the same answer as a random key (%d %s)", name, r.Status, r.Body, want.Status, want.Body)
		}
	}
	wantStatus(t, c.do("GET", "/api/v1/user/secrets", nil), 200)
}
