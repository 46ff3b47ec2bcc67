package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/acme/secretsbroker/broker"
)

// envNames joins a sandbox's variable names (never values).
func envNames(names []string) string {
	if len(names) == 0 {
		return "-"
	}
	return orDash(strings.Join(names, ","))
}

// tokenOf is a sandbox's bootstrap token when shown is set, else "".
func tokenOf(sb broker.Sandbox, shown bool) string {
	if !shown || sb.Bootstrap == nil {
		return ""
	}
	return sb.Bootstrap.Token
}

// renderRuntimes prints runtimes as a table; with showToken, each minted
// bootstrap follows its row (vault address, token).
func renderRuntimes(w io.Writer, rts []broker.Runtime, showToken bool) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tPROJECT\tNAME\tSANDBOX\tENV NAMES\tEXPIRES\tCREATED")
	for _, r := range rts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orDash(r.ID), orDash(r.ProjectID), orDash(r.Name), orDash(r.Sandbox.ID),
			envNames(r.Sandbox.EnvNames), fmtTime(r.Sandbox.ExpiresAt), fmtTime(r.CreatedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rts {
		if tok := tokenOf(r.Sandbox, showToken); tok != "" {
			fmt.Fprintf(w, "sandbox %s: vault %s token %s\n", r.Sandbox.ID, orDash(r.Sandbox.Bootstrap.VaultAddr), tok)
		}
	}
	return nil
}

// renderEvaluation prints an evaluation's sandboxes, one row each.
func renderEvaluation(w io.Writer, ev broker.Evaluation, showToken bool) error {
	fmt.Fprintf(w, "evaluation %s (project %s, created %s)\n", orDash(ev.ID), orDash(ev.ProjectID), fmtTime(ev.CreatedAt))
	tw := newTable(w)
	fmt.Fprintln(tw, "ITEM\tROLE\tSANDBOX\tENV NAMES\tEXPIRES")
	type row struct {
		item, role string
		sb         broker.Sandbox
	}
	var rows []row
	for _, it := range ev.Items {
		rows = append(rows, row{it.Name, "runtime", it.RuntimeSandbox}, row{it.Name, "task", it.TaskSandbox})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", orDash(r.item), r.role, orDash(r.sb.ID), envNames(r.sb.EnvNames), fmtTime(r.sb.ExpiresAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if tok := tokenOf(r.sb, showToken); tok != "" {
			fmt.Fprintf(w, "sandbox %s: vault %s token %s\n", r.sb.ID, orDash(r.sb.Bootstrap.VaultAddr), tok)
		}
	}
	return nil
}
