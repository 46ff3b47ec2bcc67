package envfile

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shells lists the POSIX shells to source env files with: /bin/sh always,
// plus bash and dash when installed.
func shells(t testing.TB) []string {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatalf("no /bin/sh: %v", err)
	}
	list := []string{"/bin/sh"}
	for _, name := range []string{"bash", "dash"} {
		if p, err := exec.LookPath(name); err == nil {
			list = append(list, p)
		}
	}
	return list
}

// sourceEnv encodes env into a file, sources it with `set -a; . FILE` in sh
// and returns the environment the shell then exports (read with env -0).
func sourceEnv(t testing.TB, sh string, env map[string]string) map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "env")
	var buf bytes.Buffer
	if err := Encode(&buf, env); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o400); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(sh, "-c", `set -a; . "$1" || exit 99; exec env -0`, "sh", path)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s sourcing the file: %v: %s", sh, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Fatalf("%s printed to stderr while sourcing: %q", sh, stderr.String())
	}
	got := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(stdout.String(), "\x00"), "\x00") {
		if name, value, ok := strings.Cut(kv, "="); ok {
			got[name] = value
		}
	}
	return got
}

func assertRoundTrip(t testing.TB, sh string, env map[string]string) {
	t.Helper()
	got := sourceEnv(t, sh, env)
	for name, want := range env {
		v, ok := got[name]
		if !ok {
			t.Errorf("%s: %s not exported", sh, name)
			continue
		}
		if v != want {
			t.Errorf("%s: %s = %q, want %q", sh, name, v, want)
		}
	}
}
