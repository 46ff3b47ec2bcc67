package deploy

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of docker-compose.yml the tests read.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	Entrypoint  []string       `yaml:"entrypoint"`
	Command     any            `yaml:"command"`
	User        string         `yaml:"user"`
	Restart     string         `yaml:"restart"`
	Volumes     []string       `yaml:"volumes"`
	DependsOn   map[string]dep `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

type dep struct {
	Condition string `yaml:"condition"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// command returns a service's entrypoint and command as one string.
func (s composeService) command() string {
	out := strings.Join(s.Entrypoint, " ")
	switch c := s.Command.(type) {
	case string:
		out += " " + c
	case []any:
		for _, a := range c {
			out += " " + a.(string)
		}
	}
	return out
}

// docker-compose.yml hangs together: every service has an image, every dependency and
// named volume exists, and each dependency's condition is one compose knows.
func TestComposeFileIsConsistent(t *testing.T) {
	c := loadCompose(t)
	if len(c.Services) == 0 {
		t.Fatal("no services")
	}
	for name, s := range c.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s has neither image nor build", name)
		}
		for d, cond := range s.DependsOn {
			if _, ok := c.Services[d]; !ok {
				t.Errorf("service %s depends on %s, which does not exist", name, d)
			}
			if !slices.Contains([]string{"service_started", "service_healthy", "service_completed_successfully"}, cond.Condition) {
				t.Errorf("service %s: depends_on %s has condition %q", name, d, cond.Condition)
			}
			if cond.Condition == "service_healthy" && c.Services[d].Healthcheck == nil {
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, d)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				continue // bind mount
			}
			if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s mounts volume %s, which is not declared", name, src)
			}
		}
	}
}

// What issue 12 found wrong with docker-compose.yml stays fixed: Vault is unsealed again
// after a restart, brokerd's healthcheck is /readyz, Vault has a file audit device on a
// volume, and the example sandbox can read a token file of the invoking user.
func TestComposeSurvivesRestartsAndAudits(t *testing.T) {
	c := loadCompose(t)
	svc := func(name string) composeService {
		s, ok := c.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		return s
	}
	restarts := func(s composeService) bool { return s.Restart == "unless-stopped" || s.Restart == "always" }

	vault := svc("vault")
	if !restarts(vault) {
		t.Errorf("vault has restart %q: it does not come back after a crash or reboot", vault.Restart)
	}
	unseal := svc("vault-unseal")
	if !restarts(unseal) || !strings.Contains(unseal.command(), "vault-init.sh --watch") {
		t.Errorf("vault-unseal (restart %q, %q) does not keep unsealing Vault after restarts", unseal.Restart, unseal.command())
	}
	if unseal.Healthcheck == nil || !slices.Contains(unseal.Healthcheck.Test, "status") {
		t.Error("vault-unseal has no healthcheck on vault status (unsealed)")
	}
	if d := svc("setup").DependsOn["vault-unseal"]; d.Condition != "service_healthy" {
		t.Errorf("setup waits for vault-unseal with %q, want service_healthy", d.Condition)
	}

	broker := svc("brokerd")
	if broker.Healthcheck == nil || !strings.Contains(strings.Join(broker.Healthcheck.Test, " "), "/readyz") {
		t.Errorf("brokerd's healthcheck is not /readyz: %+v", broker.Healthcheck)
	}
	if !restarts(broker) || !restarts(svc("redis")) {
		t.Error("brokerd and redis must restart unless stopped")
	}

	setup := svc("setup").command()
	i := strings.Index(setup, "--audit-file ")
	if i < 0 {
		t.Fatalf("setup enables no audit device: %s", setup)
	}
	auditFile := strings.Fields(setup[i+len("--audit-file "):])[0]
	auditDir := auditFile[:strings.LastIndex(auditFile, "/")]
	onVolume := false
	for _, v := range vault.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == auditDir && !strings.HasPrefix(parts[0], ".") {
			onVolume = true
		}
	}
	if !onVolume {
		t.Errorf("the audit file %s is not on a named volume of the vault service", auditFile)
	}

	sandbox := svc("sandbox")
	if !strings.Contains(sandbox.User, "SANDBOX_UID") {
		t.Errorf("the example sandbox runs as %q: a 0600 token file of the invoking user is unreadable (want user: ${SANDBOX_UID:-...})", sandbox.User)
	}
}

// With a compose implementation installed the file must pass its validation too: docker
// compose (v2), else docker-compose (v1, Debian's package), which predates the top-level
// "name" and so gets the file without it. Without either this test is skipped; the
// structure tests above still run.
func TestComposeConfigValidates(t *testing.T) {
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"--project-directory", "..", "-f", "-", "--profile", "example", "config", "-q"}
	if err := exec.Command("docker", "compose", "version").Run(); err == nil {
		cmd = exec.CommandContext(ctx, "docker", append([]string{"compose"}, args...)...)
	} else if _, err := exec.LookPath("docker-compose"); err == nil {
		var kept []string
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "name:") {
				kept = append(kept, line)
			}
		}
		b = []byte(strings.Join(kept, "\n"))
		cmd = exec.CommandContext(ctx, "docker-compose", args...)
	} else {
		t.Skip("neither docker compose nor docker-compose is installed")
	}
	cmd.Stdin = strings.NewReader(string(b))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}
