package redisx

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// RouteLibraryLogs sends go-redis's own log lines (dial failures, pool
// events) to log at warn level instead of stderr. go-redis has one logger per
// process, so this is process-wide: call it once from main, never from a
// library or a test that runs in parallel with others.
func RouteLibraryLogs(log zerolog.Logger) {
	redis.SetLogger(libLogger{log: log.With().Str("component", "go-redis").Logger()})
}

type libLogger struct{ log zerolog.Logger }

// Printf keeps the library's text in a field; the message stays constant.
func (l libLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Str("detail", fmt.Sprintf(format, v...)).Msg("go-redis")
}
