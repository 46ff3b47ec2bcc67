package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/inproc"
	"github.com/acme/secretsbroker/internal/testenv"
	"github.com/acme/secretsbroker/vaultx"
)

// keysEnv is a set-up dev Vault, the broker's domain service on top of it
// (logged in with the broker's AppRole, as brokerd is) and brokerctl's
// operator environment.
type keysEnv struct {
	admin *api.Client // root
	svc   *broker.Service
	vc    *vaultx.Client // the broker's
	env   map[string]string
	addr  string
}

func newKeysEnv(t *testing.T) *keysEnv {
	t.Helper()
	v := testenv.StartVault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := vaultx.NewAPIClient(vaultx.Config{Addr: v.Addr, Token: v.Token}, vaultx.APIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := vaultx.SetupOptions{RoleIDFile: filepath.Join(dir, "role-id"), SecretIDFile: filepath.Join(dir, "secret-id")}
	if _, err := vaultx.Setup(ctx, admin, o); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	vc, err := vaultx.New(ctx, vaultx.Config{Addr: v.Addr, RoleIDFile: o.RoleIDFile, SecretIDFile: o.SecretIDFile}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vc.Close() })
	mem := inproc.New(time.Now, inproc.Options{})
	svc := broker.NewService(broker.Config{SandboxVaultAddr: v.Addr},
		broker.Deps{Secrets: vc, Crypto: vc, Boot: vc, Records: mem, Cache: mem.ListCache()})
	// The operator's token holds only the policy docs/operations.md gives.
	if err := admin.Sys().PutPolicyWithContext(ctx, "broker-operator", operatorPolicy); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{"broker-operator"}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	return &keysEnv{admin: admin, svc: svc, vc: vc, addr: v.Addr,
		env: map[string]string{"VAULT_ADDR": v.Addr, "VAULT_TOKEN": tok.Auth.ClientToken}}
}

// operatorPolicy is the policy of docs/operations.md, "The operator's Vault policy".
const operatorPolicy = `
path "transit/keys/broker-secrets"        { capabilities = ["read"] }
path "transit/keys/broker-secrets/rotate" { capabilities = ["update"] }
path "transit/keys/broker-secrets/config" { capabilities = ["update"] }   # --raise-min-version
path "transit/rewrap/broker-secrets"      { capabilities = ["update"] }
path "broker/data/users/*"                { capabilities = ["read", "create", "update"] }
path "broker/metadata/users/*"            { capabilities = ["read", "update", "list"] }
path "broker/metadata/users/"             { capabilities = ["list"] }
`

// secretRef is one secret created through the service, with its current value.
type secretRef struct {
	user, id, name, value string
}

