package handlers

import (
	"fmt"
	"runtime"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/acme/secretsbroker/broker"
)

// recoverPanics turns a panic into the generic 500 envelope. The panic is
// logged on the request's logger (request id included) with the panicking
// goroutine's stack; its value only when it is a runtime error (nil
// dereference, index out of range), whose message carries no data: any other
// value is named by type alone, since it could quote a secret.
func recoverPanics() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			logger(c).Error().Str("panic", panicSummary(err)).Bytes("stack", stack).Msg("handler panicked")
			return broker.Errorf(broker.CodeInternal, "handler panicked")
		},
	})
}

// panicSummary describes a recovered panic without quoting arbitrary values.
// echo's Recover hands over an error: the value itself when it was one, else
// fmt.Errorf("%v", value).
func panicSummary(err error) string {
	if re, ok := err.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("value withheld (%T)", err)
}
