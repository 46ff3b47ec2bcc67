package rotation

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/broker"
)

// Defaults and bounds of RewrapOptions.
const (
	DefaultRewrapBatch       = 100
	MaxRewrapBatch           = 1000
	DefaultRewrapConcurrency = 8
	MaxRewrapConcurrency     = 64
	// rewrapAttempts bounds how often one secret is rewrapped again after
	// losing its check-and-set to a writer that left an old ciphertext
	// current (a rollback to a version written before the rotation).
	rewrapAttempts = 3
)

// RewrapOptions tunes RewrapAll. Zero values take the defaults.
type RewrapOptions struct {
	// BatchSize is how many secrets of one user go into one transit rewrap
	// call (default 100, at most 1000). An interruption stops between batches.
	BatchSize int
	// Concurrency bounds the parallel KV reads and writes of a batch, and of
	// the listing (default 8, at most 64).
	Concurrency int
	// StatePath, when set, is a checkpoint file listing the users finished so
	// far for the current target key version; a rerun skips them without
	// reading their secrets. Without it a rerun still completes the job (it
	// reads every secret and skips those already at the target version).
	StatePath string
	// Progress, when set, is called after each batch (on RewrapAll's
	// goroutine); cancelling RewrapAll's context from it stops the run before
	// the next batch.
	Progress func(RewrapProgress)

	// RequestID is sent as X-Request-Id with every Vault call of the run
	// (with X-Broker-User naming the user whose secrets are worked on), so
	// the audit log ties the run's entries together. Default: "rewrap-" and
	// a random id.
	RequestID string

	// beforeWrite, in tests, runs after a batch is rewrapped and before its
	// KV writes: a writer racing the rewrap.
	beforeWrite func(userID string, secretIDs []string)
}

func (o RewrapOptions) withDefaults() RewrapOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultRewrapBatch
	}
	o.BatchSize = min(o.BatchSize, MaxRewrapBatch)
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultRewrapConcurrency
	}
	o.Concurrency = min(o.Concurrency, MaxRewrapConcurrency)
	if o.RequestID == "" {
		o.RequestID = "rewrap-" + broker.NewID()
	}
	return o
}

// RewrapProgress is reported after each batch.
type RewrapProgress struct {
	Done      int // secrets examined so far in this run
	Total     int // secrets listed for this run
	Rewrapped int // secrets rewrapped so far in this run
	User      int // 1-based index of the user being worked on
	Users     int // users to work on in this run
}

// RewrapReport says what one RewrapAll run did. Secrets = Rewrapped +
// UpToDate + Superseded + Gone + Failed once the run completed.
type RewrapReport struct {
	RequestID     string // the run's X-Request-Id
	TargetVersion int    // the key's latest version when the run started
	Users         int    // users found
	UsersSkipped  int    // finished by an earlier run (state file)
	UsersDone     int    // finished by this run
	Secrets       int    // secrets listed under the users of this run
	Rewrapped     int    // written as a new version with a rewrapped ciphertext
	UpToDate      int    // current ciphertext already at the target version or later
	Superseded    int    // a concurrent write won the check-and-set and is at the target version
	Gone          int    // deleted meanwhile
	Failed        int    // left behind (malformed ciphertext, refused by transit, or still racing); rerun
	// StateReset is set when the state file was for another target (the
	// key was rotated again, or another mount) and was started afresh.
	StateReset bool
}

// Complete reports whether every listed secret now has a current ciphertext
// at the target version or later (or is gone).
func (r RewrapReport) Complete() bool {
	return r.Failed == 0 && r.UsersSkipped+r.UsersDone == r.Users
}