// seed creates perUser secrets for each of users users; every third one is
// rotated once by its user.
func (k *keysEnv) seed(t *testing.T, users, perUser int) []*secretRef {
	t.Helper()
	ctx := context.Background()
	var out []*secretRef
	for u := range users {
		user := fmt.Sprintf("user-%d-%d", u, time.Now().UnixNano())
		for i := range perUser {
			r := &secretRef{user: user, name: fmt.Sprintf("KEY_%02d", i), value: fmt.Sprintf("sk-%d-%02d-0123456789abcdef", u, i)}
			s, err := k.svc.CreateSecret(ctx, user, broker.CreateSecretInput{Name: r.name, Value: r.value})
			if err != nil {
				t.Fatal(err)
			}
			r.id = s.ID
			if i%3 == 0 {
				r.value += "-rotated"
				if _, err := k.svc.UpdateSecret(ctx, user, r.id, r.value); err != nil {
					t.Fatal(err)
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// kvRead reads broker/<path> (version 0: current) with the root token.
func (k *keysEnv) kvRead(t *testing.T, path string, version int) map[string]any {
	t.Helper()
	ctx := context.Background()
	var (
		s   *api.KVSecret
		err error
	)
	if version == 0 {
		s, err = k.admin.KVv2(vaultx.DefaultKVMount).Get(ctx, path)
	} else {
		s, err = k.admin.KVv2(vaultx.DefaultKVMount).GetVersion(ctx, path, version)
	}
	if err != nil {
		t.Fatalf("read %s v%d: %v", path, version, err)
	}
	return s.Data
}

// storedCurrent walks every user's secrets in KV with the root token and
// returns each current ciphertext by path.
func (k *keysEnv) storedCurrent(t *testing.T) map[string]string {
	t.Helper()
	list := func(p string) []string {
		s, err := k.admin.Logical().List(vaultx.DefaultKVMount + "/metadata/" + p)
		if err != nil {
			t.Fatal(err)
		}
		if s == nil {
			return nil
		}
		var out []string
		for _, x := range s.Data["keys"].([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	out := map[string]string{}
	for _, u := range list("users/") {
		for _, id := range list("users/" + u + "secrets/") {
			p := "users/" + u + "secrets/" + id
			out[p], _ = k.kvRead(t, p, 0)["ciphertext"].(string)
		}
	}
	return out
}

// checkAllAt checks that every stored current ciphertext (and there are n)
// carries key version v.
func (k *keysEnv) checkAllAt(t *testing.T, n, v int) {
	t.Helper()
	cur := k.storedCurrent(t)
	if len(cur) != n {
		t.Fatalf("%d secrets stored, want %d", len(cur), n)
	}
	prefix := fmt.Sprintf("vault:v%d:", v)
	for p, ct := range cur {
		if !strings.HasPrefix(ct, prefix) {
			t.Fatalf("%s: current ciphertext %.10s..., want %s", p, ct, prefix)
		}
	}
}

// checkProvisions provisions a runtime per user with all their secrets and
// unwraps its bootstrap as sandbox-init would, comparing every value.
func (k *keysEnv) checkProvisions(t *testing.T, secrets []*secretRef) {
	t.Helper()
	ctx := context.Background()
	byUser := map[string][]*secretRef{}
	for _, s := range secrets {
		byUser[s.user] = append(byUser[s.user], s)
	}
	anon, err := vaultx.NewAPIClient(vaultx.Config{Addr: k.addr}, vaultx.APIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for user, refs := range byUser {
		ids := make([]string, len(refs))
		for i, r := range refs {
			ids[i] = r.id
		}
		rt, err := k.svc.CreateRuntime(ctx, user, broker.RuntimeInput{ProjectID: "p", SecretIDs: ids})
		if err != nil {
			t.Fatalf("CreateRuntime: %v", err)
		}
		anon.SetToken("") // Unwrap adopts the wrapping token: start token-less each time
		sec, err := anon.Logical().Unwrap(rt.Sandbox.Bootstrap.Token)
		if err != nil || sec == nil {
			t.Fatalf("unwrap: %v", err)
		}
		env, _ := sec.Data["data"].(map[string]any)
		if len(env) != len(refs) {
			t.Fatalf("user %s: %d values provisioned, want %d", user, len(env), len(refs))
		}
		for _, r := range refs {
			if env[r.name] != r.value {
				t.Fatalf("user %s: %s does not provision its value", user, r.name)
			}
		}
	}
}

// rewrappedVersions counts the versions of a secret marked "rewrapped".
func (k *keysEnv) rewrappedVersions(t *testing.T, r *secretRef) (rewrapped, total int) {
	t.Helper()
	p := "users/" + r.user + "/secrets/" + r.id
	m, err := k.admin.KVv2(vaultx.DefaultKVMount).GetMetadata(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= m.CurrentVersion; v++ {
		if k.kvRead(t, p, v)["rewrapped"] == true {
			rewrapped++
		}
	}
	return rewrapped, m.CurrentVersion
}

func (k *keysEnv) keyInfo(t *testing.T) (latest, minDecrypt int) {
	t.Helper()
	s, err := k.admin.Logical().Read("transit/keys/" + vaultx.DefaultTransitKey)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Data["latest_version"].(json.Number).Int64()
	m, _ := s.Data["min_decryption_version"].(json.Number).Int64()
	return int(l), int(m)
}

var progressRE = regexp.MustCompile(`^rewrapped (\d+)/(\d+) secrets \(user (\d+)/(\d+); (\d+) needed it\)$`)

// progressLines parses the rewrap progress lines of stderr.
func progressLines(stderr string) [][]int {
	var out [][]int
	for _, l := range strings.Split(stderr, "\n") {
		if m := progressRE.FindStringSubmatch(l); m != nil {
			var row []int
			for _, s := range m[1:] {
				n, _ := strconv.Atoi(s)
				row = append(row, n)
			}
			out = append(out, row)
		}
	}
	return out
}

func decodeRotate(t *testing.T, stdout string) rotateJSON {
	t.Helper()
	var out rotateJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v: %q", err, stdout)
	}
	return out
}

func TestKeysRotateRewrapsEverySecret(t *testing.T) {
	k := newKeysEnv(t)
	secrets := k.seed(t, 3, 4)
	k.checkAllAt(t, 12, 1)

	r := runCLI(t, k.env, "", "keys", "rotate", "--batch-size", "3", "--progress-interval", "0")
	if r.code != 0 {
		t.Fatalf("keys rotate: exit %d, stderr %q", r.code, r.stderr)
	}
	t.Logf("stdout:\n%sstderr:\n%s", r.stdout, r.stderr)
	for _, want := range []string{"rotated: version 1 -> 2", "12 secrets checked", "rewrapped 12, already current 0", "rewrap complete"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("summary lacks %q: %q", want, r.stdout)
		}
	}
	prog := progressLines(r.stderr)
	if len(prog) != 6 { // 3 users x (3 + 1)... in batches of 3: 2 per user
		t.Fatalf("%d progress lines, want 6: %q", len(prog), r.stderr)
	}
	if last := prog[len(prog)-1]; last[0] != 12 || last[1] != 12 || last[2] != 3 || last[3] != 3 || last[4] != 12 {
		t.Fatalf("last progress line %v", last)
	}
	if !strings.Contains(r.stderr, "rotated transit key transit/broker-secrets: version 1 -> 2") {
		t.Fatalf("stderr: %q", r.stderr)
	}
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s.value) {
			t.Fatal("a secret value appears in brokerctl's output")
		}
	}
	k.checkAllAt(t, 12, 2)
	k.checkProvisions(t, secrets)
	if latest, minDec := k.keyInfo(t); latest != 2 || minDec != 1 {
		t.Fatalf("key: latest %d, min_decryption_version %d", latest, minDec)
	}

	// Nothing left to do: a rewrap-only run finds everything current.
	r = runCLI(t, k.env, "", "--json", "keys", "rotate", "--rewrap-only")
	if r.code != 0 {
		t.Fatalf("rewrap-only: exit %d, %q", r.code, r.stderr)
	}
	out := decodeRotate(t, r.stdout)
	if out.Rotated || out.LatestVersion != 2 || !out.Complete || out.Rewrap.Rewrapped != 0 || out.Rewrap.UpToDate != 12 {
		t.Fatalf("rewrap-only summary: %+v", out)
	}
}

// cancelAt is a stderr that cancels the run (as Ctrl-C does) once a
// progress line reports at least at secrets handled.
type cancelAt struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
	at     int
}

func (c *cancelAt) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	for _, row := range progressLines(string(p)) {
		if row[0] >= c.at {
			c.cancel()
		}
	}
	return len(p), nil
}

func (c *cancelAt) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func TestKeysRotateInterruptedThenResumed(t *testing.T) {
	k := newKeysEnv(t)
	secrets := k.seed(t, 4, 5)
	state := filepath.Join(t.TempDir(), "rewrap.state")

	// Run 1 is interrupted (the context run gets is cancelled, as by
	// Ctrl-C) once a progress line reports 8 or more secrets.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout bytes.Buffer
	stderr := &cancelAt{cancel: cancel, at: 8}
	getenv := func(v string) string { return k.env[v] }
	err := run(ctx, []string{"--json", "keys", "rotate", "--state", state, "--batch-size", "3", "--progress-interval", "0"},
		getenv, strings.NewReader(""), &stdout, stderr)
	code := exitCode(err, stderr)
	t.Logf("run 1: exit %d\nstdout: %sstderr:\n%s", code, stdout.String(), stderr.String())
	if code != 1 || !strings.Contains(stderr.String(), "brokerctl: interrupted after") ||
		!strings.Contains(stderr.String(), "keys rotate --rewrap-only --state "+state) {
		t.Fatalf("interrupted run: exit %d, stderr %q", code, stderr.String())
	}
	out1 := decodeRotate(t, stdout.String())
	// User 1: batches of 3 and 2 (5 handled); user 2: 3 more (8), then the stop.
	if !out1.Rotated || out1.Complete || out1.Rewrap.Rewrapped != 8 || out1.Rewrap.UsersDone != 1 || out1.Rewrap.Secrets != 20 {
		t.Fatalf("run 1 summary: %+v", out1)
	}

	// Run 2 finishes the job without rotating again.
	r := runCLI(t, k.env, "", "--json", "keys", "rotate", "--rewrap-only", "--state", state, "--batch-size", "3", "--progress-interval", "0")
	if r.code != 0 {
		t.Fatalf("run 2: exit %d, %q", r.code, r.stderr)
	}
	out2 := decodeRotate(t, r.stdout)
	t.Logf("run 2: %+v", out2.Rewrap)
	rw := out2.Rewrap
	if out2.Rotated || !out2.Complete || out2.LatestVersion != 2 || rw.UsersSkipped != 1 || rw.UsersDone != 3 ||
		rw.Secrets != 15 || rw.UpToDate != 3 || rw.Rewrapped != 12 {
		t.Fatalf("run 2 summary: %+v", out2)
	}
	if out1.Rewrap.Rewrapped+out2.Rewrap.Rewrapped != len(secrets) {
		t.Fatalf("rewrapped %d + %d, want %d", out1.Rewrap.Rewrapped, out2.Rewrap.Rewrapped, len(secrets))
	}
	k.checkAllAt(t, 20, 2)
	for _, s := range secrets {
		if n, _ := k.rewrappedVersions(t, s); n != 1 {
			t.Fatalf("%s was rewrapped %d times", s.name, n)
		}
	}
	k.checkProvisions(t, secrets)
	if latest, _ := k.keyInfo(t); latest != 2 {
		t.Fatalf("key rotated %d times", latest-1)
	}
}

// write is one successful user write: the version it made and its value.
type write struct {
	version int
	value   string
}

func TestKeysRotateWhileUsersRotate(t *testing.T) {
	k := newKeysEnv(t)
	secrets := k.seed(t, 2, 12)
	// The key is rotated first, so that every user write from now on
	// encrypts with version 2 (writes sealed before a rotation and stored
	// after the rewrap passed are the documented residual window).
	if _, err := k.admin.Logical().Write("transit/keys/"+vaultx.DefaultTransitKey+"/rotate", nil); err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		writes = map[string][]write{} // by secret id
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				r := secrets[(w*7+n*5)%len(secrets)]
				val := fmt.Sprintf("user-write-%d-%d-%s", w, n, r.name)
				sec, err := k.svc.UpdateSecret(ctx, r.user, r.id, val)
				if broker.IsCode(err, broker.CodeConflict) {
					continue // still racing after the service's retries: not a write
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				writes[r.id] = append(writes[r.id], write{sec.Version, val})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	r := runCLI(t, k.env, "", "--json", "keys", "rotate", "--rewrap-only", "--batch-size", "2", "--concurrency", "2", "--progress-interval", "0")
	close(stop)
	wg.Wait()
	if r.code != 0 {
		t.Fatalf("keys rotate: exit %d, %q", r.code, r.stderr)
	}
	out := decodeRotate(t, r.stdout)
	rw := out.Rewrap
	total := 0
	for _, ws := range writes {
		total += len(ws)
	}
	t.Logf("rewrap during %d user writes: %+v", total, rw)
	if !out.Complete || rw.Secrets != 24 || rw.Rewrapped+rw.UpToDate+rw.Superseded+rw.Gone+rw.Failed != rw.Secrets || rw.Failed != 0 {
		t.Fatalf("summary: %+v", out)
	}
	if total == 0 {
		t.Fatal("no user write happened during the rewrap")
	}

	ctx := context.Background()
	for _, s := range secrets {
		ws := writes[s.id]
		// Every successful user write is a version holding its value.
		for _, w := range ws {
			ct, err := k.vc.VersionCiphertext(ctx, s.user, s.id, w.version)
			if err != nil {
				t.Fatal(err)
			}
			pt, err := k.vc.DecryptBatch(ctx, s.user, []string{ct})
			if err != nil || string(pt[0]) != w.value {
				t.Fatalf("%s: version %d does not hold the user's write (%v)", s.name, w.version, err)
			}
		}
		// Versions: the create, the seed's update, the user writes, the rewraps.
		rewrapped, versions := k.rewrappedVersions(t, s)
		seedWrites := 1
		if strings.HasSuffix(s.value, "-rotated") {
			seedWrites = 2
		}
		if versions != seedWrites+len(ws)+rewrapped {
			t.Fatalf("%s: %d versions, want %d seeded + %d user writes + %d rewraps", s.name, versions, seedWrites, len(ws), rewrapped)
		}
		// The final current value is the user's last write.
		if len(ws) > 0 {
			last := ws[0]
			for _, w := range ws {
				if w.version > last.version {
					last = w
				}
			}
			s.value = last.value
		}
	}
	k.checkAllAt(t, 24, 2)
	k.checkProvisions(t, secrets)
}

func TestKeysRotateRaiseMinVersion(t *testing.T) {
	k := newKeysEnv(t)
	secrets := k.seed(t, 2, 3) // 6 secrets, 2 of them with a second version

	// The rewrap completes, but the history still needs key version 1:
	// the raise is refused and nothing changes.
	r := runCLI(t, k.env, "", "keys", "rotate", "--raise-min-version", "--progress-interval", "0")
	t.Logf("refused: exit %d\nstdout:\n%sstderr:\n%s", r.code, r.stdout, r.stderr)
	line := r.stderr[strings.LastIndex(strings.TrimSuffix(r.stderr, "\n"), "\n")+1:]
	if r.code != 1 || !strings.HasPrefix(line, "brokerctl: min_decryption_version not raised: 8 stored versions of 6 secrets") ||
		!strings.Contains(line, "--force") || !strings.Contains(r.stdout, "rewrap complete") {
		t.Fatalf("raise without --force: exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
	}
	if latest, minDec := k.keyInfo(t); latest != 2 || minDec != 1 {
		t.Fatalf("key after refused raise: latest %d, min %d", latest, minDec)
	}
	// Rollback to a pre-rotation version still works.
	ctx := context.Background()
	s := secrets[0]
	sec, err := k.svc.Rollback(ctx, s.user, s.id, 1)
	if err != nil {
		t.Fatalf("rollback after a refused raise: %v", err)
	}
	s.value = strings.TrimSuffix(s.value, "-rotated")
	t.Logf("rolled back to version 1 as version %d", sec.Version)

	// Forced: the minimum becomes the latest version; current values (the
	// rolled-back one is rewrapped first) still provision.
	r = runCLI(t, k.env, "", "--json", "keys", "rotate", "--rewrap-only", "--raise-min-version", "--force", "--progress-interval", "0")
	if r.code != 0 {
		t.Fatalf("forced raise: exit %d, %q", r.code, r.stderr)
	}
	out := decodeRotate(t, r.stdout)
	t.Logf("forced: %+v raise %+v", out.Rewrap, *out.Raise)
	if out.Rewrap.Rewrapped != 1 || out.MinDecryptionVersion != 2 || out.Raise == nil || !out.Raise.Forced || out.Raise.From != 1 || out.Raise.To != 2 {
		t.Fatalf("forced raise summary: %+v", out)
	}
	if latest, minDec := k.keyInfo(t); latest != 2 || minDec != 2 {
		t.Fatalf("key after forced raise: latest %d, min %d", latest, minDec)
	}
	k.checkAllAt(t, 6, 2)
	k.checkProvisions(t, secrets)
	// Rollback to a version of the old key now fails: that is what --force accepted.
	if _, err := k.svc.Rollback(ctx, s.user, s.id, 2); err == nil {
		t.Fatal("rollback to a key version 1 ciphertext succeeded after the forced raise")
	}
}

func TestKeysUsageErrors(t *testing.T) {
	vault := map[string]string{"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "root"}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{vault, []string{"keys", "rotate", "--force"}, "--raise-min-version"},
		{vault, []string{"keys", "rotate", "--concurrency", "0"}, "--concurrency"},
		{vault, []string{"keys", "rotate", "--batch-size", "5000"}, "--batch-size"},
		{map[string]string{"VAULT_TOKEN": "root"}, []string{"keys", "rotate"}, "VAULT_ADDR"},
		{map[string]string{"VAULT_ADDR": "http://127.0.0.1:1"}, []string{"keys", "rotate"}, "VAULT_TOKEN"},
		{vault, []string{"keys", "rotate", "--bogus"}, "unknown flag"},
	} {
		r := runCLI(t, c.env, "", c.args...)
		if r.code != 2 || !strings.Contains(oneErrorLine(t, r), c.want) || r.stdout != "" {
			t.Fatalf("%v: exit %d, stderr %q, stdout %q", c.args, r.code, r.stderr, r.stdout)
		}
	}
	// An unreachable Vault is exit 1, one line.
	r := runCLI(t, vault, "", "keys", "rotate")
	if r.code != 1 {
		t.Fatalf("unreachable vault: exit %d, %q", r.code, r.stderr)
	}
	oneErrorLine(t, r)
	if r := runCLI(t, nil, "", "keys", "rotate", "--help"); r.code != 0 || !strings.Contains(r.stdout, "--raise-min-version") || !strings.Contains(r.stdout, "BROKER_TRANSIT_KEY") {
		t.Fatalf("help: %d %q", r.code, r.stdout)
	}
}
