// Package helm tests the Helm chart in secretsbroker/: it renders the chart with
// helm's own Go packages and strictly decodes every rendered object into the real
// Kubernetes API types (k8s.io/api), so a misspelt or misplaced field fails. A
// module of its own, so that helm and Kubernetes stay out of the product's module.
package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/yaml"
)

const chartDir = "secretsbroker"

// object is one rendered Kubernetes object, decoded strictly into its type.
type object struct {
	source string
	kind   string
	name   string
	value  any
}

// typed returns an empty value of the API type of kind.
func typed(kind string) (any, error) {
	switch kind {
	case "Deployment":
		return &appsv1.Deployment{}, nil
	case "Service":
		return &corev1.Service{}, nil
	case "ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "Pod":
		return &corev1.Pod{}, nil
	case "PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	}
	return nil, fmt.Errorf("kind %q is not one the chart may render", kind)
}

// render renders c with vals and decodes every object strictly.
func render(c *chart.Chart, vals map[string]any) ([]object, error) {
	rv, err := chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{Name: "t", Namespace: "broker", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	out, err := engine.Render(c, rv)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []object
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue
		}
		for _, doc := range strings.Split(out[n], "\n---") {
			if strings.TrimSpace(doc) == "" || isComments(doc) {
				continue
			}
			o, err := decode(n, doc)
			if err != nil {
				return nil, err
			}
			objs = append(objs, o)
		}
	}
	return objs, nil
}

func isComments(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// decode converts one YAML document to JSON and decodes it into its API type
// with unknown fields refused.
func decode(source, doc string) (object, error) {
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return object{}, fmt.Errorf("%s: not YAML: %w", source, err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(j, &head); err != nil {
		return object{}, fmt.Errorf("%s: %w", source, err)
	}
	v, err := typed(head.Kind)
	if err != nil {
		return object{}, fmt.Errorf("%s: %w", source, err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return object{}, fmt.Errorf("%s (%s %s): %w", source, head.Kind, head.Metadata.Name, err)
	}
	return object{source: source, kind: head.Kind, name: head.Metadata.Name, value: v}, nil
}

func load(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

// everything turns every optional part on.
var everything = map[string]any{
	"egressd":        map[string]any{"enabled": true},
	"sandboxExample": map[string]any{"enabled": true},
}

func find[T any](t *testing.T, objs []object, kind, suffix string) T {
	t.Helper()
	for _, o := range objs {
		if o.kind == kind && strings.HasSuffix(o.name, suffix) {
			return o.value.(T)
		}
	}
	var zero T
	t.Fatalf("no %s named *%s rendered", kind, suffix)
	return zero
}

// TestChartRendersStrict: the defaults and every optional part render, and
// every object decodes strictly into its Kubernetes API type.
func TestChartRendersStrict(t *testing.T) {
	c := load(t)
	for name, vals := range map[string]map[string]any{"defaults": {}, "everything": everything, "egressd options": egressdOptions,
		"redis url": {"redis": map[string]any{"sentinel": map[string]any{"addrs": ""}, "urlSecret": map[string]any{"name": "redis"}}}} {
		objs, err := render(c, vals)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		kinds := map[string]int{}
		for _, o := range objs {
			kinds[o.kind]++
		}
		t.Logf("%s: %v", name, kinds)
		if name == "defaults" && (kinds["Pod"] != 0 || kinds["Deployment"] != 1) {
			t.Errorf("defaults render egressd or the sandbox example: %v", kinds)
		}
		if name == "everything" && (kinds["Pod"] != 1 || kinds["Deployment"] != 2 || kinds["NetworkPolicy"] != 2 || kinds["PodDisruptionBudget"] != 2) {
			t.Errorf("everything: %v", kinds)
		}
	}
}

// TestBrokerdDeployment: 3 replicas, probes on /readyz and /healthz, the
// AppRole secret_id from a Secret, resources, non-root, read-only root
// filesystem; a PodDisruptionBudget over the same pods.
func TestBrokerdDeployment(t *testing.T) {
	objs, err := render(load(t), everything)
	if err != nil {
		t.Fatal(err)
	}
	d := find[*appsv1.Deployment](t, objs, "Deployment", "-brokerd")
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", d.Spec.Replicas)
	}
	ctr := d.Spec.Template.Spec.Containers[0]
	if p := ctr.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want GET /readyz", p)
	}
	if p := ctr.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want GET /healthz", p)
	}
	if ctr.Resources.Limits.Memory().IsZero() || ctr.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %+v", ctr.Resources)
	}
	sc := ctr.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("security context %+v", sc)
	}
	env := map[string]string{}
	for _, e := range ctr.Env {
		env[e.Name] = e.Value
	}
	var secretVol *corev1.SecretVolumeSource
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			secretVol = v.Secret
		}
	}
	if secretVol == nil || secretVol.SecretName != "secretsbroker-approle" || env["BROKER_VAULT_SECRET_ID_FILE"] == "" {
		t.Errorf("the AppRole secret_id is not read from a Secret volume: %+v, env %v", secretVol, env)
	}
	if env["REDIS_SENTINEL_ADDRS"] == "" || env["REDIS_MASTER_NAME"] == "" {
		t.Errorf("Redis through Sentinel not configured: %v", env)
	}
	// GOMAXPROCS matches the CPU limit in whole CPUs (Go would round a limit of 1 up to 2 Ps).
	if lim := ctr.Resources.Limits.Cpu().Value(); env["GOMAXPROCS"] != strconv.FormatInt(lim, 10) {
		t.Errorf("GOMAXPROCS %q with a CPU limit of %d", env["GOMAXPROCS"], lim)
	}
	pdb := find[*policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", "-brokerd")
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 ||
		pdb.Spec.Selector.MatchLabels["app.kubernetes.io/component"] != "brokerd" {
		t.Errorf("PodDisruptionBudget %+v", pdb.Spec)
	}
}

