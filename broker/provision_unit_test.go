package broker

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCreateRuntime: the bootstrap carries the selected secrets' values
// under their names, the answer holds the token once, the stored record and
// GetRuntime never do, and the accessor is kept for revocation.
func TestCreateRuntime(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("named=%v", named), func(t *testing.T) {
			w := newWorld(t, Config{WrapTTL: 2 * time.Minute}, named)
			a := w.mustCreate(t, alice, "OPENAI_API_KEY", "sk-a")
			b := w.mustCreate(t, alice, "ANTHROPIC_API_KEY", "sk-b")
			w.mustCreate(t, alice, "UNSELECTED", "sk-c")
			rt, err := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "proj-1", Name: "dev", SecretIDs: []string{a.ID, b.ID, a.ID}})
			if err != nil {
				t.Fatal(err)
			}
			if !ValidID(rt.ID) || rt.ProjectID != "proj-1" || !slices.Equal(rt.SecretIDs, []string{a.ID, b.ID}) {
				t.Fatalf("runtime %+v", rt)
			}
			sb := rt.Sandbox
			if !slices.Equal(sb.EnvNames, []string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY"}) {
				t.Fatalf("env names %v", sb.EnvNames)
			}
			bs := sb.Bootstrap
			if bs == nil || bs.Token != "hvs.token-"+sb.ID || bs.Accessor != "acc-"+sb.ID || bs.SandboxID != sb.ID ||
				bs.VaultAddr != "https://vault.test:8200" || bs.CreationPath != "kv/data/sandboxes/"+sb.ID ||
				!bs.ExpiresAt.Equal(w.clock.Now().Add(2*time.Minute)) || !slices.Equal(bs.EnvNames, sb.EnvNames) {
				t.Fatalf("bootstrap %+v", bs)
			}
			if env := w.boot.envOf(sb.ID); !maps.Equal(env, map[string]string{"OPENAI_API_KEY": "sk-a", "ANTHROPIC_API_KEY": "sk-b"}) {
				t.Fatalf("wrapped env %v", env)
			}
			if au := w.boot.audits[0]; au.RuntimeID != rt.ID || au.SandboxID != sb.ID {
				t.Fatalf("audit of the wrap %+v", au)
			}
			// The accessor goes into the runtime record, the one write
			// after the wrap: no accessor entry of its own.
			stored, err := w.records.GetRuntime(bg, alice, rt.ID)
			if err != nil || stored.Sandbox.Accessor != bs.Accessor || len(w.records.accessors) != 0 || w.obs.issued != 1 {
				t.Fatalf("stored accessor %q (%v), accessor entries %d, issued %d", stored.Sandbox.Accessor, err, len(w.records.accessors), w.obs.issued)
			}
			got, err := w.svc.GetRuntime(bg, alice, rt.ID)
			if err != nil || got.Sandbox.Bootstrap != nil || got.Sandbox.ID != sb.ID || got.Sandbox.Accessor != "" {
				t.Fatalf("GetRuntime %+v %v", got, err)
			}
			list, err := w.svc.ListRuntimes(bg, alice)
			if err != nil || len(list) != 1 || list[0].Sandbox.Bootstrap != nil {
				t.Fatalf("ListRuntimes %+v %v", list, err)
			}
			if named != (w.secrets.count("NamedCiphertexts") == 1) || named == (w.secrets.count("Ciphertexts") == 1) {
				t.Fatalf("named=%v: NamedCiphertexts %d, Ciphertexts %d", named, w.secrets.count("NamedCiphertexts"), w.secrets.count("Ciphertexts"))
			}
		})
	}
}

// TestNamedCiphertextsFallBack: a stored version without its name makes
// provisioning take the names from the secret list.
func TestNamedCiphertextsFallBack(t *testing.T) {
	w := newWorld(t, Config{}, true)
	a := w.mustCreate(t, alice, "A", "va")
	w.store.(*namedSecrets).dropNames = true
	rt, err := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{a.ID}})
	if err != nil || !slices.Equal(rt.Sandbox.EnvNames, []string{"A"}) || w.secrets.count("Ciphertexts") != 1 {
		t.Fatalf("%+v %v", rt, err)
	}
	if env := w.boot.envOf(rt.Sandbox.ID); env["A"] != "va" {
		t.Fatalf("env %v", env)
	}
}

