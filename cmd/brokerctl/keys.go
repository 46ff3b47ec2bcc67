package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/acme/secretsbroker/broker"
	"github.com/acme/secretsbroker/rotation"
	"github.com/acme/secretsbroker/vaultx"
)

// keysCmd groups the operator's transit key commands. They talk to Vault
// directly with the operator's token (which must be allowed to manage the
// transit key: the broker's own policy is not).
type keysCmd struct {
	Vault        vaultFlags `embed:""`
	TransitMount string     `name:"transit-mount" twin:"BROKER_TRANSIT_MOUNT" default:"transit" help:"The broker's transit mount ($BROKER_TRANSIT_MOUNT)."`
	TransitKey   string     `name:"transit-key" twin:"BROKER_TRANSIT_KEY" default:"broker-secrets" help:"The broker's transit key ($BROKER_TRANSIT_KEY)."`

	Rotate keysRotateCmd `cmd:"" help:"Rotate the transit key and rewrap every secret's current ciphertext to the new key version inside Vault (the plaintext never leaves it), while the broker keeps serving. Progress on stderr, summary on stdout. Ctrl-C stops between batches; run again with --rewrap-only (and the same --state) to finish."`
}

type keysRotateCmd struct {
	RewrapOnly       bool          `name:"rewrap-only" help:"Do not rotate: only rewrap ciphertexts older than the key's latest version (finishes an interrupted run)."`
	State            string        `name:"state" type:"path" placeholder:"FILE" help:"Checkpoint file of the users finished so far (created mode 0600); a rerun skips them. Without it a rerun still completes, reading every secret."`
	RaiseMinVersion  bool          `name:"raise-min-version" help:"After a complete rewrap, raise the key's min_decryption_version to its latest version. Refused while any stored version (rollback history included) still needs an older key version, unless --force."`
	Force            bool          `name:"force" help:"With --raise-min-version: raise even though stored versions need an older key version (they become undecryptable: rollback to them fails)."`
	Concurrency      int           `name:"concurrency" default:"8" help:"Parallel Vault calls (KV reads and writes) at most (1-64)."`
	BatchSize        int           `name:"batch-size" default:"100" help:"Secrets per transit rewrap call (1-1000); Ctrl-C stops between batches."`
	ProgressInterval time.Duration `name:"progress-interval" default:"1s" help:"Least time between two progress lines on stderr (0: one per batch)."`
}

// keysVaultClient opens a vaultx client with the operator's token for the
// broker's KV mount and transit key.
func (a *app) keysVaultClient(k *keysCmd) (*vaultx.Client, error) {
	// A rewrap of many secrets is retried by running it again; a transient
	// failure of one call should not end it, though.
	return a.openVault(k.Vault, vaultx.Config{
		TransitMount: k.TransitMount, TransitKey: k.TransitKey, MaxRetries: vaultx.DefaultMaxRetries,
	})
}

// rotateJSON is `keys rotate --json`.
type rotateJSON struct {
	Key                  string     `json:"key"`
	Rotated              bool       `json:"rotated"`
	PreviousVersion      int        `json:"previous_version"`
	LatestVersion        int        `json:"latest_version"`
	MinDecryptionVersion int        `json:"min_decryption_version"`
	Rewrap               rewrapJSON `json:"rewrap"`
	Complete             bool       `json:"complete"`
	Raise                *raiseJSON `json:"raise,omitempty"`

	raise *rotation.RaiseReport
}

type rewrapJSON struct {
	RequestID     string `json:"request_id"`
	TargetVersion int    `json:"target_version"`
	Users         int    `json:"users"`
	UsersSkipped  int    `json:"users_skipped"`
	UsersDone     int    `json:"users_done"`
	Secrets       int    `json:"secrets"`
	Rewrapped     int    `json:"rewrapped"`
	UpToDate      int    `json:"up_to_date"`
	Superseded    int    `json:"superseded"`
	Gone          int    `json:"gone"`
	Failed        int    `json:"failed"`
	StateReset    bool   `json:"state_reset"`
}

