//go:build reliability

package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/acme/secretsbroker/internal/repo"
)

// brokerdBin is brokerd built once for this test binary.
var brokerdBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "reliability-brokerd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := repo.Root()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	brokerdBin = filepath.Join(dir, "brokerd")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", brokerdBin, "./cmd/brokerd")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "reliability: go build ./cmd/brokerd: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "reliability: built brokerd in %s\n", time.Since(start).Round(time.Millisecond))
	code := m.Run()
	if len(rows.rows) == 0 {
		return code
	}
	table := rows.render()
	fmt.Println(table)
	if p := os.Getenv("RELIABILITY_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(table+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	return code
}
