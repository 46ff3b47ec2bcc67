package rotation

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/acme/secretsbroker/broker"
)

// checkpoint is RewrapAll's state file: a header naming the KV mount, the
// transit key and the key version the run rewraps to, then one finished user
// id per line, appended and synced as each user is done. Only lines ending in
// a newline count (a line torn by a crash is ignored). A file written for
// another target (the key was rotated again since, or another mount) is
// started afresh: its users may hold ciphertexts older than the new target.
// User ids never contain control characters (vaultx checks each path segment), so one per line
// is unambiguous. The file holds user ids only, never a value.
type checkpoint struct {
	f    *os.File
	done map[string]bool
	// stale is set when an existing file was for another target and was reset.
	stale bool
}

func checkpointHeader(kvMount, transitMount, key string, version int) string {
	return "# secrets-broker rewrap state: kv=" + kvMount + " transit=" + transitMount + "/" + key +
		" target_version=" + strconv.Itoa(version)
}

// openCheckpoint opens (or creates, mode 0600) the state file at path.
// Errors: invalid (unreadable or unwritable file).
func openCheckpoint(path, header string) (*checkpoint, error) {
	cp := &checkpoint{done: map[string]bool{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, broker.WithCode(broker.CodeInvalid, err, "rewrap state file: cannot read "+path)
	default:
		lines := strings.SplitAfter(string(b), "\n")
		if len(lines) > 0 && strings.TrimSuffix(lines[0], "\n") == header && strings.HasSuffix(lines[0], "\n") {
			for _, l := range lines[1:] {
				if u, ok := strings.CutSuffix(l, "\n"); ok && u != "" {
					cp.done[u] = true
				}
			}
		} else if len(b) > 0 {
			cp.stale = true
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	fresh := cp.stale || len(b) == 0 // absent, empty, or for another target
	if fresh {
		flags |= os.O_TRUNC
	}
	f, oerr := os.OpenFile(path, flags, 0o600)
	if oerr != nil {
		return nil, broker.WithCode(broker.CodeInvalid, oerr, "rewrap state file: cannot write "+path)
	}
	cp.f = f
	if n := strings.LastIndexByte(string(b), '\n') + 1; !fresh && n < len(b) {
		// Drop a torn last line, so that the next user starts a line of its own.
		if err := f.Truncate(int64(n)); err != nil {
			_ = f.Close()
			return nil, broker.WithCode(broker.CodeInvalid, err, "rewrap state file: cannot write "+path)
		}
	}
	if fresh {
		if err := cp.write(header); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	return cp, nil
}

// markDone records a finished user durably.
func (cp *checkpoint) markDone(userID string) error {
	if cp == nil {
		return nil
	}
	cp.done[userID] = true
	return cp.write(userID)
}

func (cp *checkpoint) write(line string) error {
	if _, err := cp.f.WriteString(line + "\n"); err != nil {
		return broker.WithCode(broker.CodeInternal, err, "rewrap state file: write failed")
	}
	if err := cp.f.Sync(); err != nil {
		return broker.WithCode(broker.CodeInternal, err, "rewrap state file: sync failed")
	}
	return nil
}

func (cp *checkpoint) isDone(userID string) bool { return cp != nil && cp.done[userID] }

func (cp *checkpoint) close() {
	if cp != nil {
		_ = cp.f.Close()
	}
}