// RewrapAll brings the current version of every secret of every user to the
// transit key's latest version, without the plaintext leaving Vault:
//
//  1. LIST users/, then each user's secrets/ (skipping users the state file
//     says are finished);
//  2. per user, in batches: read each secret's current data; those whose
//     ciphertext is older than the target go through ONE transit rewrap call
//     (batch_input, context = base64(user id));
//  3. each rewrapped ciphertext is written as a new KV version with
//     check-and-set on the version read (same masked_value, fingerprint, name
//     and provider, plus "rewrapped": true), then the custom metadata is
//     pointed at the new version. A secret whose check-and-set fails was
//     written meanwhile by the broker: if its new current ciphertext is at the
//     target version (a user's create, rotate or the broker's own writes
//     always are) it is skipped, as Superseded; if not (a rollback to an old
//     version) it is rewrapped again.
//
// Older versions are left as they are: KV v2 versions cannot be rewritten,
// and rollback reuses their ciphertext (see RaiseMinDecryptionVersion).
//
// The work is idempotent (secrets already at the target are only read), so
// a run that was interrupted or failed is completed by running it again.
// Cancelling ctx stops between batches: a batch that started finishes its
// writes (on a context detached from ctx, bounded in time). Errors:
// unavailable (Vault failed, or ctx was cancelled: errors.Is(err,
// context.Canceled) then holds), forbidden, invalid (state file), internal.
// The report is filled in either way.
func (rt *Rotator) RewrapAll(ctx context.Context, opts RewrapOptions) (RewrapReport, error) {
	o := opts.withDefaults()
	rep := RewrapReport{RequestID: o.RequestID}
	ctx = broker.WithAudit(ctx, broker.Audit{RequestID: o.RequestID})
	info, err := rt.v.KeyInfo(ctx)
	if err != nil {
		return rep, err
	}
	rep.TargetVersion = info.LatestVersion

	var cp *checkpoint
	if o.StatePath != "" {
		tg := rt.v.Target()
		if cp, err = openCheckpoint(o.StatePath, checkpointHeader(tg.KVMount, tg.TransitMount, tg.TransitKey, rep.TargetVersion)); err != nil {
			return rep, err
		}
		defer cp.close()
		rep.StateReset = cp.stale
	}

	users, err := rt.v.UserIDs(ctx)
	if err != nil {
		return rep, err
	}
	rep.Users = len(users)
	todo := make([]string, 0, len(users))
	for _, u := range users {
		if cp.isDone(u) {
			rep.UsersSkipped++
		} else {
			todo = append(todo, u)
		}
	}
	ids := make([][]string, len(todo))
	err = broker.ForEach(ctx, len(todo), o.Concurrency, func(ctx context.Context, i int) error {
		var err error
		ids[i], err = rt.v.SecretIDs(asUser(ctx, todo[i]), todo[i])
		return err
	})
	if err != nil {
		return rep, interrupted(ctx, err)
	}
	for _, l := range ids {
		rep.Secrets += len(l)
	}

	r := &rewrapRun{v: rt.v, log: rt.log, o: o, rep: &rep}
	prog := RewrapProgress{Total: rep.Secrets, Users: len(todo)}
	for i, u := range todo {
		prog.User = i + 1
		failedBefore := rep.Failed
		for start := 0; start < len(ids[i]); start += o.BatchSize {
			if err := ctx.Err(); err != nil {
				return rep, interrupted(ctx, err)
			}
			batch := ids[i][start:min(start+o.BatchSize, len(ids[i]))]
			if err := r.batch(asUser(ctx, u), u, batch); err != nil {
				return rep, err
			}
			prog.Done += len(batch)
			prog.Rewrapped = rep.Rewrapped
			if o.Progress != nil {
				o.Progress(prog)
			}
		}
		if rep.Failed == failedBefore {
			if err := cp.markDone(u); err != nil {
				return rep, err
			}
			rep.UsersDone++
		}
	}
	return rep, nil
}

// asUser names user in the audited headers of ctx's calls.
func asUser(ctx context.Context, user string) context.Context {
	a := broker.AuditFrom(ctx)
	a.UserID = user
	return broker.WithAudit(ctx, a)
}

// interrupted turns an error caused by ctx's cancellation into the
// documented "rewrap interrupted" error.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return broker.WithCode(broker.CodeUnavailable, ctx.Err(), "rewrap interrupted: run it again to finish")
}

// rewrapRun is the state of one RewrapAll run.
type rewrapRun struct {
	v   Vault
	log zerolog.Logger
	o   RewrapOptions
	mu  sync.Mutex // guards rep
	rep *RewrapReport
}

func (r *rewrapRun) count(field *int) {
	r.mu.Lock()
	*field++
	r.mu.Unlock()
}

// current is what was read of one secret's current version.
type current struct {
	id string
	Current
}

// batchTimeout bounds the work of one batch once it started (it runs on a
// context detached from the caller's, so that an interruption never leaves
// a batch half written).
func (r *rewrapRun) batchTimeout() time.Duration {
	return time.Duration(4*rewrapAttempts+4) * r.v.CallTimeout()
}

