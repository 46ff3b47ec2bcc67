package helm

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// envOf maps a container's env names to their values.
func envOf(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

// mountFor returns the mount whose directory holds the file path, and the
// volume behind it.
func mountFor(t *testing.T, spec corev1.PodSpec, c corev1.Container, path string) (corev1.VolumeMount, corev1.Volume) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			for _, v := range spec.Volumes {
				if v.Name == m.Name {
					return m, v
				}
			}
			t.Fatalf("mount %s names no volume", m.Name)
		}
	}
	t.Fatalf("%s is on no volume mount of %s: %+v", path, c.Name, c.VolumeMounts)
	return corev1.VolumeMount{}, corev1.Volume{}
}

// volumeItems is the source object (kind, name) and its keys projected as
// file names of a Secret or ConfigMap volume.
func volumeItems(v corev1.Volume) (kind, name string, items map[string]string) {
	items = map[string]string{}
	var ks []corev1.KeyToPath
	switch {
	case v.Secret != nil:
		kind, name, ks = "Secret", v.Secret.SecretName, v.Secret.Items
	case v.ConfigMap != nil:
		kind, name, ks = "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Items
	}
	for _, k := range ks {
		items[k.Path] = k.Key
	}
	return kind, name, items
}

// TestEgressdDeployment: `egressd serve` with the listen and admin
// addresses, the Vault settings under egressd's names, its AppRole and the
// interception CA read from read-only Secret/ConfigMap volumes, and HTTP
// probes on the admin port; a PodDisruptionBudget with 2 replicas.
func TestEgressdDeployment(t *testing.T) {
	objs, err := render(load(t), everything)
	if err != nil {
		t.Fatal(err)
	}
	d := find[*appsv1.Deployment](t, objs, "Deployment", "-egressd")
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("containers %+v", spec.Containers)
	}
	c := spec.Containers[0]
	if strings.Join(c.Command, " ") != "/usr/local/bin/egressd" || strings.Join(c.Args, " ") != "serve" {
		t.Errorf("command %q args %q, want /usr/local/bin/egressd serve", c.Command, c.Args)
	}
	env := envOf(c)
	want := map[string]string{
		"EGRESS_LISTEN_ADDR":          "0.0.0.0:3128",
		"EGRESS_ADMIN_ADDR":           "0.0.0.0:3129",
		"VAULT_ADDR":                  "http://vault-active.vault.svc:8200",
		"BROKER_KV_MOUNT":             "broker",
		"BROKER_TRANSIT_MOUNT":        "transit",
		"BROKER_TRANSIT_KEY":          "broker-secrets",
		"EGRESS_INTERCEPT":            "placeholders",
		"EGRESS_DEFAULT_DENY":         "false",
		"EGRESS_VALUE_TTL":            "30s",
		"EGRESS_RECORD_TTL":           "5s",
		"EGRESS_VAULT_ROLE_ID_FILE":   "",
		"EGRESS_VAULT_SECRET_ID_FILE": "",
		"EGRESS_CA_CERT":              "",
		"EGRESS_CA_KEY":               "",
	}
	for k, v := range want {
		got, ok := env[k]
		if !ok || (v != "" && got != v) || got == "" {
			t.Errorf("env %s = %q (set %v), want %q (empty: any value)", k, got, ok, v)
		}
	}
	for _, k := range []string{"VAULT_TOKEN", "EGRESS_UPSTREAM_CA", "EGRESS_ALLOW_HOSTS", "EGRESS_RESOLVE"} {
		if _, ok := env[k]; ok {
			t.Errorf("env %s set by default", k)
		}
	}

	// Every credential file is on a read-only mount of the right object.
	files := map[string]struct{ kind, name, key string }{
		"EGRESS_VAULT_ROLE_ID_FILE":   {"Secret", "secretsbroker-egressd-approle", "role_id"},
		"EGRESS_VAULT_SECRET_ID_FILE": {"Secret", "secretsbroker-egressd-approle", "secret_id"},
		"EGRESS_CA_CERT":              {"ConfigMap", "secretsbroker-egress-ca", "ca.crt"},
		"EGRESS_CA_KEY":               {"Secret", "secretsbroker-egress-ca-key", "ca.key"},
	}
	for envName, w := range files {
		path := env[envName]
		m, v := mountFor(t, spec, c, path)
		if !m.ReadOnly {
			t.Errorf("%s: mount %s is not read-only", envName, m.Name)
		}
		kind, name, items := volumeItems(v)
		file := strings.TrimPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
		if kind != w.kind || name != w.name || items[file] != w.key {
			t.Errorf("%s (%s): from %s %s items %v, want %s %s key %s", envName, path, kind, name, items, w.kind, w.name, w.key)
		}
		if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o400) {
			t.Errorf("%s: Secret volume mode %v, want 0400", envName, v.Secret.DefaultMode)
		}
	}

	// Probes: HTTP on the admin port's /readyz and /healthz.
	adminPort := ""
	for _, p := range c.Ports {
		if p.ContainerPort == 3129 {
			adminPort = p.Name
		}
	}
	if adminPort == "" {
		t.Fatalf("no container port 3129: %+v", c.Ports)
	}
	for name, pw := range map[string]struct {
		p    *corev1.Probe
		path string
	}{"readiness": {c.ReadinessProbe, "/readyz"}, "liveness": {c.LivenessProbe, "/healthz"}} {
		p := pw.p
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != pw.path ||
			(p.HTTPGet.Port != intstr.FromString(adminPort) && p.HTTPGet.Port != intstr.FromInt32(3129)) {
			t.Errorf("%s probe %+v, want GET %s on the admin port", name, p, pw.path)
		}
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("security context %+v", sc)
	}

	pdb := find[*policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", "-egressd")
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 ||
		pdb.Spec.Selector.MatchLabels["app.kubernetes.io/component"] != "egressd" {
		t.Errorf("egressd PodDisruptionBudget %+v", pdb.Spec)
	}
}

