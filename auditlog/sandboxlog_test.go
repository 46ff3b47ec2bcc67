package auditlog

import (
	"strings"
	"testing"
)

// Lines as sandbox-init writes them (zerolog JSON on stderr), mixed with a
// workload's own output.
const sandboxLog = `{"level":"info","cmd":"sandbox-init","mode":"write","sandbox_id":"sb-ok","creation_path":"broker/data/sandboxes/sb-ok","names":["OPENAI_API_KEY"],"vault_calls":2,"token_created":"2026-11-28T13:00:05Z","exit":0,"out":"/run/env","time":"2026-11-28T13:00:06Z","message":"bootstrap complete: env file written"}
workload says hello {not json
{"level":"error","cmd":"sandbox-init","mode":"exec","sandbox_id":"sb-forged","creation_path":"broker/data/sandboxes/sb-forged","exit":5,"vault_calls":1,"alert":true,"token_created":"2026-11-28T13:01:00Z","time":"2026-11-28T13:01:01Z","message":"bootstrap token has creation path \"sys/wrapping/wrap\", want \"broker/data/sandboxes/sb-forged\": it was not minted by the broker for this sandbox and may be forged to inject attacker-chosen values; it was NOT unwrapped"}
{"level":"error","cmd":"sandbox-init","mode":"write","sandbox_id":"sb-replayed","creation_path":"broker/data/sandboxes/sb-replayed","accessor":"acc-1","exit":4,"vault_calls":1,"alert":true,"time":"2026-11-28T13:00:59Z","message":"bootstrap token is expired, unknown or already used (lookup refused); a replay means someone else may hold the secrets"}
{"level":"error","cmd":"sandbox-init","mode":"write","sandbox_id":"sb-down","exit":3,"vault_calls":9,"time":"2026-11-28T13:02:00Z","message":"vault unreachable"}
{"level":"info","cmd":"other-tool","exit":5}
`

func TestParseSandboxLog(t *testing.T) {
	as, st, err := ParseSandboxLog(strings.NewReader(sandboxLog))
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 6 || st.Skipped != 2 {
		t.Fatalf("stats %+v", st)
	}
	if len(as) != 2 {
		t.Fatalf("alerts %+v", as)
	}
	refused, forged := as[0], as[1]
	if refused.Kind != AlertTokenRefused || refused.SandboxID != "sb-replayed" || refused.Accessor != "acc-1" || refused.Source != "sandbox-init" {
		t.Fatalf("refused %+v", refused)
	}
	if forged.Kind != AlertCreationPath || forged.SandboxID != "sb-forged" || forged.Path != "broker/data/sandboxes/sb-forged" ||
		!strings.Contains(forged.Message, "exit 5") || forged.Time.IsZero() {
		t.Fatalf("forged %+v", forged)
	}
}