// TestCreateRuntimeRefusals: nothing is minted for a bad request or a
// selection that is not all the caller's.
func TestCreateRuntimeRefusals(t *testing.T) {
	for _, named := range []bool{false, true} {
		w := newWorld(t, Config{Limits: Limits{MaxSecretIDs: 2}}, named)
		a := w.mustCreate(t, alice, "A", "v")
		theirs := w.mustCreate(t, bob, "B", "v")
		for name, tc := range map[string]struct {
			user string
			in   RuntimeInput
			code Code
		}{
			"no project":       {alice, RuntimeInput{}, CodeInvalid},
			"bad project":      {alice, RuntimeInput{ProjectID: "../x"}, CodeInvalid},
			"long name":        {alice, RuntimeInput{ProjectID: "p", Name: strings.Repeat("n", 129)}, CodeInvalid},
			"bad user":         {"", RuntimeInput{ProjectID: "p"}, CodeUnauthenticated},
			"too many ids":     {alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{NewID(), NewID(), NewID()}}, CodeInvalid},
			"another's secret": {alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{a.ID, theirs.ID}}, CodeNotFound},
			"absent secret":    {alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{NewID()}}, CodeNotFound},
			"malformed id":     {alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{"x"}}, CodeNotFound},
		} {
			_, err := w.svc.CreateRuntime(bg, tc.user, tc.in)
			if ErrorCode(err) != tc.code {
				t.Errorf("named=%v %s: %v, want %s", named, name, err, tc.code)
			}
			if IsCode(err, CodeNotFound) && err.Error() != ErrSecretNotFound.Error() {
				t.Errorf("%s: %q is not the one not-found answer", name, err)
			}
		}
		if w.boot.minted != 0 || len(w.records.runtimes) != 0 {
			t.Fatalf("refused requests minted %d tokens, stored %d runtimes", w.boot.minted, len(w.records.runtimes))
		}
	}
}

// TestCreateRuntimeFailuresLeaveNoToken: a failure after minting revokes
// the token; one before minting mints nothing.
func TestCreateRuntimeFailuresLeaveNoToken(t *testing.T) {
	for _, tc := range []struct {
		fail    string
		code    Code
		revoked int
	}{
		{"PutRuntime", CodeUnavailable, 1},
		{"Wrap", CodeUnavailable, 0},
		{"DecryptBatch", CodeUnavailable, 0},
		{"Ciphertexts", CodeUnavailable, 0},
	} {
		t.Run(tc.fail, func(t *testing.T) {
			w := newWorld(t, Config{}, false)
			a := w.mustCreate(t, alice, "A", "v")
			err := Errorf(CodeUnavailable, "down")
			w.records.setHook(failOn(err, tc.fail))
			w.boot.setHook(failOn(err, tc.fail))
			w.crypto.setHook(failOn(err, tc.fail))
			w.secrets.setHook(failOn(err, tc.fail))
			_, got := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{a.ID}})
			wantCode(t, got, tc.code)
			if w.boot.liveTokens() != 0 || w.obs.revoked != tc.revoked || len(w.records.runtimes) != 0 {
				t.Fatalf("live tokens %d, revoked %d, runtimes %d", w.boot.liveTokens(), w.obs.revoked, len(w.records.runtimes))
			}
		})
	}
}

