package auditlog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// sandbox-init exit codes that are alerts (cmd/sandbox-init/exit.go).
const (
	sandboxExitTokenDead = 4
	sandboxExitForged    = 5
)

// SandboxLogStats count what ParseSandboxLog read.
type SandboxLogStats struct {
	Lines   int `json:"lines"`   // non-blank lines
	Skipped int `json:"skipped"` // not a sandbox-init JSON line (workload output, garbage)
}

// ParseSandboxLog reads sandbox-init's stderr (JSON lines; other lines, such
// as a workload's output, are skipped and counted) and returns an alert for
// every run that ended with exit code 5 (creation path mismatch: a forged
// token, not unwrapped) or 4 (token expired, unknown or already used). Only
// a read error of r is returned as an error.
func ParseSandboxLog(r io.Reader) ([]Alert, SandboxLogStats, error) {
	var out []Alert
	var st SandboxLogStats
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			st.Lines++
			st.Skipped++
			for err == bufio.ErrBufferFull { // overlong: skip the rest
				_, err = br.ReadSlice('\n')
			}
			line = nil
		}
		if len(strings.TrimSpace(string(line))) > 0 {
			st.Lines++
			if a, ok := sandboxAlert(line); ok {
				out = append(out, a)
			} else if !isSandboxInitLine(line) {
				st.Skipped++
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, st, err
		}
	}
	SortAlerts(out)
	return out, st, nil
}

type sandboxLine struct {
	Cmd          string `json:"cmd"`
	Level        string `json:"level"`
	Time         string `json:"time"`
	Exit         *int   `json:"exit"`
	SandboxID    string `json:"sandbox_id"`
	CreationPath string `json:"creation_path"`
	Accessor     string `json:"accessor"`
	Message      string `json:"message"`
	Cause        string `json:"cause"`
}

func decodeSandboxLine(line []byte) (sandboxLine, bool) {
	var l sandboxLine
	if err := json.Unmarshal(line, &l); err != nil || l.Cmd != "sandbox-init" {
		return sandboxLine{}, false
	}
	return l, true
}

func isSandboxInitLine(line []byte) bool {
	_, ok := decodeSandboxLine(line)
	return ok
}

func sandboxAlert(line []byte) (Alert, bool) {
	l, ok := decodeSandboxLine(line)
	if !ok || l.Exit == nil || (*l.Exit != sandboxExitForged && *l.Exit != sandboxExitTokenDead) {
		return Alert{}, false
	}
	a := Alert{
		Kind: AlertCreationPath, SandboxID: l.SandboxID, Path: l.CreationPath,
		Accessor: l.Accessor, Source: "sandbox-init",
	}
	if *l.Exit == sandboxExitTokenDead {
		a.Kind = AlertTokenRefused
	}
	if t, err := time.Parse(time.RFC3339Nano, l.Time); err == nil {
		a.Time = t
	}
	a.Message = fmt.Sprintf("sandbox-init exit %d: %s", *l.Exit, oneLine(l.Message))
	if l.Cause != "" {
		a.Message += ": " + oneLine(l.Cause)
	}
	return a, true
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
