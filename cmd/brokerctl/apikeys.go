package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/vaultx"
)

// apiKeysCmd groups the operator's API key commands. They talk to Vault
// directly with the operator's token, not to the broker.
type apiKeysCmd struct {
	Vault vaultFlags `embed:""`

	Create apiKeysCreateCmd `cmd:"" help:"Issue a new API key for a user. Prints only the key on stdout (once: it is stored as a SHA-256 hash and cannot be shown again); details go to stderr."`
	List   apiKeysListCmd   `cmd:"" help:"List a user's API keys (id = first 12 hex characters of the key's SHA-256)."`
	Revoke apiKeysRevokeCmd `cmd:"" help:"Revoke an API key by id (full hash, or a unique prefix among --user's keys) or, with --key-stdin, by the key itself read from stdin. A revoked key stops working within the broker's auth cache TTL (default 30s, BROKER_AUTH_CACHE_TTL of brokerd)."`
}

type apiKeysCreateCmd struct {
	User  string `name:"user" required:"" help:"User id the key authenticates as."`
	Label string `name:"label" help:"Free-text label (who or what uses the key)."`
}

type apiKeysListCmd struct {
	User string `name:"user" required:"" help:"User id."`
}

type apiKeysRevokeCmd struct {
	ID       string `arg:"" optional:"" name:"ID" help:"Key id: the full SHA-256 hex, or a unique prefix of it among --user's keys (as shown by apikeys list)."`
	User     string `name:"user" help:"User id: needed to revoke by prefix; with a full id or --key-stdin, the key must belong to this user."`
	KeyStdin bool   `name:"key-stdin" help:"Read the API key itself from stdin (it is hashed, never sent or stored)."`
}

// minPrefix is the shortest id prefix accepted by revoke.
const minPrefix = 6

// vaultClient opens a vaultx client with the operator's token.
func (a *app) vaultClient() (*vaultx.Client, error) {
	// An operator command fails fast and says why.
	return a.openVault(a.cli.APIKeys.Vault, vaultx.Config{MaxRetries: -1})
}

// checkVaultAddr refuses a Vault address that is not http(s)://host[:port].
// The usage error never shows a password the address may hold.
func checkVaultAddr(addr string) error {
	if u, err := url.Parse(addr); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return usagef("Vault address %q is malformed: want http(s)://host[:port] (--vault-addr or VAULT_ADDR)", redactURL(addr))
	}
	return nil
}

// openVault checks the operator's Vault flags and opens a vaultx client with
// the operator's token; base supplies the other settings (mounts, retries).
func (a *app) openVault(f vaultFlags, base vaultx.Config) (*vaultx.Client, error) {
	if f.VaultAddr == "" {
		return nil, usagef("no Vault address: set VAULT_ADDR (or --vault-addr)")
	}
	if f.VaultToken == "" {
		return nil, usagef("no Vault token: set VAULT_TOKEN (or --vault-token)")
	}
	if err := checkVaultAddr(f.VaultAddr); err != nil {
		return nil, err
	}
	log := zerolog.Nop()
	if f.Verbose {
		log = zerolog.New(zerolog.ConsoleWriter{Out: a.stderr, TimeFormat: time.RFC3339}).With().Timestamp().Logger()
	}
	base.Addr, base.Token, base.KVMount, base.Timeout = f.VaultAddr, f.VaultToken, f.KVMount, f.Timeout
	c, err := vaultx.New(a.ctx, base, log)
	if err != nil {
		// The settings were checked above: what is left (a rejected token,
		// an unreadable CA file) is Vault's answer, exit code 1.
		var ue *usageError
		if err = vaultErr(err); errors.As(err, &ue) {
			err = errors.New("vault: " + ue.Msg)
		}
		return nil, err
	}
	return c, nil
}

// vaultErr makes a vaultx error one clear line: the caller-safe message, and
// for operator-facing failures (unavailable, forbidden, internal) the cause.
func vaultErr(err error) error {
	var be *broker.Error
	if !errors.As(err, &be) {
		return fmt.Errorf("vault: %w", err)
	}
	msg := be.Message
	if msg == "" {
		msg = string(be.Code)
	}
	switch be.Code {
	case broker.CodeInvalid:
		if len(be.Fields) > 1 {
			parts := make([]string, len(be.Fields))
			for i, f := range be.Fields {
				parts[i] = f.Field + ": " + f.Message
			}
			msg += ": " + strings.Join(parts, "; ")
		}
		return &usageError{Msg: msg}
	case broker.CodeUnavailable, broker.CodeForbidden, broker.CodeInternal:
		if be.Err != nil {
			msg += ": " + oneLine(be.Err.Error())
		}
	}
	return fmt.Errorf("vault: %s", msg)
}

