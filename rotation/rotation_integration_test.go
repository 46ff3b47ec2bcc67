package rotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/layout"
	"github.com/acme/secretsbroker/rotation"
	"github.com/acme/secretsbroker/vaultx"
)

// rotFixture is a token-auth client on the shared Vault with its own KV
// mount, transit key, policy and role, so that rotating the key and walking
// every user touches nothing of the other tests.
type rotFixture struct {
	c     *vaultx.Client
	rot   *rotation.Rotator
	admin *api.Client
	mount string
}

func newRotFixture(t *testing.T) rotFixture {
	t.Helper()
	v := env.Vault(t)
	ctx := testCtx(t)
	o := vaultx.SetupOptions{KVMount: testenv.RandID("kv"), TransitKey: testenv.RandID("key"), PolicyName: testenv.RandID("pol"), RoleName: testenv.RandID("role")}
	admin := adminClient(t, v)
	if _, err := vaultx.Setup(ctx, admin, o); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	cfg := vaultx.Config{Addr: v.Addr, Token: v.Token, KVMount: o.KVMount, TransitKey: o.TransitKey}
	c, err := vaultx.New(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return rotFixture{c: c, rot: rotation.New(c, testLogger(t)), admin: admin, mount: o.KVMount}
}

// seeded is one secret as the test wrote it: every value, oldest first.
type seeded struct {
	user, id, name string
	values         []string
}

func (s seeded) last() string { return s.values[len(s.values)-1] }

// seed writes perUser secrets for each of users users, the way the broker's
// service does; secret 0 of each user gets extra versions.
func (f rotFixture) seed(t *testing.T, users, perUser, extra int) []*seeded {
	t.Helper()
	ctx := testCtx(t)
	var out []*seeded
	for u := range users {
		user := testenv.RandID(fmt.Sprintf("u%d-", u))
		for i := range perUser {
			s := &seeded{user: user, id: testenv.RandID("s-"), name: fmt.Sprintf("KEY_%d", i)}
			s.values = []string{fmt.Sprintf("sk-%s-%d-v1", user, i)}
			if _, err := f.c.CreateSecret(ctx, f.write(t, s.user, s.id, s.name, s.values[0])); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				for k := range extra {
					f.update(t, s, fmt.Sprintf("sk-%s-%d-v%d", user, i, k+2))
				}
			}
			out = append(out, s)
		}
	}
	return out
}

