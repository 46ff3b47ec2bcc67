package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/acme/secretsbroker/layout"
)

const (
	defaultKVMount  = "broker"
	defaultDeadline = 30 * time.Second
)

// config is what sandbox-init reads from its environment (and token file).
type config struct {
	vaultAddr string
	sandboxID string
	kvMount   string
	token     string // never logged, printed or put in an error
	tokenFile string // set when the token came from BROKER_BOOTSTRAP_TOKEN_FILE
	accessor  string // optional, not secret: logged to match Vault's audit log
	deadline  time.Duration
	tls       api.TLSConfig
}

// creationPath is the only creation path a token for this sandbox may carry.
func (c config) creationPath() string {
	return layout.CreationPath(c.kvMount, c.sandboxID)
}

// loadConfig reads the environment through getenv. Errors are configuration
// errors (exit 2) and never contain the token.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		vaultAddr: strings.TrimSpace(getenv("VAULT_ADDR")),
		sandboxID: strings.TrimSpace(getenv("BROKER_SANDBOX_ID")),
		kvMount:   strings.Trim(strings.TrimSpace(getenv("BROKER_KV_MOUNT")), "/"),
		accessor:  strings.TrimSpace(getenv("BROKER_BOOTSTRAP_ACCESSOR")),
		deadline:  defaultDeadline,
		tls: api.TLSConfig{
			CACert:        getenv("VAULT_CACERT"),
			CAPath:        getenv("VAULT_CAPATH"),
			ClientCert:    getenv("VAULT_CLIENT_CERT"),
			ClientKey:     getenv("VAULT_CLIENT_KEY"),
			TLSServerName: getenv("VAULT_TLS_SERVER_NAME"),
		},
	}
	if c.vaultAddr == "" {
		return c, errors.New("VAULT_ADDR is not set")
	}
	if c.sandboxID == "" {
		return c, errors.New("BROKER_SANDBOX_ID is not set")
	}
	if strings.ContainsAny(c.sandboxID, "/ \t\r\n") || c.sandboxID == "." || c.sandboxID == ".." {
		return c, fmt.Errorf("BROKER_SANDBOX_ID %q is not a single path segment", c.sandboxID)
	}
	if c.kvMount == "" {
		c.kvMount = defaultKVMount
	}
	if v := getenv("VAULT_SKIP_VERIFY"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("VAULT_SKIP_VERIFY=%q is not a boolean", v)
		}
		c.tls.Insecure = b
	}
	if v := strings.TrimSpace(getenv("BROKER_INIT_DEADLINE")); v != "" {
		d, err := parseDeadline(v)
		if err != nil {
			return c, err
		}
		c.deadline = d
	}
	token, file := getenv("BROKER_BOOTSTRAP_TOKEN"), getenv("BROKER_BOOTSTRAP_TOKEN_FILE")
	switch {
	case token != "" && file != "":
		return c, errors.New("set only one of BROKER_BOOTSTRAP_TOKEN and BROKER_BOOTSTRAP_TOKEN_FILE")
	case file != "":
		b, err := readTokenFile(file)
		if err != nil {
			return c, err
		}
		c.token, c.tokenFile = strings.TrimSpace(string(b)), file
		if c.token == "" {
			return c, fmt.Errorf("BROKER_BOOTSTRAP_TOKEN_FILE %s is empty (sandbox-init empties it after use: a token serves once)", file)
		}
	case token != "":
		c.token = strings.TrimSpace(token)
	default:
		return c, errors.New("neither BROKER_BOOTSTRAP_TOKEN nor BROKER_BOOTSTRAP_TOKEN_FILE is set")
	}
	if strings.ContainsAny(c.token, " \t\r\n") {
		return c, errors.New("the bootstrap token contains whitespace")
	}
	return c, nil
}

// maxTokenFile bounds what is read from the token file (a token is ~100 bytes).
const maxTokenFile = 4 << 10

// readTokenFile reads the token file, refusing a symlink (O_NOFOLLOW, so a
// link to another file is never read, sent to Vault or emptied) and anything
// but a regular file.
func readTokenFile(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("BROKER_BOOTSTRAP_TOKEN_FILE %s is a symlink: name the file itself", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read BROKER_BOOTSTRAP_TOKEN_FILE: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read BROKER_BOOTSTRAP_TOKEN_FILE: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("BROKER_BOOTSTRAP_TOKEN_FILE %s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return nil, fmt.Errorf("read BROKER_BOOTSTRAP_TOKEN_FILE: %w", err)
	}
	if len(b) > maxTokenFile {
		return nil, fmt.Errorf("BROKER_BOOTSTRAP_TOKEN_FILE %s is larger than %d bytes: not a token file", path, maxTokenFile)
	}
	return b, nil
}

// parseDeadline accepts a Go duration ("30s", "1m") or a number of seconds.
func parseDeadline(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, serr := strconv.ParseFloat(v, 64)
		if serr != nil {
			return 0, fmt.Errorf("BROKER_INIT_DEADLINE=%q is not a duration", v)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("BROKER_INIT_DEADLINE=%q must be positive", v)
	}
	return d, nil
}
