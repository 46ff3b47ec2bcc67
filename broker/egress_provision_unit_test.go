package broker

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// memEgress is an EgressStore in memory.
type memEgress struct {
	faults
	mu           sync.Mutex
	sandboxes    map[string]SandboxEgress
	placeholders map[string]PlaceholderRecord
}

func newMemEgress() *memEgress {
	return &memEgress{sandboxes: map[string]SandboxEgress{}, placeholders: map[string]PlaceholderRecord{}}
}

func (m *memEgress) PutEgress(_ context.Context, sb SandboxEgress, ph map[string]PlaceholderRecord) error {
	if err := m.enter("PutEgress"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sandboxes[sb.SandboxID] = sb
	maps.Copy(m.placeholders, ph)
	return nil
}

func (m *memEgress) DeleteEgress(_ context.Context, sbID string, hashes []string) error {
	if err := m.enter("DeleteEgress"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sandboxes, sbID)
	for _, h := range hashes {
		delete(m.placeholders, h)
	}
	return nil
}

func (m *memEgress) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sandboxes) + len(m.placeholders)
}

// egressWorld is a world whose service has egress delivery configured.
func egressWorld(t *testing.T, def string) (*world, *memEgress) {
	w := newWorld(t, Config{}, true)
	eg := newMemEgress()
	w.svc = NewService(Config{Now: w.clock.Now, Observer: w.obs, SandboxVaultAddr: "https://vault.test:8200", DefaultDelivery: def,
		Egress: &EgressConfig{ProxyHost: "egress.test:3128", CAPEM: "-----BEGIN CERTIFICATE-----\n"}},
		Deps{Secrets: w.store, Crypto: w.crypto, Boot: w.boot, Records: w.records, Cache: w.cache, Egress: eg})
	return w, eg
}

