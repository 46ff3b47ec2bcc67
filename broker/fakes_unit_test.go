package broker

// Small in-memory implementations of the adapter interfaces of
// interfaces.go, following their documented contracts (check-and-set,
// not_found, stamps), for fast tests of the service logic. They are not
// models of Vault or Redis: the adapters' own integration tests run against
// real servers.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// faults lets a test make a method fail: hook is asked before every call
// and its error, when not nil, is the call's answer.
type faults struct {
	mu    sync.Mutex
	calls map[string]int
	hook  func(method string) error
}

func (f *faults) enter(method string) error {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[method]++
	h := f.hook
	f.mu.Unlock()
	if h != nil {
		return h(method)
	}
	return nil
}

func (f *faults) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *faults) setHook(h func(method string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

// failOn returns a hook failing the named methods with err.
func failOn(err error, methods ...string) func(string) error {
	return func(m string) error {
		if slices.Contains(methods, m) {
			return err
		}
		return nil
	}
}

type memVersion struct {
	ct, masked, fp, name string
	created              time.Time
	destroyed            bool
}

type memSecret struct {
	meta     Secret
	versions []memVersion
}

// memSecrets is a SecretStore.
type memSecrets struct {
	faults
	mu      sync.Mutex
	now     func() time.Time
	names   map[string]NameEntry  // user/name
	secrets map[string]*memSecret // user/id
	writes  []SecretWrite
}

func newMemSecrets(now func() time.Time) *memSecrets {
	return &memSecrets{now: now, names: map[string]NameEntry{}, secrets: map[string]*memSecret{}}
}

func notFound() error { return Errorf(CodeNotFound, "not found") }

func (m *memSecrets) ReserveName(_ context.Context, u, name, id string) error {
	if err := m.enter("ReserveName"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.names[u+"/"+name]; ok {
		return Errorf(CodeConflict, "name taken")
	}
	m.names[u+"/"+name] = NameEntry{SecretID: id, Version: 1, CreatedAt: m.now()}
	return nil
}

func (m *memSecrets) NameOwner(_ context.Context, u, name string) (NameEntry, error) {
	if err := m.enter("NameOwner"); err != nil {
		return NameEntry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.names[u+"/"+name]
	if !ok {
		return NameEntry{}, notFound()
	}
	return e, nil
}

func (m *memSecrets) RebindName(_ context.Context, u, name, id string, entry NameEntry) error {
	if err := m.enter("RebindName"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.names[u+"/"+name]
	if !ok || cur.Version != entry.Version {
		return Errorf(CodeConflict, "cas mismatch")
	}
	m.names[u+"/"+name] = NameEntry{SecretID: id, Version: cur.Version + 1, CreatedAt: m.now()}
	return nil
}

func (m *memSecrets) ReleaseName(_ context.Context, u, name string) error {
	if err := m.enter("ReleaseName"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.names, u+"/"+name)
	return nil
}

func (m *memSecrets) CreateSecret(_ context.Context, w SecretWrite) (Secret, error) {
	if err := m.enter("CreateSecret"); err != nil {
		return Secret{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes = append(m.writes, w)
	k := w.UserID + "/" + w.SecretID
	if _, ok := m.secrets[k]; ok {
		return Secret{}, Errorf(CodeConflict, "exists")
	}
	now := m.now().UTC()
	s := &memSecret{meta: Secret{ID: w.SecretID, Name: w.Name, Provider: w.Provider, MaskedValue: w.MaskedValue,
		Fingerprint: w.Fingerprint, Version: 1, CreatedAt: now, UpdatedAt: now, EgressHosts: w.EgressHosts}}
	s.versions = []memVersion{{ct: w.Ciphertext, masked: w.MaskedValue, fp: w.Fingerprint, name: w.Name, created: now}}
	m.secrets[k] = s
	return s.meta, nil
}

func (m *memSecrets) UpdateSecret(_ context.Context, w SecretWrite, cas int) (Secret, error) {
	if err := m.enter("UpdateSecret"); err != nil {
		return Secret{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes = append(m.writes, w)
	s, ok := m.secrets[w.UserID+"/"+w.SecretID]
	if !ok {
		return Secret{}, notFound()
	}
	if cas != s.meta.Version {
		return Secret{}, Errorf(CodeConflict, "cas mismatch")
	}
	now := m.now().UTC()
	s.versions = append(s.versions, memVersion{ct: w.Ciphertext, masked: w.MaskedValue, fp: w.Fingerprint, name: w.Name, created: now})
	s.meta.Version++
	s.meta.MaskedValue, s.meta.Fingerprint, s.meta.UpdatedAt = w.MaskedValue, w.Fingerprint, now
	s.meta.EgressHosts = w.EgressHosts
	return s.meta, nil
}

func (m *memSecrets) SetEgressHosts(_ context.Context, u, id string, hosts []string) (Secret, error) {
	if err := m.enter("SetEgressHosts"); err != nil {
		return Secret{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[u+"/"+id]
	if !ok {
		return Secret{}, notFound()
	}
	s.meta.EgressHosts = append([]string{}, hosts...)
	return s.meta, nil
}

func (m *memSecrets) GetSecret(_ context.Context, u, id string) (Secret, error) {
	if err := m.enter("GetSecret"); err != nil {
		return Secret{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[u+"/"+id]
	if !ok {
		return Secret{}, notFound()
	}
	return s.meta, nil
}

func (m *memSecrets) ListSecrets(_ context.Context, u string) ([]Secret, error) {
	if err := m.enter("ListSecrets"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Secret
	for k, s := range m.secrets {
		if strings.HasPrefix(k, u+"/") {
			out = append(out, s.meta)
		}
	}
	return out, nil
}

func (m *memSecrets) CountSecrets(ctx context.Context, u string) (int, error) {
	if err := m.enter("CountSecrets"); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k := range m.secrets {
		if strings.HasPrefix(k, u+"/") {
			n++
		}
	}
	return n, nil
}

func (m *memSecrets) Ciphertexts(_ context.Context, u string, ids []string) ([]string, error) {
	if err := m.enter("Ciphertexts"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(ids))
	for i, id := range ids {
		s, ok := m.secrets[u+"/"+id]
		if !ok {
			return nil, notFound()
		}
		out[i] = s.versions[len(s.versions)-1].ct
	}
	return out, nil
}

func (m *memSecrets) Versions(_ context.Context, u, id string) ([]SecretVersion, error) {
	if err := m.enter("Versions"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[u+"/"+id]
	if !ok {
		return nil, notFound()
	}
	out := make([]SecretVersion, len(s.versions))
	for i, v := range s.versions {
		out[i] = SecretVersion{Version: i + 1, CreatedAt: v.created, MaskedValue: v.masked, Fingerprint: v.fp,
			Current: i == len(s.versions)-1, Destroyed: v.destroyed}
	}
	return out, nil
}

func (m *memSecrets) VersionCiphertext(_ context.Context, u, id string, version int) (string, error) {
	if err := m.enter("VersionCiphertext"); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[u+"/"+id]
	if !ok || version < 1 || version > len(s.versions) || s.versions[version-1].destroyed {
		return "", notFound()
	}
	return s.versions[version-1].ct, nil
}

func (m *memSecrets) DeleteSecret(_ context.Context, u, id string) error {
	if err := m.enter("DeleteSecret"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.secrets[u+"/"+id]; !ok {
		return notFound()
	}
	delete(m.secrets, u+"/"+id)
	return nil
}

// namedSecrets adds NamedCiphertextStore; dropNames makes stored versions
// look like ones written before names were kept alongside.
type namedSecrets struct {
	*memSecrets
	dropNames bool
}

func (n *namedSecrets) NamedCiphertexts(_ context.Context, u string, ids []string) ([]NamedCiphertext, error) {
	if err := n.enter("NamedCiphertexts"); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]NamedCiphertext, len(ids))
	for i, id := range ids {
		s, ok := n.secrets[u+"/"+id]
		if !ok {
			return nil, notFound()
		}
		v := s.versions[len(s.versions)-1]
		out[i] = NamedCiphertext{Name: v.name, Ciphertext: v.ct}
		if n.dropNames {
			out[i].Name = ""
		}
	}
	return out, nil
}

// fakeCrypto binds ciphertexts to a user; decrypting another user's is forbidden.
type fakeCrypto struct{ faults }

func (c *fakeCrypto) Encrypt(_ context.Context, u string, p []byte) (string, error) {
	if err := c.enter("Encrypt"); err != nil {
		return "", err
	}
	return "vault:v1:" + u + ":" + base64.StdEncoding.EncodeToString(p), nil
}

func (c *fakeCrypto) DecryptBatch(_ context.Context, u string, cts []string) ([][]byte, error) {
	if err := c.enter("DecryptBatch"); err != nil {
		return nil, err
	}
	out := make([][]byte, len(cts))
	for i, ct := range cts {
		rest, ok := strings.CutPrefix(ct, "vault:v1:"+u+":")
		if !ok {
			return nil, Errorf(CodeForbidden, "ciphertext of another context")
		}
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, WithCode(CodeInternal, err, "bad ciphertext")
		}
		out[i] = b
	}
	return out, nil
}

func (c *fakeCrypto) Fingerprint(_ context.Context, u string, p []byte) (string, error) {
	if err := c.enter("Fingerprint"); err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte(u+"\x00"), p...))
	return "fp:" + hex.EncodeToString(sum[:8]), nil
}

// fakeBoot mints tokens and tracks which are alive (minted, not revoked).
type fakeBoot struct {
	faults
	mu     sync.Mutex
	now    func() time.Time
	live   map[string]map[string]string // accessor -> env
	audits []Audit
	minted int
}

func newFakeBoot(now func() time.Time) *fakeBoot {
	return &fakeBoot{now: now, live: map[string]map[string]string{}}
}

func (b *fakeBoot) Wrap(ctx context.Context, sbID string, env map[string]string, ttl time.Duration) (Wrapped, error) {
	if err := b.enter("Wrap"); err != nil {
		return Wrapped{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.minted++
	acc := "acc-" + sbID
	b.live[acc] = maps.Clone(env)
	b.audits = append(b.audits, AuditFrom(ctx))
	return Wrapped{Token: "hvs.token-" + sbID, Accessor: acc, CreationPath: b.CreationPath(sbID), ExpiresAt: b.now().Add(ttl)}, nil
}

func (b *fakeBoot) RevokeAccessor(_ context.Context, acc string) error {
	if err := b.enter("RevokeAccessor"); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.live, acc)
	return nil
}

func (b *fakeBoot) CreationPath(sbID string) string { return "kv/data/sandboxes/" + sbID }

func (b *fakeBoot) liveTokens() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.live)
}

func (b *fakeBoot) envOf(sbID string) map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live["acc-"+sbID]
}

// memRecords is a RecordStore; it fails the test if it is ever handed a
// bootstrap (which carries the token).
type memRecords struct {
	faults
	t         *testing.T
	mu        sync.Mutex
	runtimes  map[string]Runtime
	evals     map[string]Evaluation
	accessors map[string]string
}

func newMemRecords(t *testing.T) *memRecords {
	return &memRecords{t: t, runtimes: map[string]Runtime{}, evals: map[string]Evaluation{}, accessors: map[string]string{}}
}

func (r *memRecords) PutRuntime(_ context.Context, rt Runtime) error {
	if err := r.enter("PutRuntime"); err != nil {
		return err
	}
	if rt.Sandbox.Bootstrap != nil {
		r.t.Errorf("PutRuntime was handed a bootstrap")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runtimes[rt.UserID+"/"+rt.ID] = rt
	return nil
}

func (r *memRecords) GetRuntime(_ context.Context, u, id string) (Runtime, error) {
	if err := r.enter("GetRuntime"); err != nil {
		return Runtime{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rt, ok := r.runtimes[u+"/"+id]
	if !ok {
		return Runtime{}, ErrRuntimeNotFound
	}
	return rt, nil
}

func (r *memRecords) ListRuntimes(_ context.Context, u string) ([]Runtime, error) {
	if err := r.enter("ListRuntimes"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Runtime
	for k, rt := range r.runtimes {
		if strings.HasPrefix(k, u+"/") {
			out = append(out, rt)
		}
	}
	return out, nil
}

func (r *memRecords) DeleteRuntime(_ context.Context, u, id string) error {
	if err := r.enter("DeleteRuntime"); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.runtimes[u+"/"+id]; !ok {
		return ErrRuntimeNotFound
	}
	delete(r.runtimes, u+"/"+id)
	return nil
}

func (r *memRecords) PutEvaluation(_ context.Context, e Evaluation) error {
	if err := r.enter("PutEvaluation"); err != nil {
		return err
	}
	for _, it := range e.Items {
		if it.RuntimeSandbox.Bootstrap != nil || it.TaskSandbox.Bootstrap != nil {
			r.t.Errorf("PutEvaluation was handed a bootstrap")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evals[e.UserID+"/"+e.ID] = e
	return nil
}

func (r *memRecords) GetEvaluation(_ context.Context, u, id string) (Evaluation, error) {
	if err := r.enter("GetEvaluation"); err != nil {
		return Evaluation{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.evals[u+"/"+id]
	if !ok {
		return Evaluation{}, ErrEvaluationNotFound
	}
	return e, nil
}

func (r *memRecords) PutAccessor(_ context.Context, sbID, acc string, _ time.Duration) error {
	if err := r.enter("PutAccessor"); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accessors[sbID] = acc
	return nil
}

func (r *memRecords) TakeAccessor(_ context.Context, sbID string) (string, bool, error) {
	if err := r.enter("TakeAccessor"); err != nil {
		return "", false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	acc, ok := r.accessors[sbID]
	delete(r.accessors, sbID)
	return acc, ok, nil
}

// memCache is a ListCache with stamps: Put stores only when no Update or
// Invalidate happened since the Get that returned the stamp; Update
// changes the list in place only when the stamp and the list's tag are
// still current, else drops it.
type memCache struct {
	faults
	mu    sync.Mutex
	gen   map[string]int
	tags  map[string]int
	lists map[string][]Secret
}

func newMemCache() *memCache {
	return &memCache{gen: map[string]int{}, tags: map[string]int{}, lists: map[string][]Secret{}}
}

func (c *memCache) Get(_ context.Context, u string) ([]Secret, string, bool, error) {
	if err := c.enter("Get"); err != nil {
		return nil, "", false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.lists[u]; ok && c.tags[u] == c.gen[u] {
		return slices.Clone(l), fmt.Sprint(c.gen[u]), true, nil
	}
	return nil, fmt.Sprint(c.gen[u]), false, nil
}

func (c *memCache) Put(_ context.Context, u, stamp string, l []Secret) error {
	if err := c.enter("Put"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if stamp == fmt.Sprint(c.gen[u]) {
		c.lists[u] = slices.Clone(l)
		c.tags[u] = c.gen[u]
	}
	return nil
}

func (c *memCache) Stamp(_ context.Context, u string) (string, error) {
	if err := c.enter("Stamp"); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.gen[u]), nil
}

func (c *memCache) Update(_ context.Context, u, stamp string, ch ListChange) error {
	if err := c.enter("Update"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.lists[u]
	inPlace := ok && stamp == fmt.Sprint(c.gen[u]) && c.tags[u] == c.gen[u]
	c.gen[u]++
	if !inPlace {
		delete(c.lists, u)
		return nil
	}
	i := slices.IndexFunc(l, func(x Secret) bool { return x.ID == ch.Secret.ID })
	switch {
	case ch.Deleted && i >= 0:
		l = slices.Delete(l, i, i+1)
	case ch.Deleted:
	case i >= 0 && l[i].Version > ch.Secret.Version:
	default:
		if i >= 0 {
			l = slices.Delete(l, i, i+1)
		}
		l = append(l, ch.Secret)
		SortSecrets(l)
	}
	c.lists[u], c.tags[u] = l, c.gen[u]
	return nil
}

func (c *memCache) Invalidate(_ context.Context, u string) error {
	if err := c.enter("Invalidate"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen[u]++
	delete(c.lists, u)
	return nil
}

// countingObserver counts the service's events.
type countingObserver struct {
	mu                     sync.Mutex
	issued, revoked        int
	cacheHits, cacheMisses int
}

func (o *countingObserver) TokensIssued(n int) { o.mu.Lock(); o.issued += n; o.mu.Unlock() }
func (o *countingObserver) TokensRevoked(n int) {
	o.mu.Lock()
	o.revoked += n
	o.mu.Unlock()
}
func (o *countingObserver) ListCache(hit bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if hit {
		o.cacheHits++
	} else {
		o.cacheMisses++
	}
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// world is a Service over the fakes.
type world struct {
	svc     *Service
	secrets *memSecrets
	store   SecretStore
	crypto  *fakeCrypto
	boot    *fakeBoot
	records *memRecords
	cache   *memCache
	obs     *countingObserver
	clock   *clock
	warns   *[]string
}

func newWorld(t *testing.T, cfg Config, named bool) *world {
	t.Helper()
	w := &world{clock: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, obs: &countingObserver{}, warns: new([]string)}
	w.secrets = newMemSecrets(w.clock.Now)
	w.store = w.secrets
	if named {
		w.store = &namedSecrets{memSecrets: w.secrets}
	}
	w.crypto, w.boot, w.records, w.cache = &fakeCrypto{}, newFakeBoot(w.clock.Now), newMemRecords(t), newMemCache()
	var mu sync.Mutex
	cfg.Now, cfg.Observer = w.clock.Now, w.obs
	cfg.Warn = func(_ context.Context, component string, err error) {
		mu.Lock()
		defer mu.Unlock()
		*w.warns = append(*w.warns, component+": "+err.Error())
	}
	if cfg.SandboxVaultAddr == "" {
		cfg.SandboxVaultAddr = "https://vault.test:8200"
	}
	w.svc = NewService(cfg, Deps{Secrets: w.store, Crypto: w.crypto, Boot: w.boot, Records: w.records, Cache: w.cache})
	return w
}

// mustCreate creates a secret and returns it.
func (w *world) mustCreate(t *testing.T, user, name, value string) Secret {
	t.Helper()
	s, err := w.svc.CreateSecret(context.Background(), user, CreateSecretInput{Name: name, Value: value})
	if err != nil {
		t.Fatalf("CreateSecret(%s): %v", name, err)
	}
	return s
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, err error, code Code) {
	t.Helper()
	if ErrorCode(err) != code {
		t.Fatalf("error %v has code %q, want %q", err, ErrorCode(err), code)
	}
}
