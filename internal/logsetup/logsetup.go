// Package logsetup builds the one zerolog logger a binary passes down, from
// its log level setting.
package logsetup

import (
	"io"

	"github.com/rs/zerolog"

	"github.com/acme/secretsbroker/internal/exit"
)

// New returns a logger writing JSON lines to w at level, each with a
// timestamp and "service": service. An empty or unknown level is a usage
// error (exit code 2) naming setting, the variable the level came from.
func New(service, setting, level string, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), exit.Usagef("%s %q: want debug, info, warn or error", setting, level)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("service", service).Logger(), nil
}