// TestSandboxExample: sandbox-init is the init container and writes the env
// file into a memory-backed emptyDir shared with the workload.
func TestSandboxExample(t *testing.T) {
	objs, err := render(load(t), everything)
	if err != nil {
		t.Fatal(err)
	}
	p := find[*corev1.Pod](t, objs, "Pod", "-sandbox-example")
	if len(p.Spec.InitContainers) != 1 || !strings.Contains(strings.Join(p.Spec.InitContainers[0].Command, " "), "sandbox-init write --out /run/env/") {
		t.Fatalf("init containers %+v", p.Spec.InitContainers)
	}
	mem := false
	for _, v := range p.Spec.Volumes {
		if v.Name == "env" && v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory {
			mem = true
		}
	}
	if !mem {
		t.Errorf("the env file's volume is not a memory-backed emptyDir: %+v", p.Spec.Volumes)
	}
	np := find[*networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", "-egressd")
	if np.Spec.Ingress[0].From[0].PodSelector.MatchLabels["secretsbroker.acme.dev/sandbox"] != "true" ||
		p.Labels["secretsbroker.acme.dev/sandbox"] != "true" {
		t.Errorf("egressd is not restricted to sandboxes, or the example is not one")
	}
}

// TestMisspeltFieldFails: the strict decoding is what catches a misspelt
// field: the chart with "readinessProbe" misspelt fails to validate.
func TestMisspeltFieldFails(t *testing.T) {
	c := load(t)
	n := 0
	for _, f := range c.Templates {
		if strings.HasSuffix(f.Name, "brokerd-deployment.yaml") {
			f.Data = bytes.Replace(f.Data, []byte("readinessProbe:"), []byte("readinesProbe:"), 1)
			n++
		}
	}
	if n != 1 {
		t.Fatal("brokerd-deployment.yaml not found")
	}
	_, err := render(c, nil)
	if err == nil || !strings.Contains(err.Error(), "readinesProbe") {
		t.Fatalf("a misspelt field rendered and decoded: %v", err)
	}
	t.Logf("refused as wanted: %v", err)
}
