package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/acme/secretsbroker/broker"
)

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// orDash returns s, with control characters shown as '?' so that a label
// cannot break the table or the terminal, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

// renderSecrets prints secrets as a table (masked previews only).
func renderSecrets(w io.Writer, secrets []broker.Secret) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tNAME\tPROVIDER\tMASKED\tVERSION\tUPDATED")
	for _, s := range secrets {
		provider := "-"
		if s.Provider != nil && *s.Provider != "" {
			provider = *s.Provider
		}
		version := "-"
		if s.Version > 0 {
			version = strconv.Itoa(s.Version)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", orDash(s.ID), orDash(s.Name), orDash(provider), orDash(s.MaskedValue), version, fmtTime(s.UpdatedAt))
	}
	return tw.Flush()
}

// renderVersions prints a secret's versions as a table.
func renderVersions(w io.Writer, vs []broker.SecretVersion) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "VERSION\tCREATED\tMASKED\tFINGERPRINT\tCURRENT")
	for _, v := range vs {
		current := ""
		switch {
		case v.Current:
			current = "*"
		case v.Destroyed:
			current = "destroyed"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Version, fmtTime(v.CreatedAt), orDash(v.MaskedValue), orDash(v.Fingerprint), current)
	}
	return tw.Flush()
}

// renderPresets prints the presets as a table.
func renderPresets(w io.Writer, ps []broker.Preset) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "PROVIDER\tENV VAR\tCONFIGURED")
	for _, p := range ps {
		conf := "no"
		if p.Configured {
			conf = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", orDash(p.Provider), orDash(p.EnvVarName), conf)
	}
	return tw.Flush()
}

// renderAPIKeys prints API keys as a table: a 12-character hash prefix as id.
func renderAPIKeys(w io.Writer, keys []broker.APIKey) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tLABEL\tCREATED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", shortID(k.ID), orDash(k.Label), fmtTime(k.CreatedAt))
	}
	return tw.Flush()
}

// shortID is the displayed id of an API key: the first 12 hex characters of
// its hash.
func shortID(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
