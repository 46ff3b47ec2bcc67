package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/broker"
)

// HeaderIdempotencyKey names the header that makes a POST safe to retry.
const HeaderIdempotencyKey = "Idempotency-Key"

var idemKeyRE = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// ctxKeyReplayBody lets a handler hand the idempotency layer a redacted copy
// of its answer: bootstrap tokens are never stored, so a replay carries the
// runtime without its token.
const ctxKeyReplayBody = "broker.replay_body"

// idempotent replays the first answer to a POST retried with the same
// Idempotency-Key (scoped to the API key, method and path) for 24 hours and
// never runs it twice. A key reused with a different body is refused.
func (s *Server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ik := c.Request().Header.Get(HeaderIdempotencyKey)
		if ik == "" || s.d.Idempotency == nil {
			return next(c)
		}
		if !idemKeyRE.MatchString(ik) {
			return broker.Invalid(broker.FieldError{Field: HeaderIdempotencyKey, Message: "must be 1-255 printable ASCII characters"})
		}
		body, err := readBody(c)
		if err != nil {
			return err
		}
		scope := sha256.Sum256([]byte(apiKeyOf(c).ID + "\x00" + c.Request().Method + "\x00" + c.Request().URL.Path + "\x00" + ik))
		key := hex.EncodeToString(scope[:])
		reqHash := sha256.Sum256(body)
		ctx := c.Request().Context()
		// The claim outlives the request by a margin only: if this replica dies
		// mid-request, a retry can run again after minutes, not after 24 h.
		claimTTL := min(s.cfg.IdempotencyTTL, s.cfg.RequestTimeout+time.Minute)
		stored, claimed, err := s.d.Idempotency.Begin(ctx, key, claimTTL)
		switch {
		case broker.IsCode(err, broker.CodeConflict):
			return broker.Errorf(broker.CodeConflict, "a request with this Idempotency-Key is still in progress; retry shortly")
		case err != nil:
			// Fail closed: without the store a retry could create twice.
			return broker.WithCode(broker.CodeUnavailable, err, "idempotency keys are unavailable; retry later or without an Idempotency-Key")
		case !claimed:
			if stored.RequestHash != hex.EncodeToString(reqHash[:]) {
				return broker.Invalid(broker.FieldError{Field: HeaderIdempotencyKey, Message: "was already used with a different request body"})
			}
			c.Response().Header().Set("Idempotent-Replayed", "true")
			return c.JSONBlob(stored.Status, stored.Body)
		}

		rec := &recorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		err = next(c)
		if err != nil {
			c.Error(err) // write the envelope now so it is recorded
		}
		status := c.Response().Status
		if status >= 500 || status == http.StatusTooManyRequests {
			s.release(c, key)
			return nil
		}
		replay := rec.buf.Bytes()
		if b, ok := c.Get(ctxKeyReplayBody).([]byte); ok {
			replay = b
		}
		resp := broker.StoredResponse{RequestHash: hex.EncodeToString(reqHash[:]), Status: status, Body: bytes.Clone(replay)}
		if cerr := s.d.Idempotency.Complete(ctx, key, resp, s.cfg.IdempotencyTTL); cerr != nil {
			logger(c).Warn().Err(cerr).Str("component", "idempotency").Msg("could not store the answer for replay")
			s.release(c, key)
		}
		return nil
	}
}

func (s *Server) release(c echo.Context, key string) {
	if err := s.d.Idempotency.Release(c.Request().Context(), key); err != nil {
		logger(c).Warn().Err(err).Str("component", "idempotency").Msg("could not release the idempotency key")
	}
}

// recorder copies what a handler writes so the answer can be stored.
type recorder struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}