func (f rotFixture) write(t *testing.T, user, id, name, value string) broker.SecretWrite {
	t.Helper()
	ctx := testCtx(t)
	ct, err := f.c.Encrypt(ctx, user, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := f.c.Fingerprint(ctx, user, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return broker.SecretWrite{UserID: user, SecretID: id, Name: name, Ciphertext: ct, MaskedValue: broker.Mask(value), Fingerprint: fp}
}

// update writes value as a new version, as the service does (retrying a
// lost check-and-set).
func (f rotFixture) update(t *testing.T, s *seeded, value string) {
	t.Helper()
	ctx := testCtx(t)
	w := f.write(t, s.user, s.id, "", value)
	for range 20 {
		cur, err := f.c.GetSecret(ctx, s.user, s.id)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.c.UpdateSecret(ctx, w, cur.Version)
		if err == nil {
			s.values = append(s.values, value)
			return
		}
		if !broker.IsCode(err, broker.CodeConflict) {
			t.Fatal(err)
		}
	}
	t.Fatal("update: still conflicting")
}

// versionData reads one version's data as stored.
func (f rotFixture) versionData(t *testing.T, s *seeded, version int) map[string]any {
	t.Helper()
	kv := f.admin.KVv2(f.mount)
	var d *api.KVSecret
	var err error
	if version == 0 {
		d, err = kv.Get(testCtx(t), layout.SecretPath(s.user, s.id))
	} else {
		d, err = kv.GetVersion(testCtx(t), layout.SecretPath(s.user, s.id), version)
	}
	if err != nil {
		t.Fatalf("read %s v%d: %v", s.id, version, err)
	}
	return d.Data
}

// checkCurrent checks that s's current ciphertext is at key version want and
// decrypts to its last value, and that its metadata describes that version.
func (f rotFixture) checkCurrent(t *testing.T, s *seeded, want int) {
	t.Helper()
	ctx := testCtx(t)
	cts, err := f.c.Ciphertexts(ctx, s.user, []string{s.id})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cts[0], fmt.Sprintf("vault:v%d:", want)) {
		t.Fatalf("%s: current ciphertext %.12s..., want key version %d", s.id, cts[0], want)
	}
	pt, err := f.c.DecryptBatch(ctx, s.user, cts)
	if err != nil {
		t.Fatal(err)
	}
	if string(pt[0]) != s.last() {
		t.Fatalf("%s: current value changed by the rewrap", s.id)
	}
	sec, err := f.c.GetSecret(ctx, s.user, s.id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.admin.KVv2(f.mount).GetMetadata(ctx, layout.SecretPath(s.user, s.id))
	if err != nil {
		t.Fatal(err)
	}
	if sec.Version != m.CurrentVersion || m.CustomMetadata["version"] != fmt.Sprint(m.CurrentVersion) {
		t.Fatalf("%s: metadata describes version %v, current is %d", s.id, m.CustomMetadata["version"], m.CurrentVersion)
	}
	if sec.MaskedValue != broker.Mask(s.last()) || sec.Name != s.name {
		t.Fatalf("%s: preview or name changed: %q %q", s.id, sec.MaskedValue, sec.Name)
	}
}

// rewrappedVersions counts the versions of s marked "rewrapped".
func (f rotFixture) rewrappedVersions(t *testing.T, s *seeded) int {
	t.Helper()
	m, err := f.admin.KVv2(f.mount).GetMetadata(testCtx(t), layout.SecretPath(s.user, s.id))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for v := 1; v <= m.CurrentVersion; v++ {
		if f.versionData(t, s, v)["rewrapped"] == true {
			n++
		}
	}
	return n
}

func TestRewrapAllMovesEveryCurrentCiphertext(t *testing.T) {
	f := newRotFixture(t)
	ctx := testCtx(t)
	secrets := f.seed(t, 3, 5, 2)
	before := map[string]map[string]any{}
	for _, s := range secrets {
		before[s.id] = f.versionData(t, s, 0)
		if !strings.HasPrefix(before[s.id]["ciphertext"].(string), "vault:v1:") {
			t.Fatalf("seeded ciphertext not at v1")
		}
	}
	info, err := f.c.RotateKey(ctx)
	if err != nil || info.LatestVersion != 2 || info.MinDecryptionVersion != 1 || !info.Derived {
		t.Fatalf("RotateKey: %+v, %v", info, err)
	}

	var progress []rotation.RewrapProgress
	rep, err := f.rot.RewrapAll(ctx, rotation.RewrapOptions{BatchSize: 2, Concurrency: 4, Progress: func(p rotation.RewrapProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatalf("RewrapAll: %v", err)
	}
	t.Logf("report: %+v; %d progress calls, last %+v", rep, len(progress), progress[len(progress)-1])
	if !strings.HasPrefix(rep.RequestID, "rewrap-") {
		t.Fatalf("request id %q", rep.RequestID)
	}
	rep.RequestID = ""
	want := rotation.RewrapReport{TargetVersion: 2, Users: 3, UsersDone: 3, Secrets: 15, Rewrapped: 15}
	if rep != want || !rep.Complete() {
		t.Fatalf("report %+v, want %+v", rep, want)
	}
	// 3 users x 5 secrets in batches of 2: 3 batches per user.
	if len(progress) != 9 {
		t.Fatalf("%d progress calls, want 9", len(progress))
	}
	for i, p := range progress {
		if p.Total != 15 || p.Users != 3 || p.User != i/3+1 || (i > 0 && p.Done <= progress[i-1].Done) || p.Rewrapped != p.Done {
			t.Fatalf("progress %d: %+v", i, p)
		}
	}
	if last := progress[len(progress)-1]; last.Done != 15 {
		t.Fatalf("last progress %+v", last)
	}

	for _, s := range secrets {
		f.checkCurrent(t, s, 2)
		cur := f.versionData(t, s, 0)
		old := before[s.id]
		if cur["rewrapped"] != true || cur["masked_value"] != old["masked_value"] || cur["fingerprint"] != old["fingerprint"] || cur["name"] != old["name"] {
			t.Fatalf("%s: rewrapped data %v does not carry the old preview %v", s.id, cur, old)
		}
		// History is untouched: the old versions keep their v1 ciphertexts,
		// and rollback (which reuses them) still decrypts.
		vs, err := f.c.Versions(ctx, s.user, s.id)
		if err != nil || len(vs) != len(s.values)+1 {
			t.Fatalf("%s: %d versions, want %d (%v)", s.id, len(vs), len(s.values)+1, err)
		}
		for i, val := range s.values {
			ct, err := f.c.VersionCiphertext(ctx, s.user, s.id, i+1)
			if err != nil || !strings.HasPrefix(ct, "vault:v1:") {
				t.Fatalf("%s v%d: %.10s, %v", s.id, i+1, ct, err)
			}
			pt, err := f.c.DecryptBatch(ctx, s.user, []string{ct})
			if err != nil || string(pt[0]) != val {
				t.Fatalf("%s v%d no longer decrypts to its value: %v", s.id, i+1, err)
			}
		}
	}

	// A second run finds nothing to do.
	rep, err = f.rot.RewrapAll(ctx, rotation.RewrapOptions{RequestID: "second"})
	want = rotation.RewrapReport{RequestID: "second", TargetVersion: 2, Users: 3, UsersDone: 3, Secrets: 15, UpToDate: 15}
	if err != nil || rep != want {
		t.Fatalf("second run: %+v, %v; want %+v", rep, err, want)
	}
}

func TestRewrapAllResumesAfterInterruption(t *testing.T) {
	f := newRotFixture(t)
	ctx := testCtx(t)
	secrets := f.seed(t, 4, 6, 0)
	if _, err := f.c.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "rewrap.state")

	// Run 1: interrupted (as by Ctrl-C) once 10 secrets were examined.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	rep1, err := f.rot.RewrapAll(runCtx, rotation.RewrapOptions{BatchSize: 4, StatePath: state, Progress: func(p rotation.RewrapProgress) {
		if p.Done >= 10 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || !broker.IsCode(err, broker.CodeUnavailable) {
		t.Fatalf("interrupted run: err %v, want unavailable wrapping context.Canceled", err)
	}
	t.Logf("run 1: %+v (%v)", rep1, err)
	// User 1: batches of 4 and 2; user 2: one batch of 4, then the stop.
	if rep1.Rewrapped != 10 || rep1.UsersDone != 1 || rep1.Secrets != 24 || rep1.Complete() {
		t.Fatalf("run 1: %+v", rep1)
	}
	b, _ := os.ReadFile(state)
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "# ") {
		t.Fatalf("state file after run 1: %q", b)
	}

	// Run 2 skips the finished user and completes the job.
	rep2, err := f.rot.RewrapAll(ctx, rotation.RewrapOptions{BatchSize: 4, StatePath: state, RequestID: "run2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run 2: %+v", rep2)
	want := rotation.RewrapReport{RequestID: "run2", TargetVersion: 2, Users: 4, UsersSkipped: 1, UsersDone: 3, Secrets: 18, Rewrapped: 14, UpToDate: 4}
	if rep2 != want || !rep2.Complete() {
		t.Fatalf("run 2: %+v, want %+v", rep2, want)
	}
	if rep1.Rewrapped+rep2.Rewrapped != len(secrets) {
		t.Fatalf("rewrapped %d + %d, want %d", rep1.Rewrapped, rep2.Rewrapped, len(secrets))
	}
	for _, s := range secrets {
		f.checkCurrent(t, s, 2)
		if n := f.rewrappedVersions(t, s); n != 1 {
			t.Fatalf("%s rewrapped %d times", s.id, n)
		}
	}

	// Run 3 (state file says all done): reads nothing.
	rep3, err := f.rot.RewrapAll(ctx, rotation.RewrapOptions{StatePath: state})
	if err != nil || rep3.UsersSkipped != 4 || rep3.Secrets != 0 || !rep3.Complete() {
		t.Fatalf("run 3: %+v, %v", rep3, err)
	}

	// After another rotation the state file is for an old target: reset.
	if _, err := f.c.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	rep4, err := f.rot.RewrapAll(ctx, rotation.RewrapOptions{StatePath: state})
	if err != nil || !rep4.StateReset || rep4.UsersSkipped != 0 || rep4.Rewrapped != 24 || rep4.TargetVersion != 3 {
		t.Fatalf("run after a second rotation: %+v, %v", rep4, err)
	}
	for _, s := range secrets {
		f.checkCurrent(t, s, 3)
	}
}

func TestRewrapAllYieldsToConcurrentWriters(t *testing.T) {
	f := newRotFixture(t)
	ctx := testCtx(t)
	secrets := f.seed(t, 2, 4, 1)
	byID := map[string]*seeded{}
	for _, s := range secrets {
		byID[s.id] = s
	}
	if _, err := f.c.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	// Between the rewrap and the KV writes of each batch, the broker writes:
	// the first secret of the batch gets a new value (at the new key
	// version), the second is rolled back to its version 1 (an old
	// ciphertext made current again: it must be rewrapped after all).
	var mu sync.Mutex
	rolledBack := map[string]bool{}
	hook := func(user string, ids []string) {
		mu.Lock()
		defer mu.Unlock()
		if len(ids) > 0 && !rolledBack[ids[0]] {
			s := byID[ids[0]]
			f.update(t, s, s.last()+"-user")
		}
		if len(ids) > 1 && !rolledBack[ids[1]] {
			s := byID[ids[1]]
			ct, err := f.c.VersionCiphertext(ctx, s.user, s.id, 1)
			if err != nil {
				t.Error(err)
				return
			}
			cur, _ := f.c.GetSecret(ctx, s.user, s.id)
			w := f.write(t, s.user, s.id, "", s.values[0])
			w.Ciphertext = ct // rollback reuses the old ciphertext
			if _, err := f.c.UpdateSecret(ctx, w, cur.Version); err != nil {
				t.Error(err)
				return
			}
			s.values = append(s.values, s.values[0])
			rolledBack[ids[1]] = true
		}
	}
	rep, err := f.rot.RewrapAll(ctx, rotation.WithBeforeWrite(rotation.RewrapOptions{BatchSize: 4, RequestID: "r"}, hook))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %+v", rep)
	// Per user one batch of 4: one superseded by a new value, one rolled back
	// and rewrapped on the second attempt, two rewrapped at once.
	want := rotation.RewrapReport{RequestID: "r", TargetVersion: 2, Users: 2, UsersDone: 2, Secrets: 8, Rewrapped: 6, Superseded: 2}
	if rep != want {
		t.Fatalf("report %+v, want %+v", rep, want)
	}
	for _, s := range secrets {
		f.checkCurrent(t, s, 2) // the last write wins
		// Every write is a version: creates, updates, rollbacks, rewraps.
		vs, err := f.c.Versions(ctx, s.user, s.id)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(s.values) + f.rewrappedVersions(t, s); len(vs) != want {
			t.Fatalf("%s: %d versions, want %d", s.id, len(vs), want)
		}
	}
}

func TestRaiseMinDecryptionVersion(t *testing.T) {
	f := newRotFixture(t)
	ctx := testCtx(t)
	secrets := f.seed(t, 2, 2, 1) // 4 secrets, 2 of them with a second version
	if _, err := f.c.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}

	// Before the rewrap every version needs key version 1.
	sc, err := f.rot.ScanKeyVersions(ctx, rotation.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Secrets != 4 || sc.Versions != 6 || sc.Stale != 6 || sc.StaleCurrent != 4 || sc.StaleSecrets != 4 || sc.StaleCopies != 0 || sc.Current[1] != 4 || sc.History[1] != 2 {
		t.Fatalf("scan before rewrap: %+v", sc)
	}
	rep, err := f.rot.RaiseMinDecryptionVersion(ctx, rotation.RaiseOptions{})
	wantCode(t, err, broker.CodeConflict)
	if rep.To != 1 || rep.Scan.StaleCurrent != 4 {
		t.Fatalf("refused raise: %+v", rep)
	}

	if _, err := f.rot.RewrapAll(ctx, rotation.RewrapOptions{}); err != nil {
		t.Fatal(err)
	}
	// After it: current versions at v2; the copied versions (4) and the
	// older values (2) still need v1. Still refused, and nothing changed.
	rep, err = f.rot.RaiseMinDecryptionVersion(ctx, rotation.RaiseOptions{})
	wantCode(t, err, broker.CodeConflict)
	t.Logf("refusal: %v", err)
	sc = rep.Scan
	if sc.Stale != 6 || sc.StaleCurrent != 0 || sc.StaleCopies != 4 || sc.StaleSecrets != 4 || sc.Current[2] != 4 || rep.To != 1 {
		t.Fatalf("scan after rewrap: %+v", rep)
	}
	if info, _ := f.c.KeyInfo(ctx); info.MinDecryptionVersion != 1 {
		t.Fatalf("refused raise changed the key: %+v", info)
	}
	s := secrets[0]
	old, err := f.c.VersionCiphertext(ctx, s.user, s.id, 1)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := f.c.DecryptBatch(ctx, s.user, []string{old}); err != nil || string(pt[0]) != s.values[0] {
		t.Fatalf("rollback source no longer decrypts after a refused raise: %v", err)
	}

	// Forced: the minimum moves, current values decrypt, old versions don't.
	rep, err = f.rot.RaiseMinDecryptionVersion(ctx, rotation.RaiseOptions{Force: true})
	if err != nil || rep.From != 1 || rep.To != 2 || !rep.Forced {
		t.Fatalf("forced raise: %+v, %v", rep, err)
	}
	if info, _ := f.c.KeyInfo(ctx); info.MinDecryptionVersion != 2 || info.LatestVersion != 2 {
		t.Fatalf("key after raise: %+v", info)
	}
	for _, s := range secrets {
		f.checkCurrent(t, s, 2)
	}
	if _, err := f.c.DecryptBatch(ctx, s.user, []string{old}); err == nil {
		t.Fatal("a v1 ciphertext still decrypts after the minimum was raised to 2")
	}
	// Raising again is a no-op.
	if rep, err = f.rot.RaiseMinDecryptionVersion(ctx, rotation.RaiseOptions{}); err != nil || rep.From != 2 || rep.To != 2 {
		t.Fatalf("second raise: %+v, %v", rep, err)
	}
	wantCode(t, f.c.SetMinDecryptionVersion(ctx, 3), broker.CodeInvalid)
}

func TestRaiseWithoutHistoryNeedsNoForce(t *testing.T) {
	f := newRotFixture(t)
	ctx := testCtx(t)
	if _, err := f.c.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	// Secrets written after the rotation only: nothing needs key version 1.
	secrets := f.seed(t, 2, 3, 1)
	rep, err := f.rot.RaiseMinDecryptionVersion(ctx, rotation.RaiseOptions{})
	if err != nil || rep.To != 2 || rep.Forced || rep.Scan.Stale != 0 || rep.Scan.Versions != 8 {
		t.Fatalf("raise: %+v, %v", rep, err)
	}
	for _, s := range secrets {
		f.checkCurrent(t, s, 2)
	}
}

func TestRewrapAllIsAuditedPerUser(t *testing.T) {
	v := testenv.StartVault(t)
	logPath := filepath.Join(t.TempDir(), "audit.log")
	bc := newAppRoleClient(t, v, vaultx.SetupOptions{AuditFilePath: logPath})
	ctx := testCtx(t)
	op, err := vaultx.New(ctx, vaultx.Config{Addr: v.Addr, Token: v.Token}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	f := rotFixture{c: bc} // the broker writes the secrets with its own AppRole token
	secrets := f.seed(t, 2, 2, 0)
	if _, err := op.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	f.c = op
	if rep, err := rotation.New(op, testLogger(t)).RewrapAll(ctx, rotation.RewrapOptions{RequestID: "rewrap-audit-1"}); err != nil || rep.Rewrapped != 4 {
		t.Fatalf("RewrapAll: %+v, %v", rep, err)
	}
	type entry struct {
		Type    string `json:"type"`
		Request struct {
			Path    string              `json:"path"`
			Headers map[string][]string `json:"headers"`
		} `json:"request"`
	}
	users := map[string]bool{}
	for _, s := range secrets {
		users[s.user] = true
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		raw, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(raw), s.last()) {
				t.Fatal("plaintext value in the audit log")
			}
		}
		perUser := map[string]int{}
		rewraps := 0
		for _, line := range strings.Split(string(raw), "\n") {
			var e entry
			if json.Unmarshal([]byte(line), &e) != nil || e.Type != "request" || first(e.Request.Headers["x-request-id"]) != "rewrap-audit-1" {
				continue
			}
			u := first(e.Request.Headers["x-broker-user"])
			switch {
			case strings.HasPrefix(e.Request.Path, "transit/rewrap/"):
				if !users[u] {
					t.Fatalf("rewrap call names user %q", u)
				}
				rewraps++
			case strings.HasSuffix(e.Request.Path, "/metadata/users/"):
				// LIST users/ names no user, only the run
			case strings.Contains(e.Request.Path, "/users/"):
				if !strings.Contains(e.Request.Path, "/users/"+u+"/") {
					t.Fatalf("request %s names user %q", e.Request.Path, u)
				}
				perUser[u]++
			}
		}
		// Per user: LIST, 2 reads, 2 data writes, 2 metadata writes.
		if rewraps == 2 && len(perUser) == 2 && perUser[secrets[0].user] >= 7 && perUser[secrets[2].user] >= 7 {
			t.Logf("audited rewrap requests: %v per user, %d rewrap calls", perUser, rewraps)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit log: %v per user, %d rewrap calls", perUser, rewraps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