func (w *world) mustCreateHosts(t *testing.T, user, name, value string, hosts ...string) Secret {
	t.Helper()
	s, err := w.svc.CreateSecret(context.Background(), user, CreateSecretInput{Name: name, Value: value, EgressHosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEgressProvisioning(t *testing.T) {
	bg := context.Background()
	w, eg := egressWorld(t, DeliveryEgress) // egress is the default here
	a := w.mustCreateHosts(t, alice, "OPENAI_API_KEY", "sk-proj-0123456789abcdefghijklmnopq", "api.openai.com")
	b := w.mustCreateHosts(t, alice, "OTHER", "short", "*.example.com", "api.openai.com")
	decrypts := w.crypto.count("DecryptBatch")
	rt, err := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{a.ID, b.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if w.crypto.count("DecryptBatch") != decrypts {
		t.Error("egress provisioning decrypted values")
	}
	sb := rt.Sandbox
	if sb.Delivery != DeliveryEgress || sb.Bootstrap.Delivery != DeliveryEgress || sb.Bootstrap.ProxyURL != "http://egress.test:3128" || len(sb.EgressTokenHashes) != 2 {
		t.Fatalf("sandbox %+v bootstrap %+v", sb, sb.Bootstrap)
	}
	env := w.boot.envOf(sb.ID)
	re := regexp.MustCompile(`^(.*)bph_[0-9A-Za-z]{32}$`)
	if m := re.FindStringSubmatch(env["OPENAI_API_KEY"]); m == nil || m[1] != "sk-p" {
		t.Errorf("OPENAI_API_KEY = %q", env["OPENAI_API_KEY"])
	}
	if m := re.FindStringSubmatch(env["OTHER"]); m == nil || m[1] != "" {
		t.Errorf("OTHER = %q", env["OTHER"])
	}
	for k, v := range env {
		if strings.Contains(v, "sk-proj-0123") || strings.Contains(v, "short") {
			t.Errorf("%s carries a value", k)
		}
	}
	if !strings.HasPrefix(env["HTTPS_PROXY"], "http://"+sb.ID+":") || !strings.HasSuffix(env["HTTPS_PROXY"], "@egress.test:3128") ||
		env["NO_PROXY"] != DefaultNoProxy || env[EgressCAKey] == "" {
		t.Errorf("bundle %v", env)
	}
	rec := eg.sandboxes[sb.ID]
	if rec.RuntimeID != rt.ID || rec.UserID != alice || strings.Join(rec.Hosts, ",") != "api.openai.com,*.example.com" ||
		!rec.ExpiresAt.Equal(w.clock.Now().Add(DefaultEgressLifetime)) {
		t.Errorf("sandbox record %+v", rec)
	}
	// The stored runtime remembers the hashes (hidden from the API).
	enc, err := EncodeRuntime(rt)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeRuntime(enc)
	if err != nil || strings.Join(dec.Sandbox.EgressTokenHashes, ",") != strings.Join(sb.EgressTokenHashes, ",") {
		t.Fatalf("record round trip %v, %v", dec.Sandbox.EgressTokenHashes, err)
	}
	api, _ := json.Marshal(rt)
	for _, h := range sb.EgressTokenHashes {
		if strings.Contains(string(api), h) {
			t.Fatal("the API shows a token hash")
		}
	}

	// Restart keeps the delivery; the old records go.
	r2, err := w.svc.RestartRuntime(bg, alice, rt.ID, nil)
	if err != nil || r2.Sandbox.Delivery != DeliveryEgress {
		t.Fatalf("restart: %+v, %v", r2.Sandbox, err)
	}
	if _, ok := eg.sandboxes[sb.ID]; ok || eg.size() != 3 {
		t.Fatalf("after restart: %d records, old present %t", eg.size(), ok)
	}
	// A delete whose record removal fails fails and keeps the runtime; the retry works.
	eg.setHook(failOn(Errorf(CodeUnavailable, "vault down"), "DeleteEgress"))
	wantCode(t, w.svc.DeleteRuntime(bg, alice, rt.ID), CodeUnavailable)
	if _, err := w.svc.GetRuntime(bg, alice, rt.ID); err != nil {
		t.Fatalf("the runtime is gone after a failed delete: %v", err)
	}
	eg.setHook(nil)
	if err := w.svc.DeleteRuntime(bg, alice, rt.ID); err != nil || eg.size() != 0 {
		t.Fatalf("delete: %v, %d records left", err, eg.size())
	}

	// env delivery asked explicitly: values, no records.
	rt3, err := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{a.ID}, Delivery: DeliveryEnv})
	if err != nil || rt3.Sandbox.Delivery != DeliveryEnv || w.boot.envOf(rt3.Sandbox.ID)["OPENAI_API_KEY"] != "sk-proj-0123456789abcdefghijklmnopq" || eg.size() != 0 {
		t.Fatalf("env runtime: %+v, %v", rt3.Sandbox, err)
	}
}

func TestEgressProvisioningFailuresLeaveNoRecords(t *testing.T) {
	bg := context.Background()
	boom := Errorf(CodeUnavailable, "down")
	for _, tc := range []struct {
		name  string
		setup func(w *world, eg *memEgress)
	}{
		{"wrap fails", func(w *world, _ *memEgress) { w.boot.setHook(failOn(boom, "Wrap")) }},
		{"runtime not saved", func(w *world, _ *memEgress) { w.records.setHook(failOn(boom, "PutRuntime")) }},
		{"records not written", func(_ *world, eg *memEgress) { eg.setHook(failOn(boom, "PutEgress")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, eg := egressWorld(t, DeliveryEnv)
			a := w.mustCreateHosts(t, alice, "A", "value-a", "a.example.com")
			tc.setup(w, eg)
			_, err := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{a.ID}, Delivery: DeliveryEgress})
			if !errors.Is(err, boom) && ErrorCode(err) != CodeUnavailable {
				t.Fatalf("err %v", err)
			}
			if eg.size() != 0 || w.boot.liveTokens() != 0 {
				t.Fatalf("left %d records, %d live tokens", eg.size(), w.boot.liveTokens())
			}
			_, err = w.svc.CreateEvaluation(bg, alice, EvaluationInput{ProjectID: "p", SecretIDs: []string{a.ID}, Items: []string{"x", "y"}, Delivery: DeliveryEgress})
			if err == nil && tc.name != "runtime not saved" {
				t.Fatal("evaluation succeeded")
			}
			if err != nil && (eg.size() != 0 || w.boot.liveTokens() != 0) {
				t.Fatalf("evaluation left %d records, %d live tokens", eg.size(), w.boot.liveTokens())
			}
		})
	}
}

func TestEgressRefusals(t *testing.T) {
	bg := context.Background()
	w, eg := egressWorld(t, DeliveryEnv)
	a := w.mustCreateHosts(t, alice, "A", "value-a", "a.example.com")
	n := w.mustCreate(t, alice, "NO_HOSTS", "value-n")
	_, err := w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{a.ID, n.ID}, Delivery: DeliveryEgress})
	var be *Error
	if !errors.As(err, &be) || be.Code != CodeInvalid || len(be.Fields) != 1 || be.Fields[0].Field != "secret_ids[1]" || !strings.Contains(be.Fields[0].Message, "NO_HOSTS") {
		t.Fatalf("no hosts: %v", err)
	}
	// The field names the index in the request as sent, duplicates included.
	_, err = w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{a.ID, a.ID, n.ID}, Delivery: DeliveryEgress})
	if !errors.As(err, &be) || len(be.Fields) != 1 || be.Fields[0].Field != "secret_ids[2]" {
		t.Fatalf("no hosts after a duplicate: %v", err)
	}
	_, err = w.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p", Delivery: "pigeon"})
	wantCode(t, err, CodeInvalid)
	// Without egress configured.
	plain := newWorld(t, Config{}, true)
	s := plain.mustCreate(t, alice, "A", "v")
	_, err = plain.svc.CreateRuntime(bg, alice, RuntimeInput{ProjectID: "p", SecretIDs: []string{s.ID}, Delivery: DeliveryEgress})
	if !errors.As(err, &be) || be.Code != CodeInvalid || be.Fields[0].Field != "delivery" {
		t.Fatalf("egress not configured: %v", err)
	}
	if eg.size() != 0 || w.boot.liveTokens() != 0 {
		t.Fatal("a refusal left something")
	}
}
