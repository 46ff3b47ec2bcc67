package redisx

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/acme/secretsbroker/broker"
)

// mapErr turns a go-redis error into a coded broker error: unavailable when
// Redis cannot be reached or cannot serve right now, internal otherwise.
// redis.Nil must be handled by the caller before.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case unavailable(err):
		return broker.WithCode(broker.CodeUnavailable, err, "redis unavailable")
	default:
		return broker.WithCode(broker.CodeInternal, err, "redis command failed")
	}
}

func unavailable(err error) bool {
	for _, target := range []error{
		context.DeadlineExceeded, context.Canceled,
		redis.ErrClosed, redis.ErrPoolTimeout,
		io.EOF, io.ErrUnexpectedEOF, net.ErrClosed,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ETIMEDOUT,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsMasterDownError(err) ||
		redis.IsClusterDownError(err) || redis.IsTryAgainError(err) || redis.IsMaxClientsError(err)
}
