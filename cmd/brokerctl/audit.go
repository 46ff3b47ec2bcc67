package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/acme/secretsbroker/auditlog"
)

// exitAlerts is the exit code of `audit alerts` when it found any: distinct
// from 1 (the log could not be read, Vault failed) and 2 (usage), so that a
// cron job or CI step can tell "something needs a person" from "the check
// itself broke".
const exitAlerts = 3

// auditCmd reads a Vault file audit log. Its flags apply to both
// subcommands and may follow them.
type auditCmd struct {
	User      string   `name:"user" help:"Only entries of this user (X-Broker-User header or users/<user>/ path)."`
	Secret    string   `name:"secret" help:"Only entries about this secret id (timeline only)."`
	Runtime   string   `name:"runtime" help:"Only entries of this runtime (X-Broker-Runtime)."`
	Sandbox   string   `name:"sandbox" help:"Only entries of this sandbox (X-Broker-Sandbox, sandboxes/<id>, or the bootstrap token's creation path)."`
	RequestID string   `name:"request-id" help:"Only entries of this broker request (X-Request-Id; calls made with a bootstrap token carry the id of the request that minted it)."`
	Since     string   `name:"since" placeholder:"TIME" help:"Only entries at or after TIME: RFC 3339, a date (2006-01-02, UTC), or a duration before now (90m)."`
	Until     string   `name:"until" placeholder:"TIME" help:"Only entries before TIME (same forms as --since)."`
	EgressLog []string `name:"egress-log" placeholder:"FILE" help:"egressd's log (JSON lines; repeatable; - for stdin): its substitutions (which sandbox used a secret towards which host) join the timeline, its tripwires the alerts. With it, the Vault audit log FILE is optional."`
	Match     string   `name:"match" placeholder:"VALUE" help:"Only entries holding VALUE in an HMAC'd field (a bootstrap token's accessor, for example): its HMAC is asked from Vault's sys/audit-hash/<--audit-device> with the operator's token. A value that already starts with hmac-sha256: is used as is, without Vault. Do not pass live tokens on the command line."`

	AuditDevice  string     `name:"audit-device" twin:"BROKER_AUDIT_DEVICE" default:"broker-file" help:"Path of the audit device that wrote the log, for --match ($BROKER_AUDIT_DEVICE)."`
	TransitMount string     `name:"transit-mount" twin:"BROKER_TRANSIT_MOUNT" default:"transit" help:"The broker's transit mount ($BROKER_TRANSIT_MOUNT), for entries that do not name their mount."`
	Vault        vaultFlags `embed:""`

	Timeline auditTimelineCmd `cmd:"" default:"withargs" help:"Print the timeline of Vault calls (the default: brokerctl audit FILE)."`
	Alerts   auditAlertsCmd   `cmd:"" help:"List what needs a person: failed unwraps (replays, expiries), bootstrap tokens that expired unused, permission denials, sandbox-init creation-path failures. Exits 3 when it found any."`
}

type auditTimelineCmd struct {
	File   string        `arg:"" optional:"" name:"FILE" help:"Vault file audit log; - or nothing for stdin (nothing: none, with --egress-log)."`
	Follow bool          `name:"follow" short:"f" help:"Keep reading as the log grows (handles truncation and rotation) until interrupted."`
	Poll   time.Duration `name:"poll" default:"250ms" hidden:"" help:"How often --follow looks for new lines."`
}

type auditAlertsCmd struct {
	File       string   `arg:"" optional:"" name:"FILE" help:"Vault file audit log; - or nothing for stdin (nothing: none, with --egress-log)."`
	SandboxLog []string `name:"sandbox-log" type:"path" placeholder:"FILE" help:"sandbox-init's stderr (JSON lines; repeatable): exit 5 (creation path mismatch) and exit 4 (token refused) become alerts."`
	Now        string   `name:"now" placeholder:"TIME" help:"Judge bootstrap token expiry as of TIME (same forms as --since; default: the time of the log's last entry)."`
}

// filter builds the entry filter from the flags; --match asks Vault.
func (c *auditCmd) filter(a *app, now time.Time) (auditlog.Filter, error) {
	f := auditlog.Filter{User: c.User, SecretID: c.Secret, RuntimeID: c.Runtime, SandboxID: c.Sandbox, RequestID: c.RequestID}
	var err error
	if f.Since, err = parseWhen(c.Since, now); err != nil {
		return f, usagef("--since: %v", err)
	}
	if f.Until, err = parseWhen(c.Until, now); err != nil {
		return f, usagef("--until: %v", err)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, usagef("--until must be after --since")
	}
	if c.Match != "" {
		if f.HMAC, err = c.auditHash(a, c.Match); err != nil {
			return f, err
		}
	}
	return f, nil
}