// TestRestartRuntime: a new sandbox and token, the old token revoked, the
// selection kept (nil), replaced or cleared (empty).
func TestRestartRuntime(t *testing.T) {
	w := newWorld(t, Config{}, false)
	a := w.mustCreate(t, alice, "A", "va")
	b := w.mustCreate(t, alice, "B", "vb")
	rt, err := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{a.ID}})
	if err != nil {
		t.Fatal(err)
	}
	old := rt.Sandbox.ID
	w.clock.Add(time.Minute)
	r2, err := w.svc.RestartRuntime(bg, alice, rt.ID, nil)
	if err != nil || r2.Sandbox.ID == old || r2.Restarts != 1 || !slices.Equal(r2.SecretIDs, []string{a.ID}) ||
		r2.Sandbox.Bootstrap == nil || !r2.UpdatedAt.After(rt.UpdatedAt) {
		t.Fatalf("restart: %+v %v", r2, err)
	}
	if w.boot.envOf(old) != nil || w.boot.liveTokens() != 1 || w.obs.revoked != 1 {
		t.Fatalf("old token alive: live %d revoked %d", w.boot.liveTokens(), w.obs.revoked)
	}
	r3, err := w.svc.RestartRuntime(bg, alice, rt.ID, []string{b.ID})
	if err != nil || !slices.Equal(r3.SecretIDs, []string{b.ID}) || w.boot.envOf(r3.Sandbox.ID)["B"] != "vb" {
		t.Fatalf("new selection: %+v %v", r3, err)
	}
	r4, err := w.svc.RestartRuntime(bg, alice, rt.ID, []string{})
	if err != nil || len(r4.SecretIDs) != 0 || len(r4.Sandbox.EnvNames) != 0 || r4.Sandbox.EnvNames == nil || r4.Restarts != 3 {
		t.Fatalf("cleared selection: %+v %v", r4, err)
	}
	if stored, _ := w.records.GetRuntime(bg, alice, rt.ID); stored.Sandbox.ID != r4.Sandbox.ID || stored.Restarts != 3 {
		t.Fatalf("stored %+v", stored)
	}
	_, err = w.svc.RestartRuntime(bg, bob, rt.ID, nil)
	wantCode(t, err, CodeNotFound)
	_, err = w.svc.RestartRuntime(bg, alice, rt.ID, []string{NewID()})
	wantCode(t, err, CodeNotFound)

	// The old token cannot be revoked: the new one is retired, the old
	// accessor kept for a retry, the record unchanged.
	w.boot.setHook(failOn(Errorf(CodeUnavailable, "vault down"), "RevokeAccessor"))
	cur := r4.Sandbox.ID
	_, err = w.svc.RestartRuntime(bg, alice, rt.ID, nil)
	wantCode(t, err, CodeUnavailable)
	if stored, _ := w.records.GetRuntime(bg, alice, rt.ID); stored.Sandbox.ID != cur || stored.Sandbox.Accessor != "acc-"+cur {
		t.Fatalf("record changed by a failed restart: sandbox %s accessor %q", stored.Sandbox.ID, stored.Sandbox.Accessor)
	}
	w.boot.setHook(nil)
	w.records.setHook(failOn(Errorf(CodeUnavailable, "redis down"), "PutRuntime"))
	before := w.boot.liveTokens()
	_, err = w.svc.RestartRuntime(bg, alice, rt.ID, nil)
	wantCode(t, err, CodeUnavailable)
	if w.boot.liveTokens() >= before {
		t.Fatalf("a failed save left the new token alive: %d live", w.boot.liveTokens())
	}
	w.boot.setHook(failOn(Errorf(CodeUnavailable, "vault down"), "Wrap"))
	_, err = w.svc.RestartRuntime(bg, alice, rt.ID, nil)
	wantCode(t, err, CodeUnavailable)
}

func TestDeleteRuntime(t *testing.T) {
	w := newWorld(t, Config{}, false)
	rt, err := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rt.SecretIDs) != 0 || rt.Sandbox.EnvNames == nil {
		t.Fatalf("empty selection: %+v", rt)
	}
	wantCode(t, w.svc.DeleteRuntime(bg, bob, rt.ID), CodeNotFound)
	if err := w.svc.DeleteRuntime(bg, alice, rt.ID); err != nil {
		t.Fatal(err)
	}
	if w.boot.liveTokens() != 0 || len(w.records.runtimes) != 0 {
		t.Fatalf("live %d runtimes %d", w.boot.liveTokens(), len(w.records.runtimes))
	}
	wantCode(t, w.svc.DeleteRuntime(bg, alice, rt.ID), CodeNotFound)
	_, err = w.svc.GetRuntime(bg, alice, rt.ID)
	wantCode(t, err, CodeNotFound)
	_, err = w.svc.GetRuntime(bg, alice, "x")
	wantCode(t, err, CodeNotFound)
	_, err = w.svc.GetRuntime(bg, "", rt.ID)
	wantCode(t, err, CodeUnauthenticated)
	_, err = w.svc.ListRuntimes(bg, "")
	wantCode(t, err, CodeUnauthenticated)

	// A token already used (no accessor left) is no obstacle; a revoke
	// failure keeps the runtime so the delete can be retried.
	rt, _ = w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p"})
	w.boot.setHook(failOn(Errorf(CodeUnavailable, "down"), "RevokeAccessor"))
	wantCode(t, w.svc.DeleteRuntime(bg, alice, rt.ID), CodeUnavailable)
	if len(w.records.runtimes) != 1 {
		t.Fatalf("runtime forgotten while its token lives")
	}
	w.boot.setHook(nil)
	delete(w.records.accessors, rt.Sandbox.ID)
	if err := w.svc.DeleteRuntime(bg, alice, rt.ID); err != nil {
		t.Fatal(err)
	}
}

