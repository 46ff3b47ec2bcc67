package vaultx

import (
	"fmt"
	"strings"

	"github.com/acme/secretsbroker/layout"
)

// PolicyHCL is the broker's least-privilege Vault policy for the given mounts
// and transit key: KV v2 data and metadata under users/, sandboxes/ and
// apikeys/ only, and create, update and delete (no read, no list) under
// egress/; encrypt, decrypt, hmac and rewrap with the one transit key;
// reading the KV mount's config, which readiness checks (CheckLayout);
// revoking bootstrap tokens by accessor; renewing and looking up its own
// token. Nothing else under sys/ (sys/health is unauthenticated).
func PolicyHCL(kvMount, transitMount, transitKey string) string {
	var b strings.Builder
	b.WriteString("# secrets-broker: written by `brokerd setup`; edits are overwritten.\n")
	for _, area := range layout.Areas() {
		fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"create\", \"read\", \"update\", \"delete\"]\n}\n", layout.DataPath(kvMount, area+"/*"))
		fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"]\n}\n", layout.MetadataPath(kvMount, area+"/*"))
	}
	// Egress records: written and removed, never read back.
	fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"create\", \"update\", \"delete\"]\n}\n", layout.DataPath(kvMount, layout.AreaEgress+"/*"))
	fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"create\", \"update\", \"delete\"]\n}\n", layout.MetadataPath(kvMount, layout.AreaEgress+"/*"))
	fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"read\"]\n}\n", kvMount+"/config")
	for _, op := range []string{"encrypt", "decrypt", "rewrap"} {
		fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"update\"]\n}\n", transitMount+"/"+op+"/"+transitKey)
	}
	fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"update\"]\n}\n", transitMount+"/hmac/"+transitKey+"/*")
	b.WriteString("\npath \"auth/token/revoke-accessor\" {\n  capabilities = [\"update\"]\n}\n")
	b.WriteString("\npath \"auth/token/renew-self\" {\n  capabilities = [\"update\"]\n}\n")
	b.WriteString("\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n")
	return b.String()
}

// EgressPolicyHCL is egressd's least-privilege Vault policy: read the egress
// records (KV data under egress/), read the current data of any user's
// secret (its ciphertext: egressd serves every user's sandboxes), decrypt
// with the one transit key (in the user's context, which the derived key
// requires), and renew and look up its own token (the vaultx client keeps
// its AppRole token alive). No write, no list, no metadata, nothing under
// sandboxes/ or apikeys/, no encrypt, hmac or rewrap, nothing under sys/.
func EgressPolicyHCL(kvMount, transitMount, transitKey string) string {
	var b strings.Builder
	b.WriteString("# secrets-broker egressd: written by `brokerd setup`; edits are overwritten.\n")
	fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"read\"]\n}\n", layout.DataPath(kvMount, layout.AreaEgress+"/*"))
	fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"read\"]\n}\n", layout.DataPath(kvMount, layout.SecretPath("+", "*")))
	fmt.Fprintf(&b, "\npath %q {\n  capabilities = [\"update\"]\n}\n", transitMount+"/decrypt/"+transitKey)
	b.WriteString("\npath \"auth/token/renew-self\" {\n  capabilities = [\"update\"]\n}\n")
	b.WriteString("\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n")
	return b.String()
}
