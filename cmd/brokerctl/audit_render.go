package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/acme/secretsbroker/auditlog"
)

const auditTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// timelinePrinter prints entries that pass its filter, as a table (the
// header once) or as JSON lines.
type timelinePrinter struct {
	w      io.Writer
	json   bool
	filter auditlog.Filter
	header bool
	rows   int
}

func newTimelinePrinter(w io.Writer, asJSON bool, f auditlog.Filter) *timelinePrinter {
	return &timelinePrinter{w: w, json: asJSON, filter: f}
}

func (p *timelinePrinter) print(entries []auditlog.Entry) error {
	var tw *tabwriter.Writer
	var enc *json.Encoder
	if p.json {
		enc = json.NewEncoder(p.w)
	} else {
		tw = newTable(p.w)
	}
	for _, e := range entries {
		if !p.filter.Match(e) {
			continue
		}
		p.rows++
		if enc != nil {
			if err := enc.Encode(e); err != nil {
				return err
			}
			continue
		}
		if !p.header {
			fmt.Fprintln(tw, "TIME\tUSER\tACTION\tCALL\tPATH\tOUTCOME\tREQUEST ID")
			p.header = true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fmtAuditTime(e.Time), orDash(e.User), orDash(string(e.Action)),
			orDash(string(e.Call)), orDash(e.Path), orDash(outcome(e)), orDash(e.RequestID))
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// flush says so when nothing matched (tables only).
func (p *timelinePrinter) flush() error {
	if p.rows == 0 && !p.json {
		_, err := fmt.Fprintln(p.w, "no matching entries")
		return err
	}
	return nil
}

func outcome(e auditlog.Entry) string {
	if e.Failed() {
		return "error: " + e.Error
	}
	return e.Outcome
}

func fmtAuditTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(auditTimeFormat)
}

// renderAlerts prints alerts as a table or JSON lines.
func renderAlerts(w io.Writer, asJSON bool, as []auditlog.Alert) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, a := range as {
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
		return nil
	}
	if len(as) == 0 {
		return nil
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "TIME\tKIND\tREASON\tUSER\tSANDBOX\tREQUEST ID\tMESSAGE")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fmtAuditTime(a.Time), a.Kind, orDash(a.Reason), orDash(a.User),
			orDash(a.SandboxID), orDash(a.RequestID), orDash(a.Message))
	}
	return tw.Flush()
}
