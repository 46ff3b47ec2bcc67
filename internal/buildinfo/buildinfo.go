// Package buildinfo says which build a binary is: its version, the commit
// it was built from and the Go version, for every binary's --version.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Commit may be set at link time, for release builds:
//
//	go build -ldflags "-X github.com/acme/secretsbroker/internal/buildinfo.Version=v1.2.3 -X github.com/acme/secretsbroker/internal/buildinfo.Commit=abc1234"
//
// Left empty, they come from the module and VCS information Go records in
// the binary (runtime/debug.ReadBuildInfo). They are written only by the
// linker.
var (
	Version string
	Commit  string
)

// Info is one binary's build.
type Info struct {
	Version   string // module version, "(devel)" for a local build
	Commit    string // VCS revision, "+dirty" when built from a modified tree; "unknown" without VCS information
	GoVersion string
}

// Read returns the build information of the running binary.
func Read() Info {
	i := Info{Version: "(devel)", Commit: "unknown", GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			i.Version = v
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			i.Commit = rev + dirty
		}
	}
	if Version != "" {
		i.Version = Version
	}
	if Commit != "" {
		i.Commit = Commit
	}
	return i
}

// String is the --version line of the binary called name:
// "brokerd (devel) commit 0123abc go1.26.0".
func String(name string) string {
	i := Read()
	return fmt.Sprintf("%s %s commit %s %s", name, i.Version, i.Commit, i.GoVersion)
}
