package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/acme/secretsbroker/auditlog"
)

// readEgressLogs reads every --egress-log file ("-": stdin, which the
// Vault audit log may then not also be).
func (a *app) readEgressLogs(paths []string, vaultFile string) ([]auditlog.EgressEvent, error) {
	var out []auditlog.EgressEvent
	stdin := false
	for _, p := range paths {
		var r io.Reader
		if p == "-" {
			if stdin || vaultFile == "-" || a.stdin == nil {
				return nil, usagef("--egress-log -: stdin is already used, or there is none")
			}
			stdin, r = true, a.stdin
		} else {
			f, err := os.Open(p)
			if err != nil {
				return nil, fmt.Errorf("egress log: %w", err)
			}
			defer f.Close()
			r = f
		}
		evs, st, err := auditlog.ParseEgressLog(ctxReader{a.ctx, r}, p)
		if err != nil {
			return nil, fmt.Errorf("egress log %s: %w", p, err)
		}
		if st.Lines > 0 && st.Events == 0 {
			fmt.Fprintf(a.stderr, "egress log %s: %d lines, no substitution or alert\n", p, st.Lines)
		}
		out = append(out, evs...)
	}
	return out, nil
}

// renderEgress prints egressd's substitutions and alerts that pass f: which
// sandbox used which secret towards which host.
func renderEgress(w io.Writer, asJSON bool, f auditlog.Filter, evs []auditlog.EgressEvent) error {
	var rows []auditlog.EgressEvent
	for _, e := range evs {
		if f.MatchEgress(e) {
			rows = append(rows, e)
		}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		for _, e := range rows {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no matching egress events")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "TIME\tSANDBOX\tRUNTIME\tUSER\tSECRET\tHOST\tREQUEST\tSTATUS\tOUTCOME\tREQUEST ID")
	for _, e := range rows {
		outcome := e.Outcome
		if e.Alert != "" {
			outcome = "ALERT " + e.Alert + ": " + e.Outcome
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fmtAuditTime(e.Time), orDash(e.SandboxID), orDash(e.RuntimeID),
			orDash(e.UserID), orDash(e.SecretID), orDash(e.Host), orDash(e.Method+" "+e.Path), strconv.Itoa(e.Status), orDash(outcome), orDash(e.RequestID))
	}
	return tw.Flush()
}
