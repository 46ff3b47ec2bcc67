package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/broker"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// readBody reads the whole body within MaxBodyBytes.
func readBody(c echo.Context) ([]byte, error) {
	r := http.MaxBytesReader(c.Response(), c.Request().Body, MaxBodyBytes)
	b, err := io.ReadAll(r)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errTooLarge()
	}
	if err != nil {
		return nil, broker.WithCode(broker.CodeInvalid, err, "could not read the request body")
	}
	c.Request().Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// bind is the one decoding path: body limit, JSON object required, type
// errors and unknown fields named by field (422).
func bind(c echo.Context, v any) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

// decodeJSON decodes one JSON object into v with errors a person can act on.
func decodeJSON(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return broker.Invalid(broker.FieldError{Field: "body", Message: "a JSON object is required"})
	}
	if msg := textError(b); msg != "" {
		return broker.Invalid(broker.FieldError{Field: "body", Message: msg})
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return broker.Invalid(broker.FieldError{Field: field, Message: fmt.Sprintf("must be %s", jsonKind(te.Type.Kind().String()))})
		case errors.As(err, &se):
			return broker.Invalid(broker.FieldError{Field: "body", Message: fmt.Sprintf("malformed JSON at byte %d", se.Offset)})
		default:
			return broker.Invalid(broker.FieldError{Field: "body", Message: "malformed JSON"})
		}
	}
	if dec.More() {
		return broker.Invalid(broker.FieldError{Field: "body", Message: "exactly one JSON object is expected"})
	}
	if unknown := unknownFields(b, v); len(unknown) > 0 {
		return broker.Invalid(unknown...)
	}
	return nil
}

func jsonKind(k string) string {
	switch {
	case k == "string":
		return "a string"
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "a number"
	case k == "bool":
		return "a boolean"
	case k == "slice", k == "array":
		return "an array"
	case k == "ptr":
		return "a string or null"
	default:
		return "an object"
	}
}