// TestCreateEvaluation: two sandboxes per item, each with its own token over
// the same selection; the stored record and GetEvaluation carry no token.
func TestCreateEvaluation(t *testing.T) {
	w := newWorld(t, Config{Concurrency: 3}, false)
	a := w.mustCreate(t, alice, "A", "va")
	ev, err := w.svc.CreateEvaluation(bg, alice, EvaluationInput{ProjectID: "p", SecretIDs: []string{a.ID}, Items: []string{"i1", "i2", "i3"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Items) != 3 || w.boot.minted != 6 || w.obs.issued != 6 {
		t.Fatalf("%d items, %d minted", len(ev.Items), w.boot.minted)
	}
	seen := map[string]bool{}
	for i, it := range ev.Items {
		if it.Name != fmt.Sprintf("i%d", i+1) {
			t.Fatalf("item %d named %q", i, it.Name)
		}
		for _, sb := range []Sandbox{it.RuntimeSandbox, it.TaskSandbox} {
			if sb.Bootstrap == nil || seen[sb.Bootstrap.Token] || w.boot.envOf(sb.ID)["A"] != "va" {
				t.Fatalf("item %d sandbox %+v", i, sb)
			}
			seen[sb.Bootstrap.Token] = true
		}
	}
	got, err := w.svc.GetEvaluation(bg, alice, ev.ID)
	if err != nil || len(got.Items) != 3 || got.Items[0].TaskSandbox.Bootstrap != nil || got.Items[0].TaskSandbox.ID != ev.Items[0].TaskSandbox.ID {
		t.Fatalf("GetEvaluation %+v %v", got, err)
	}
	if ev.Items[0].TaskSandbox.Bootstrap == nil {
		t.Fatalf("storing the evaluation stripped the caller's answer")
	}
	_, err = w.svc.GetEvaluation(bg, bob, ev.ID)
	wantCode(t, err, CodeNotFound)
	_, err = w.svc.GetEvaluation(bg, alice, "x")
	wantCode(t, err, CodeNotFound)
	_, err = w.svc.GetEvaluation(bg, "", ev.ID)
	wantCode(t, err, CodeUnauthenticated)
}

func TestCreateEvaluationRefusals(t *testing.T) {
	w := newWorld(t, Config{Limits: Limits{MaxEvalItems: 2}}, false)
	for name, in := range map[string]EvaluationInput{
		"no items":   {ProjectID: "p"},
		"too many":   {ProjectID: "p", Items: []string{"a", "b", "c"}},
		"empty name": {ProjectID: "p", Items: []string{"a", ""}},
		"long name":  {ProjectID: "p", Items: []string{strings.Repeat("x", 129)}},
		"no project": {Items: []string{"a"}},
	} {
		_, err := w.svc.CreateEvaluation(bg, alice, in)
		if !IsCode(err, CodeInvalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	_, err := w.svc.CreateEvaluation(bg, alice, EvaluationInput{ProjectID: "p", Items: []string{"a"}, SecretIDs: []string{NewID()}})
	wantCode(t, err, CodeNotFound)
	_, err = w.svc.CreateEvaluation(bg, "", EvaluationInput{ProjectID: "p", Items: []string{"a"}})
	wantCode(t, err, CodeUnauthenticated)
	if w.boot.minted != 0 {
		t.Fatalf("refusals minted %d tokens", w.boot.minted)
	}
}

// TestCreateEvaluationAllOrNothing: when one token cannot be minted, or the
// record cannot be stored, every token minted for the evaluation is revoked.
func TestCreateEvaluationAllOrNothing(t *testing.T) {
	for _, fail := range []string{"Wrap", "PutEvaluation"} {
		t.Run(fail, func(t *testing.T) {
			w := newWorld(t, Config{Concurrency: 2}, false)
			down := Errorf(CodeUnavailable, "down")
			if fail == "Wrap" {
				w.boot.setHook(func(m string) error {
					if m == "Wrap" && w.boot.count("Wrap") == 5 {
						return down
					}
					return nil
				})
			} else {
				w.records.setHook(failOn(down, fail))
			}
			_, err := w.svc.CreateEvaluation(bg, alice, EvaluationInput{ProjectID: "p", Items: []string{"a", "b", "c", "d"}})
			wantCode(t, err, CodeUnavailable)
			if w.boot.minted == 0 || w.boot.liveTokens() != 0 || w.obs.revoked != w.boot.minted || len(w.records.evals) != 0 {
				t.Fatalf("minted %d, live %d, revoked %d, stored %d", w.boot.minted, w.boot.liveTokens(), w.obs.revoked, len(w.records.evals))
			}
		})
	}
}

// TestLegacyRecordRevokesByAccessorEntry: a runtime record written before
// accessors moved into records has none; retiring its sandbox takes the
// accessor entry instead, and puts it back when revoking fails.
func TestLegacyRecordRevokesByAccessorEntry(t *testing.T) {
	w := newWorld(t, Config{}, false)
	rt, err := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	sb := rt.Sandbox.ID
	legacy := rt.WithoutBootstrap()
	legacy.Sandbox.Accessor = ""
	if err := w.records.PutRuntime(bg, legacy); err != nil {
		t.Fatal(err)
	}
	w.records.accessors[sb] = "acc-" + sb
	w.boot.setHook(failOn(Errorf(CodeUnavailable, "vault down"), "RevokeAccessor"))
	wantCode(t, w.svc.DeleteRuntime(bg, alice, rt.ID), CodeUnavailable)
	if w.records.accessors[sb] != "acc-"+sb || w.boot.liveTokens() != 1 {
		t.Fatalf("after a failed revoke: entry %q, live tokens %d", w.records.accessors[sb], w.boot.liveTokens())
	}
	w.boot.setHook(nil)
	if err := w.svc.DeleteRuntime(bg, alice, rt.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.records.accessors[sb]; ok || w.boot.liveTokens() != 0 || w.obs.revoked != 1 {
		t.Fatalf("after delete: entry kept %v, live tokens %d, revoked %d", ok, w.boot.liveTokens(), w.obs.revoked)
	}
}

// TestRevokeFailureIsWarned: a token that cannot be revoked during cleanup
// is reported, never silently dropped.
func TestRevokeFailureIsWarned(t *testing.T) {
	w := newWorld(t, Config{}, false)
	w.records.setHook(failOn(Errorf(CodeUnavailable, "down"), "PutRuntime"))
	w.boot.setHook(failOn(Errorf(CodeUnavailable, "vault down"), "RevokeAccessor"))
	_, err := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p"})
	wantCode(t, err, CodeUnavailable)
	if !slices.ContainsFunc(*w.warns, func(s string) bool { return strings.HasPrefix(s, "revoke: ") }) {
		t.Fatalf("no revoke warning: %v", *w.warns)
	}
}

// TestReadsStripBootstraps: even a record store that (wrongly) hands back a
// bootstrap never makes GetRuntime, ListRuntimes or GetEvaluation answer
// the token.
func TestReadsStripBootstraps(t *testing.T) {
	w := newWorld(t, Config{}, false)
	bs := &Bootstrap{Token: "hvs.leaked"}
	id := NewID()
	w.records.runtimes[alice+"/"+id] = Runtime{ID: id, UserID: alice, Sandbox: Sandbox{ID: "sb", Bootstrap: bs}}
	w.records.evals[alice+"/"+id] = Evaluation{ID: id, UserID: alice, Items: []EvaluationItem{{RuntimeSandbox: Sandbox{Bootstrap: bs}, TaskSandbox: Sandbox{Bootstrap: bs}}}}
	if rt, err := w.svc.GetRuntime(bg, alice, id); err != nil || rt.Sandbox.Bootstrap != nil {
		t.Fatalf("GetRuntime: %+v %v", rt, err)
	}
	if list, err := w.svc.ListRuntimes(bg, alice); err != nil || len(list) != 1 || list[0].Sandbox.Bootstrap != nil {
		t.Fatalf("ListRuntimes: %+v %v", list, err)
	}
	if ev, err := w.svc.GetEvaluation(bg, alice, id); err != nil || ev.Items[0].RuntimeSandbox.Bootstrap != nil || ev.Items[0].TaskSandbox.Bootstrap != nil {
		t.Fatalf("GetEvaluation: %+v %v", ev, err)
	}
}