type raiseJSON struct {
	From           int  `json:"from"`
	To             int  `json:"to"`
	Forced         bool `json:"forced"`
	Versions       int  `json:"versions"`
	Secrets        int  `json:"secrets"`
	Stale          int  `json:"stale_versions"`
	StaleCurrent   int  `json:"stale_current"`
	StaleCopies    int  `json:"stale_copies"`
	StaleSecrets   int  `json:"stale_secrets"`
	MalformedFound int  `json:"malformed"`
}

func toRaiseJSON(r rotation.RaiseReport) *raiseJSON {
	s := r.Scan
	return &raiseJSON{From: r.From, To: r.To, Forced: r.Forced, Versions: s.Versions, Secrets: s.Secrets,
		Stale: s.Stale, StaleCurrent: s.StaleCurrent, StaleCopies: s.StaleCopies, StaleSecrets: s.StaleSecrets, MalformedFound: s.Malformed}
}

func (c *keysRotateCmd) Run(a *app) error {
	if c.Force && !c.RaiseMinVersion {
		return usagef("--force applies to --raise-min-version only")
	}
	if c.Concurrency < 1 || c.Concurrency > rotation.MaxRewrapConcurrency {
		return usagef("--concurrency must be between 1 and %d", rotation.MaxRewrapConcurrency)
	}
	if c.BatchSize < 1 || c.BatchSize > rotation.MaxRewrapBatch {
		return usagef("--batch-size must be between 1 and %d", rotation.MaxRewrapBatch)
	}
	// Check everything checkable before the first change (the rotation).
	if err := c.checkState(); err != nil {
		return err
	}
	k := &a.cli.Keys
	vc, err := a.keysVaultClient(k)
	if err != nil {
		return err
	}
	defer vc.Close()
	name := k.TransitMount + "/" + k.TransitKey

	info, err := vc.KeyInfo(a.ctx)
	if err != nil {
		return keysVaultErr(err, name)
	}
	if err := c.checkCapabilities(a, vc); err != nil {
		return err
	}
	out := rotateJSON{Key: name, PreviousVersion: info.LatestVersion}
	if !c.RewrapOnly {
		if info, err = vc.RotateKey(a.ctx); err != nil {
			return keysVaultErr(err, name)
		}
		out.Rotated = true
		fmt.Fprintf(a.stderr, "rotated transit key %s: version %d -> %d\n", name, out.PreviousVersion, info.LatestVersion)
	}

	rot := rotation.New(vc, vc.Logger())
	pr := &progressPrinter{w: a.stderr, every: c.ProgressInterval}
	rep, err := rot.RewrapAll(a.ctx, rotation.RewrapOptions{
		BatchSize:   c.BatchSize,
		Concurrency: c.Concurrency,
		StatePath:   c.State,
		Progress:    pr.rewrap,
	})
	pr.flush()
	out.Rewrap, out.Complete = rewrapJSON(rep), err == nil && rep.Complete()
	out.LatestVersion, out.MinDecryptionVersion = info.LatestVersion, info.MinDecryptionVersion
	if err == nil && rep.Users == 0 {
		fmt.Fprintf(a.stderr, "warning: no users found under %s/metadata/users/: is --kv-mount (BROKER_KV_MOUNT) the broker's KV mount?\n", k.Vault.KVMount)
	}
	if rep.StateReset {
		fmt.Fprintf(a.stderr, "state file %s was for another key version or mount: started afresh\n", c.State)
	}
	if err != nil {
		_ = c.summary(a, out)
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted after %d of %d secrets: run `brokerctl keys rotate --rewrap-only%s` to finish", pr.last.Done, rep.Secrets, c.stateArg())
		}
		return fmt.Errorf("%w; run `brokerctl keys rotate --rewrap-only%s` to finish", keysVaultErr(err, name), c.stateArg())
	}
	if !out.Complete {
		_ = c.summary(a, out)
		return fmt.Errorf("%d secrets could not be rewrapped (see --verbose): run `brokerctl keys rotate --rewrap-only%s` again", rep.Failed, c.stateArg())
	}

	if c.RaiseMinVersion {
		raise, err := rot.RaiseMinDecryptionVersion(a.ctx, rotation.RaiseOptions{Force: c.Force, Scan: rotation.ScanOptions{
			Concurrency: c.Concurrency,
			Progress:    pr.scan,
		}})
		pr.flush()
		out.raise, out.Raise = &raise, toRaiseJSON(raise)
		if err != nil {
			_ = c.summary(a, out)
			if broker.IsCode(err, broker.CodeConflict) {
				return fmt.Errorf("min_decryption_version not raised: %s; use --force to raise it anyway", oneLine(messageOf(err)))
			}
			return keysVaultErr(err, name)
		}
		out.MinDecryptionVersion = raise.To
	}
	return c.summary(a, out)
}

