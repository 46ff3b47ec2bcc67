package broker

import (
	"bytes"
	"encoding/json"
	"time"
)

// Secret is a user's stored credential as every API shows it: metadata and a
// masked preview, never the value.
type Secret struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Provider    *string   `json:"provider"`
	MaskedValue string    `json:"masked_value"`
	Fingerprint string    `json:"fingerprint"`
	Version     int       `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// EgressHosts are the hosts egressd may send the value to (egress
	// delivery); [] when none.
	EgressHosts HostList `json:"egress_hosts"`
}

// HostList is a list of egress hosts. It encodes as [] (never null) when
// empty and decodes [] as nil, so that a Secret round-trips through JSON
// (the list cache) unchanged. Only the list is a Marshaler, not the Secret
// around it: encoding/json re-scans a Marshaler's output, and a whole
// Secret's costs several times a host list's (a list of 500 pays it 500
// times).
type HostList []string

// MarshalJSON writes the hosts as a JSON array, [] when there are none.
func (h HostList) MarshalJSON() ([]byte, error) {
	if len(h) == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(h))
}

// UnmarshalJSON reads a JSON array of hosts; [] and null are none (nil).
func (h *HostList) UnmarshalJSON(b []byte) error {
	if s := string(bytes.TrimSpace(b)); s == "[]" || s == "null" {
		*h = nil // the common case, without a decoder
		return nil
	}
	var hosts []string
	if err := json.Unmarshal(b, &hosts); err != nil {
		return err
	}
	if len(hosts) == 0 {
		hosts = nil
	}
	*h = hosts
	return nil
}

// SecretVersion describes one stored version of a secret.
type SecretVersion struct {
	Version     int       `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	MaskedValue string    `json:"masked_value"`
	Fingerprint string    `json:"fingerprint"`
	Current     bool      `json:"current"`
	Destroyed   bool      `json:"destroyed"`
}

// Preset maps a well-known provider to the env var name its key goes under.
type Preset struct {
	Provider   string `json:"provider"`
	EnvVarName string `json:"env_var_name"`
	Configured bool   `json:"configured"`
	// EgressHosts are the egress_hosts a secret created from the preset
	// gets when the request names none; [] when none.
	EgressHosts []string `json:"egress_hosts"`
}

// MarshalJSON shows egress_hosts as [] when there are none.
func (p Preset) MarshalJSON() ([]byte, error) {
	type plain Preset
	if p.EgressHosts == nil {
		p.EgressHosts = []string{}
	}
	return json.Marshal(plain(p))
}

// DefaultPresets are the built-in presets; more may be configured.
func DefaultPresets() []Preset {
	return []Preset{
		{Provider: "openai", EnvVarName: "OPENAI_API_KEY", EgressHosts: DefaultEgressHosts("openai")},
		{Provider: "anthropic", EnvVarName: "ANTHROPIC_API_KEY", EgressHosts: DefaultEgressHosts("anthropic")},
		{Provider: "github", EnvVarName: "GITHUB_TOKEN", EgressHosts: DefaultEgressHosts("github")},
	}
}

// APIKey is what the broker knows about an API key: never the key itself.
type APIKey struct {
	ID        string    `json:"id"` // the SHA-256 hex of the key
	UserID    string    `json:"user_id"`
	Label     string    `json:"label"`
	CreatedAt time.Time `json:"created_at"`
}

// Bootstrap is what a sandbox needs to fetch its env: handed out once, by the
// POST that created it, and never again.
type Bootstrap struct {
	SandboxID string `json:"sandbox_id"`
	VaultAddr string `json:"vault_addr"`
	Token     string `json:"token,omitempty"`
	// Accessor names the token in Vault's audit log (brokerctl audit --match)
	// and can revoke it; it cannot unwrap it.
	Accessor     string    `json:"accessor,omitempty"`
	CreationPath string    `json:"creation_path"`
	ExpiresAt    time.Time `json:"expires_at"`
	EnvNames     []string  `json:"env_names"`
	// Delivery is DeliveryEnv or DeliveryEgress.
	Delivery string `json:"delivery"`
	// ProxyURL is egressd's address (egress delivery only), without the
	// sandbox's credentials, which only the wrapped bundle holds.
	ProxyURL string `json:"proxy_url,omitempty"`
}

// Sandbox is one compute unit's view of its bootstrap, as stored (no token).
type Sandbox struct {
	ID        string    `json:"id"`
	EnvNames  []string  `json:"env_names"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
	// Delivery is DeliveryEnv or DeliveryEgress ("" in records written
	// before egress delivery existed: env).
	Delivery string `json:"delivery,omitempty"`
	// EgressTokenHashes are the TokenHash of each placeholder of an egress
	// sandbox: what its retirement deletes. Kept in the stored record
	// (records.go), never shown by the API.
	EgressTokenHashes []string `json:"-"`
	// Accessor is the wrapping accessor of the sandbox's bootstrap token:
	// what its retirement revokes. Kept in the stored record (records.go),
	// never shown by the API (the minting answer shows it in Bootstrap).
	// "" in records written before the accessor moved into them: their
	// accessor is under the record store's accessor entries.
	Accessor string `json:"-"`
	// Bootstrap is set only in the answer of the POST that minted it; stored
	// records never hold it.
	Bootstrap *Bootstrap `json:"bootstrap,omitempty"`
}

// Runtime is an interactive sandbox with a selection of the user's secrets.
type Runtime struct {
	ID        string    `json:"id"`
	UserID    string    `json:"-"`
	ProjectID string    `json:"project_id"`
	Name      string    `json:"name"`
	SecretIDs []string  `json:"secret_ids"`
	Sandbox   Sandbox   `json:"sandbox"`
	Restarts  int       `json:"restarts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EvaluationItem is one item of an evaluation: two compute units, each with its
// own bootstrap.
type EvaluationItem struct {
	Name           string  `json:"name"`
	RuntimeSandbox Sandbox `json:"runtime_sandbox"`
	TaskSandbox    Sandbox `json:"task_sandbox"`
}

// Evaluation is a batch of items provisioned with one selection of secrets.
type Evaluation struct {
	ID        string           `json:"id"`
	UserID    string           `json:"-"`
	ProjectID string           `json:"project_id"`
	SecretIDs []string         `json:"secret_ids"`
	Items     []EvaluationItem `json:"items"`
	CreatedAt time.Time        `json:"created_at"`
}

// Audit carries who and what a Vault call is made for; vaultx sends it as the
// audited request headers X-Broker-User, X-Request-Id, X-Broker-Runtime and
// X-Broker-Sandbox.
type Audit struct {
	UserID    string
	RequestID string
	RuntimeID string
	SandboxID string
}
