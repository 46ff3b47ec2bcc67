package layout

import "testing"

func TestPaths(t *testing.T) {
	for got, want := range map[string]string{
		SecretPath("u1", "s1"):       "users/u1/secrets/s1",
		NamePath("u1", "OPENAI"):     "users/u1/names/OPENAI",
		UserAPIKeyPath("u1", "h"):    "users/u1/apikeys/h",
		APIKeyPath("h"):              "apikeys/h",
		SandboxPath("sb"):            "sandboxes/sb",
		UserFolder("u1", SubSecrets): "users/u1/secrets",
		DataPath("kv", "x/y"):        "kv/data/x/y",
		MetadataPath("kv", "x/"):     "kv/metadata/x/",
		CreationPath("broker", "sb"): "broker/data/sandboxes/sb",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestSandboxFromCreationPath(t *testing.T) {
	for p, want := range map[string]string{
		CreationPath("broker", "sb-1"):   "sb-1",
		CreationPath("a/b", "x"):         "x",
		"broker/data/sandboxes/":         "",
		"broker/data/sandboxes/a/b":      "",
		"broker/data/users/u/secrets/s":  "",
		"broker/metadata/sandboxes/sb-1": "",
	} {
		if got := SandboxFromCreationPath(p); got != want {
			t.Errorf("SandboxFromCreationPath(%q) = %q, want %q", p, got, want)
		}
	}
}

// TestParseInvertsTheBuilders checks that every path the builders spell
// parses back into what it was built from.
func TestParseInvertsTheBuilders(t *testing.T) {
	for p, want := range map[string]Ref{
		SecretPath("u", "s"):              {Depth: 4, Area: AreaUsers, User: "u", Sub: SubSecrets, ID: "s"},
		NamePath("u", "N"):                {Depth: 4, Area: AreaUsers, User: "u", Sub: SubNames, ID: "N"},
		UserAPIKeyPath("u", "h"):          {Depth: 4, Area: AreaUsers, User: "u", Sub: SubAPIKeys, ID: "h"},
		UserFolder("u", SubSecrets):       {Depth: 3, Area: AreaUsers, User: "u", Sub: SubSecrets},
		UserFolder("u", SubSecrets) + "/": {Depth: 3, Area: AreaUsers, User: "u", Sub: SubSecrets},
		APIKeyPath("h"):                   {Depth: 2, Area: AreaAPIKeys, ID: "h"},
		SandboxPath("sb"):                 {Depth: 2, Area: AreaSandboxes, ID: "sb"},
		"users":                           {Depth: 1, Area: AreaUsers},
		"":                                {Depth: 1},
	} {
		if got := Parse(p); got != want {
			t.Errorf("Parse(%q) = %+v, want %+v", p, got, want)
		}
	}
}