func (c *keysRotateCmd) stateArg() string {
	if c.State == "" {
		return ""
	}
	return " --state " + c.State
}

// summary prints what was done on stdout.
func (c *keysRotateCmd) summary(a *app, out rotateJSON) error {
	if a.cli.JSON {
		return json.NewEncoder(a.stdout).Encode(out)
	}
	r := out.Rewrap
	w := a.stdout
	if out.Rotated {
		fmt.Fprintf(w, "transit key %s rotated: version %d -> %d\n", out.Key, out.PreviousVersion, out.LatestVersion)
	} else {
		fmt.Fprintf(w, "transit key %s: latest version %d (not rotated)\n", out.Key, out.LatestVersion)
	}
	fmt.Fprintf(w, "rewrap run %s to key version %d: %d users (%d finished earlier per the state file, %d finished now), %d secrets checked\n",
		r.RequestID, r.TargetVersion, r.Users, r.UsersSkipped, r.UsersDone, r.Secrets)
	fmt.Fprintf(w, "  rewrapped %d, already current %d, rewritten meanwhile by the broker %d, deleted meanwhile %d, failed %d\n",
		r.Rewrapped, r.UpToDate, r.Superseded, r.Gone, r.Failed)
	status := "complete"
	if !out.Complete {
		status = "INCOMPLETE"
	}
	fmt.Fprintf(w, "rewrap %s (audit log: X-Request-Id %s)\n", status, r.RequestID)
	if rp := out.raise; rp != nil {
		s := rp.Scan
		if s.LatestVersion > 0 {
			fmt.Fprintf(w, "stored: %d versions of %d secrets; %d need a key version below %d (%d current, %d copies of values kept at version %d, %d values stored nowhere else)\n",
				s.Versions, s.Secrets, s.Stale, s.LatestVersion, s.StaleCurrent, s.StaleCopies, s.LatestVersion, s.Stale-s.StaleCurrent-s.StaleCopies)
		}
		switch {
		case rp.To == rp.From:
			fmt.Fprintf(w, "min_decryption_version: %d (unchanged)\n", rp.To)
		case rp.Forced:
			fmt.Fprintf(w, "min_decryption_version: %d -> %d (forced: %d stored versions can no longer be decrypted)\n", rp.From, rp.To, s.Stale)
		default:
			fmt.Fprintf(w, "min_decryption_version: %d -> %d\n", rp.From, rp.To)
		}
	}
	return nil
}

// messageOf is the caller-safe message of a coded error.
func messageOf(err error) string {
	var be *broker.Error
	if errors.As(err, &be) && be.Message != "" {
		return be.Message
	}
	return err.Error()
}

// keysVaultErr is vaultErr with a hint when the transit key is missing.
func keysVaultErr(err error, name string) error {
	if broker.IsCode(err, broker.CodeNotFound) {
		return fmt.Errorf("%w (is %s the broker's transit key? see --transit-mount, --transit-key and `brokerd setup`)", vaultErr(err), name)
	}
	return vaultErr(err)
}