func (c *apiKeysCreateCmd) Run(a *app) error {
	vc, err := a.vaultClient()
	if err != nil {
		return err
	}
	defer vc.Close()
	key, rec, err := broker.CreateAPIKey(a.ctx, vc, c.User, c.Label, time.Now())
	if err != nil {
		if broker.IsCode(err, broker.CodeNotFound) {
			return fmt.Errorf("%w (is %q the broker's KV v2 mount? see --kv-mount, BROKER_KV_MOUNT, and `brokerd setup`)", vaultErr(err), vc.KVMount())
		}
		return vaultErr(err)
	}
	if _, err := fmt.Fprintln(a.stdout, key); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "created API key %s for user %s", shortID(rec.ID), rec.UserID)
	if rec.Label != "" {
		fmt.Fprintf(a.stderr, " (label %q)", rec.Label)
	}
	fmt.Fprintln(a.stderr, "; the key above is shown only this once")
	return nil
}

// apiKeyJSON is one key in `apikeys list --json`.
type apiKeyJSON struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Label     string    `json:"label"`
	CreatedAt time.Time `json:"created_at"`
}

func (c *apiKeysListCmd) Run(a *app) error {
	vc, err := a.vaultClient()
	if err != nil {
		return err
	}
	defer vc.Close()
	keys, err := vc.ListAPIKeys(a.ctx, c.User)
	if err != nil {
		return vaultErr(err)
	}
	if !a.cli.JSON {
		return renderAPIKeys(a.stdout, keys)
	}
	out := struct {
		APIKeys []apiKeyJSON `json:"api_keys"`
		Total   int          `json:"total"`
	}{APIKeys: make([]apiKeyJSON, len(keys)), Total: len(keys)}
	for i, k := range keys {
		out.APIKeys[i] = apiKeyJSON(k)
	}
	return json.NewEncoder(a.stdout).Encode(out)
}

func (c *apiKeysRevokeCmd) Run(a *app) error {
	switch {
	case c.KeyStdin && c.ID != "":
		return usagef("give either an ID or --key-stdin, not both")
	case !c.KeyStdin && c.ID == "":
		return usagef("give the key's ID (see `brokerctl apikeys list --user USER`) or --key-stdin")
	}
	var hash string
	if c.KeyStdin {
		key, err := a.readKeyInput()
		if err != nil {
			return err
		}
		hash = broker.HashAPIKey(key)
	} else {
		id := strings.ToLower(strings.TrimSpace(c.ID))
		if len(id) > 64 || strings.Trim(id, "0123456789abcdef") != "" {
			return usagef("ID must be hexadecimal: the key's SHA-256 or a prefix of it")
		}
		if len(id) < 64 {
			if len(id) < minPrefix {
				return usagef("an ID prefix needs at least %d hex characters", minPrefix)
			}
			if c.User == "" {
				return usagef("revoking by ID prefix needs --user (or give the full 64-character id)")
			}
		}
		hash = id
	}
	vc, err := a.vaultClient()
	if err != nil {
		return err
	}
	defer vc.Close()
	if len(hash) < 64 {
		if hash, err = c.findByPrefix(a, vc, hash); err != nil {
			return err
		}
	}
	k, err := vc.GetAPIKey(a.ctx, hash)
	if err != nil {
		return vaultErr(err)
	}
	if c.User != "" && k.UserID != c.User {
		return errors.New("vault: api key not found") // as if absent: don't confirm another user's key
	}
	if err := vc.DeleteAPIKey(a.ctx, hash); err != nil {
		return vaultErr(err)
	}
	fmt.Fprintf(a.stderr, "revoked API key %s of user %s; it stops working within the broker's auth cache TTL (default 30s, BROKER_AUTH_CACHE_TTL)\n", shortID(hash), k.UserID)
	return nil
}

// findByPrefix returns the full hash of --user's only key starting with prefix.
func (c *apiKeysRevokeCmd) findByPrefix(a *app, vc *vaultx.Client, prefix string) (string, error) {
	keys, err := vc.ListAPIKeys(a.ctx, c.User)
	if err != nil {
		return "", vaultErr(err)
	}
	var match []string
	for _, k := range keys {
		if strings.HasPrefix(k.ID, prefix) {
			match = append(match, k.ID)
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("no API key of user %s starts with %s", c.User, prefix)
	case 1:
		return match[0], nil
	default:
		return "", fmt.Errorf("%d API keys of user %s start with %s: give more characters", len(match), c.User, prefix)
	}
}

// readKeyInput reads the key to revoke: from a no-echo prompt when stdin is
// a terminal, else the first line of stdin.
func (a *app) readKeyInput() (string, error) {
	if fd, ok := a.stdin.(fder); ok && term.IsTerminal(int(fd.Fd())) {
		fmt.Fprint(a.stderr, "API key to revoke (input hidden): ")
		b, err := readHidden(a.ctx, int(fd.Fd()))
		fmt.Fprintln(a.stderr)
		if errors.Is(err, errPromptInterrupted) {
			return "", err
		}
		if err != nil {
			return "", fmt.Errorf("read key from terminal: %w", err)
		}
		return readKey(strings.NewReader(string(b)))
	}
	return readKey(a.stdin)
}

// readKey reads one API key from r: the first line, surrounding whitespace
// trimmed. It is never echoed.
func readKey(r io.Reader) (string, error) {
	if r == nil {
		return "", usagef("--key-stdin: nothing on stdin")
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read key from stdin: %w", err)
	}
	key := strings.TrimSpace(line)
	if key == "" {
		return "", usagef("--key-stdin: no key on stdin")
	}
	return key, nil
}