// batch rewraps the secrets ids of user whose current ciphertext is older
// than the target.
func (r *rewrapRun) batch(parent context.Context, user string, ids []string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), r.batchTimeout())
	defer cancel()
	pending := make([]*current, len(ids))
	err := broker.ForEach(ctx, len(ids), r.o.Concurrency, func(ctx context.Context, i int) error {
		cur, st, err := r.readCurrent(ctx, user, ids[i])
		if err == nil {
			r.tally(st, false)
		}
		pending[i] = cur
		return err
	})
	if err != nil {
		return err
	}
	pending = slices.DeleteFunc(pending, func(c *current) bool { return c == nil })
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == rewrapAttempts {
			r.mu.Lock()
			r.rep.Failed += len(pending)
			r.mu.Unlock()
			r.log.Warn().Str("user_id", user).Int("secrets", len(pending)).Msg("rewrap: secrets still racing with writers; left for the next run")
			return nil
		}
		if pending, err = r.rewrapAndWrite(ctx, user, pending); err != nil {
			return err
		}
	}
	return nil
}

// state is what reading a secret's current version found.
type state int

const (
	stale     state = iota // older than the target: rewrap
	gone                   // deleted meanwhile
	upToDate               // at the target version or later
	malformed              // no transit ciphertext
)

// readCurrent reads one secret's current version and classifies it; cur is
// set for a stale one.
func (r *rewrapRun) readCurrent(ctx context.Context, user, id string) (*current, state, error) {
	cur, err := r.v.ReadCurrent(ctx, user, id)
	if broker.IsCode(err, broker.CodeNotFound) {
		return nil, gone, nil
	}
	if err != nil {
		return nil, 0, err
	}
	switch {
	case cur.KeyVersion == 0:
		r.log.Warn().Str("user_id", user).Str("secret_id", id).Int("version", cur.Version).Msg("rewrap: current version holds no transit ciphertext; skipped")
		return nil, malformed, nil
	case cur.KeyVersion >= r.rep.TargetVersion:
		return nil, upToDate, nil
	}
	return &current{id: id, Current: cur}, stale, nil
}

// tally counts a secret that needs no rewrap. racing says whether a
// concurrent writer was seen (a lost check-and-set).
func (r *rewrapRun) tally(st state, racing bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case st == gone:
		r.rep.Gone++
	case st == malformed:
		r.rep.Failed++
	case st == upToDate && racing:
		r.rep.Superseded++
	case st == upToDate:
		r.rep.UpToDate++
	}
}

// rewrapAndWrite rewraps the batch in one transit call and writes each
// result. It returns the secrets to try again: their check-and-set failed
// and their new current ciphertext is still old.
func (r *rewrapRun) rewrapAndWrite(ctx context.Context, user string, batch []*current) ([]*current, error) {
	cts := make([]string, len(batch))
	for i, b := range batch {
		cts[i] = b.Ciphertext
	}
	fresh, err := r.v.RewrapBatch(ctx, user, cts)
	if err != nil {
		return nil, err
	}
	if r.o.beforeWrite != nil {
		ids := make([]string, len(batch))
		for i, b := range batch {
			ids[i] = b.id
		}
		r.o.beforeWrite(user, ids)
	}
	retry := make([]*current, len(batch))
	err = broker.ForEach(ctx, len(batch), r.o.Concurrency, func(ctx context.Context, i int) error {
		if fresh[i] == "" {
			r.tally(malformed, false)
			r.log.Warn().Str("user_id", user).Str("secret_id", batch[i].id).Msg("rewrap: transit refused the ciphertext; skipped")
			return nil
		}
		var err error
		retry[i], err = r.write(ctx, user, batch[i], fresh[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(retry, func(c *current) bool { return c == nil }), nil
}

// write stores ct as the secret's next version (vaultx writes the data with
// check-and-set on the version read and points the metadata at it). On a
// lost check-and-set it re-reads the secret: nil when there is nothing left
// to do, else the new current version to rewrap again.
func (r *rewrapRun) write(ctx context.Context, user string, cur *current, ct string) (*current, error) {
	err := r.v.WriteRewrapped(ctx, user, cur.id, cur.Current, ct)
	if broker.IsCode(err, broker.CodeConflict) {
		again, st, err := r.readCurrent(ctx, user, cur.id)
		if err != nil {
			return nil, err
		}
		r.tally(st, true)
		return again, nil
	}
	if err != nil {
		return nil, err
	}
	r.count(&r.rep.Rewrapped)
	return nil, nil
}