func (c *auditCmd) streamOptions() auditlog.Options {
	return auditlog.Options{Mounts: auditlog.Mounts{KV: c.Vault.KVMount, Transit: c.TransitMount}}
}

// parseWhen parses an RFC 3339 time, a date (UTC), or a duration before now.
// Empty is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time, a date (2006-01-02) or a duration (90m)", s)
}

func (c *auditTimelineCmd) Run(a *app) error {
	ac := &a.cli.Audit
	f, err := ac.filter(a, time.Now())
	if err != nil {
		return err
	}
	egress, err := a.readEgressLogs(ac.EgressLog, c.File)
	if err != nil {
		return err
	}
	if len(ac.EgressLog) > 0 {
		if c.Follow {
			return usagef("--follow does not apply with --egress-log")
		}
		if c.File != "" {
			if err := c.vaultTimeline(a, f); err != nil {
				return err
			}
		}
		return renderEgress(a.stdout, a.cli.JSON, f, egress)
	}
	return c.vaultTimeline(a, f)
}

// vaultTimeline prints the Vault audit log's timeline.
func (c *auditTimelineCmd) vaultTimeline(a *app, f auditlog.Filter) error {
	ac := &a.cli.Audit
	src, err := a.openAuditLog(c.File)
	if err != nil {
		return err
	}
	defer src.Close()
	s := auditlog.NewStream(ac.streamOptions())
	out := newTimelinePrinter(a.stdout, a.cli.JSON, f)
	if c.Follow {
		poll := c.Poll
		if poll <= 0 {
			poll = 250 * time.Millisecond
		}
		err = src.follow(a.ctx, s, out.print, poll)
	} else {
		err = src.readAll(a.ctx, s)
	}
	if perr := out.print(s.Close()); err == nil {
		err = perr
	}
	reportMalformed(a, s.Stats())
	if err == nil {
		err = out.flush()
	}
	return err
}

func (c *auditAlertsCmd) Run(a *app) error {
	ac := &a.cli.Audit
	if ac.Secret != "" && len(ac.EgressLog) == 0 {
		return usagef("--secret does not apply to Vault's alerts (they name no secret): filter by --user, --sandbox, --runtime or --request-id, or add --egress-log")
	}
	f, err := ac.filter(a, time.Now())
	if err != nil {
		return err
	}
	judgeAt, err := parseWhen(c.Now, time.Now())
	if err != nil {
		return usagef("--now: %v", err)
	}
	var extra []auditlog.Alert
	for _, p := range c.SandboxLog {
		as, err := readSandboxLog(p)
		if err != nil {
			return err
		}
		extra = append(extra, as...)
	}
	egress, err := a.readEgressLogs(ac.EgressLog, c.File)
	if err != nil {
		return err
	}
	for _, e := range egress {
		if al, ok := e.AsAlert(); ok {
			extra = append(extra, al)
		}
	}
	var all []auditlog.Alert
	if len(ac.EgressLog) == 0 || c.File != "" {
		src, err := a.openAuditLog(c.File)
		if err != nil {
			return err
		}
		defer src.Close()
		s := auditlog.NewStream(ac.streamOptions())
		if err := src.readAll(a.ctx, s); err != nil {
			return err
		}
		s.Close()
		reportMalformed(a, s.Stats())
		all = s.Alerts(judgeAt)
	}
	all = append(all, extra...)
	auditlog.SortAlerts(all)
	var found []auditlog.Alert
	for _, al := range all {
		if f.MatchAlert(al) {
			found = append(found, al)
		}
	}
	if err := renderAlerts(a.stdout, a.cli.JSON, found); err != nil {
		return err
	}
	if len(found) == 0 {
		fmt.Fprintln(a.stderr, "no alerts")
		return nil
	}
	fmt.Fprintf(a.stderr, "brokerctl: %d alert(s): see docs/audit.md\n", len(found))
	// exitRequest carries an exit code with nothing more to print.
	return &exitRequest{Code: exitAlerts}
}

// reportMalformed says on stderr how many lines were skipped.
func reportMalformed(a *app, st auditlog.Stats) {
	if st.Malformed == 0 {
		return
	}
	lines := make([]string, len(st.MalformedLines))
	for i, n := range st.MalformedLines {
		lines[i] = fmt.Sprint(n)
	}
	more := ""
	if st.Malformed > len(st.MalformedLines) {
		more = ", ..."
	}
	fmt.Fprintf(a.stderr, "%d malformed lines skipped (line %s%s)\n", st.Malformed, strings.Join(lines, ", "), more)
}
