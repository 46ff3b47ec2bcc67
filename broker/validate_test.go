package broker

import (
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	v := NewValidator(Limits{}, nil)
	ok := []string{"OPENAI_API_KEY", "_X", "a", "GITHUB_TOKEN", strings.Repeat("A", 128), "PATHX", "MY_PATH", "HOMEDIR"}
	for _, n := range ok {
		if m := v.CheckName(n); m != "" {
			t.Errorf("CheckName(%q) = %q, want ok", n, m)
		}
	}
	bad := []string{"", "1ABC", "A-B", "A B", "Ä", strings.Repeat("A", 129), "PATH", "path", "HOME", "SHELL", "IFS", "ENV",
		"BASH_ENV", "LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "PYTHONPATH", "PYTHONSTARTUP",
		"NODE_OPTIONS", "PERL5OPT", "RUBYOPT", "JAVA_TOOL_OPTIONS", "VAULT_TOKEN", "VAULT_ADDR", "BROKER_API_KEY", "broker_x"}
	for _, n := range bad {
		if m := v.CheckName(n); m == "" {
			t.Errorf("CheckName(%q) accepted a name it must refuse", n)
		}
	}
	custom := NewValidator(Limits{}, []string{"SECRET_*", "FOO"})
	if custom.CheckName("SECRET_X") == "" || custom.CheckName("FOO") == "" || custom.CheckName("OPENAI_API_KEY") != "" {
		t.Error("configured denied names not applied")
	}
	// The configured names add to the built-in ones, never replace them.
	for _, n := range []string{"PATH", "LD_PRELOAD", "VAULT_TOKEN", "BROKER_API_KEY"} {
		if custom.CheckName(n) == "" {
			t.Errorf("with extra denied names, built-in %s is accepted", n)
		}
	}
}

func TestCheckValue(t *testing.T) {
	v := NewValidator(Limits{MaxValueBytes: 10}, nil)
	for _, s := range []string{"x", "0123456789", "a\nb", "ünï"} {
		if m := v.CheckValue(s); m != "" {
			t.Errorf("CheckValue(len %d) = %q", len(s), m)
		}
	}
	for _, s := range []string{"", "01234567890", "a\x00b", "\xff\xfe"} {
		m := v.CheckValue(s)
		if m == "" {
			t.Errorf("CheckValue(%q) accepted", s)
		}
		if s != "" && strings.Contains(m, s) {
			t.Errorf("message %q quotes the value", m)
		}
	}
	if NewValidator(Limits{}, nil).Limits().MaxValueBytes != 64<<10 {
		t.Error("default value limit is not 64 KiB")
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !ValidID(id) || seen[id] {
			t.Fatalf("NewID() = %q: invalid or repeated", id)
		}
		seen[id] = true
	}
	k := NewAPIKeySecret()
	if !strings.HasPrefix(k, APIKeyPrefix) || len(HashAPIKey(k)) != 64 || HashAPIKey(k) == HashAPIKey(NewAPIKeySecret()) {
		t.Fatal("API key generation or hashing is wrong")
	}
	for _, s := range []string{"", "../x", "a/b", strings.Repeat("a", 129), " x"} {
		if ValidIdent(s) {
			t.Errorf("ValidIdent(%q) = true", s)
		}
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"OPENAI_API_KEY", "LD_PRELOAD", "", "a\x00", "1x", "ÄÖ"} {
		f.Add(s, s)
	}
	v := NewValidator(Limits{}, nil)
	f.Fuzz(func(t *testing.T, name, value string) {
		if v.CheckName(name) == "" {
			if !nameRE.MatchString(name) || len(name) > 128 {
				t.Fatalf("accepted bad name %q", name)
			}
			up := strings.ToUpper(name)
			for _, p := range []string{"LD_", "DYLD_", "VAULT_", "BROKER_"} {
				if strings.HasPrefix(up, p) {
					t.Fatalf("accepted reserved name %q", name)
				}
			}
		}
		if v.CheckValue(value) == "" && (value == "" || strings.IndexByte(value, 0) >= 0 || len(value) > 64<<10) {
			t.Fatalf("accepted bad value of length %d", len(value))
		}
	})
}

func BenchmarkCheckName(b *testing.B) {
	v := NewValidator(Limits{}, nil)
	for b.Loop() {
		_ = v.CheckName("OPENAI_API_KEY")
	}
}