// egressdOptions sets every optional egressd setting.
var egressdOptions = map[string]any{"egressd": map[string]any{
	"enabled": true, "replicas": 1, "intercept": "all", "defaultDeny": true,
	"allowHosts": "pypi.org,*.pythonhosted.org", "valueTTL": "10s", "recordTTL": "2s",
	"upstreamCA": map[string]any{"configMap": "corp-roots"},
	"approle":    map[string]any{"roleId": "11111111-2222-3333-4444-555555555555"},
}}

// TestEgressdOptions: the optional settings reach egressd's env; role_id
// from values goes through a ConfigMap; one replica renders no
// PodDisruptionBudget.
func TestEgressdOptions(t *testing.T) {
	objs, err := render(load(t), egressdOptions)
	if err != nil {
		t.Fatal(err)
	}
	d := find[*appsv1.Deployment](t, objs, "Deployment", "-egressd")
	c := d.Spec.Template.Spec.Containers[0]
	env := envOf(c)
	for k, v := range map[string]string{"EGRESS_INTERCEPT": "all", "EGRESS_DEFAULT_DENY": "true",
		"EGRESS_ALLOW_HOSTS": "pypi.org,*.pythonhosted.org", "EGRESS_VALUE_TTL": "10s", "EGRESS_RECORD_TTL": "2s"} {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	m, v := mountFor(t, d.Spec.Template.Spec, c, env["EGRESS_UPSTREAM_CA"])
	if kind, name, _ := volumeItems(v); !m.ReadOnly || kind != "ConfigMap" || name != "corp-roots" {
		t.Errorf("EGRESS_UPSTREAM_CA from %s %s (read-only %v)", kind, name, m.ReadOnly)
	}
	_, v = mountFor(t, d.Spec.Template.Spec, c, env["EGRESS_VAULT_ROLE_ID_FILE"])
	cm := find[*corev1.ConfigMap](t, objs, "ConfigMap", "-egressd-approle")
	if v.ConfigMap == nil || v.ConfigMap.Name != cm.Name || cm.Data["role_id"] != "11111111-2222-3333-4444-555555555555" {
		t.Errorf("role_id volume %+v, ConfigMap %+v", v, cm.Data)
	}
	for _, o := range objs {
		if o.kind == "PodDisruptionBudget" && strings.HasSuffix(o.name, "-egressd") {
			t.Errorf("a PodDisruptionBudget for one egressd replica")
		}
	}
}

// TestBrokerdEgressSettings: with egressd on, brokerd gets the Service's URL
// and a volume holding the CA certificate alone, from the ConfigMap, never
// the key's Secret; with egressd off, neither.
func TestBrokerdEgressSettings(t *testing.T) {
	objs, err := render(load(t), everything)
	if err != nil {
		t.Fatal(err)
	}
	d := find[*appsv1.Deployment](t, objs, "Deployment", "-brokerd")
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	env := envOf(c)
	svc := find[*corev1.Service](t, objs, "Service", "-egressd")
	wantURL := "http://" + svc.Name + ".broker.svc:3128"
	if env["BROKER_EGRESS_PROXY_URL"] != wantURL || svc.Spec.Ports[0].Port != 3128 {
		t.Errorf("BROKER_EGRESS_PROXY_URL %q, want %q", env["BROKER_EGRESS_PROXY_URL"], wantURL)
	}
	m, v := mountFor(t, spec, c, env["BROKER_EGRESS_CA_CERT"])
	kind, name, items := volumeItems(v)
	if !m.ReadOnly || kind != "ConfigMap" || name != "secretsbroker-egress-ca" || len(items) != 1 || items["ca.crt"] != "ca.crt" {
		t.Errorf("BROKER_EGRESS_CA_CERT from %s %s items %v (read-only %v), want the ConfigMap's ca.crt alone", kind, name, items, m.ReadOnly)
	}
	for _, v := range spec.Volumes {
		if _, n, _ := volumeItems(v); n == "secretsbroker-egress-ca-key" {
			t.Errorf("brokerd mounts the egress CA key's Secret (volume %s)", v.Name)
		}
		if v.Projected != nil || v.Secret != nil && len(v.Secret.Items) == 0 {
			t.Errorf("volume %s mounts a whole Secret or several objects: %+v", v.Name, v)
		}
	}
	for k := range env {
		if strings.Contains(k, "EGRESS_CA_KEY") {
			t.Errorf("brokerd env %s", k)
		}
	}

	off, err := render(load(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	od := find[*appsv1.Deployment](t, off, "Deployment", "-brokerd")
	oenv := envOf(od.Spec.Template.Spec.Containers[0])
	if _, ok := oenv["BROKER_EGRESS_PROXY_URL"]; ok {
		t.Errorf("egressd off, yet BROKER_EGRESS_PROXY_URL is set")
	}
	if _, ok := oenv["BROKER_EGRESS_CA_CERT"]; ok {
		t.Errorf("egressd off, yet BROKER_EGRESS_CA_CERT is set")
	}
}

// TestEgressdNetworkPolicy: only sandboxes reach egressd's proxy port;
// egressd reaches Vault's namespace, DNS, and port 443 anywhere.
func TestEgressdNetworkPolicy(t *testing.T) {
	objs, err := render(load(t), everything)
	if err != nil {
		t.Fatal(err)
	}
	np := find[*networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", "-egressd")
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 1 ||
		np.Spec.Ingress[0].From[0].PodSelector.MatchLabels["secretsbroker.acme.dev/sandbox"] != "true" ||
		len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.String() != "proxy" {
		t.Errorf("ingress %+v, want sandboxes to the proxy port only", np.Spec.Ingress)
	}
	types := strings.Join(func() []string {
		var s []string
		for _, p := range np.Spec.PolicyTypes {
			s = append(s, string(p))
		}
		return s
	}(), ",")
	if types != "Ingress,Egress" {
		t.Fatalf("policy types %s", types)
	}
	vault, dns, https := false, false, false
	for _, r := range np.Spec.Egress {
		for _, to := range r.To {
			if to.NamespaceSelector != nil && to.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "vault" {
				vault = true
			}
		}
		if len(r.To) == 0 {
			for _, p := range r.Ports {
				switch p.Port.IntValue() {
				case 53:
					dns = true
				case 443:
					https = true
				default:
					t.Errorf("egress to any host on port %s", p.Port.String())
				}
			}
		}
	}
	if !vault || !dns || !https {
		t.Errorf("egress rules %+v: vault %v dns %v 443 %v", np.Spec.Egress, vault, dns, https)
	}
}
