package handlers

import (
	"encoding/json"
	"reflect"

	"github.com/labstack/echo/v4"

	"github.com/acme/secretsbroker/broker"
)

// jsonSerializer is the one encoder of answers: every c.JSON of the API and
// admin listeners goes through it. It is echo's DefaultJSONSerializer
// (encoding/json, HTML escaped, one trailing newline, indented for
// ?pretty), except for a broker.Secret answered on its own and unindented
// (a GET, PUT, create or rollback of a secret): that is written as its
// MarshalJSON bytes. Those are json.Marshal's output, already compact and
// escaped, which the Encoder would scan and copy once more (encoding/json
// compacts whatever a Marshaler returns): same bytes, less work.
type jsonSerializer struct{ echo.DefaultJSONSerializer }

// Serialize writes v as JSON to the answer; the error of a value that cannot
// be encoded is encoding/json's (an internal error, nothing written).
func (j jsonSerializer) Serialize(c echo.Context, v any, indent string) error {
	sec, ok := v.(broker.Secret)
	if !ok || indent != "" {
		return j.DefaultJSONSerializer.Serialize(c, v, indent)
	}
	b, err := sec.MarshalJSON()
	if err != nil {
		return &json.MarshalerError{Type: reflect.TypeFor[broker.Secret](), Err: err}
	}
	_, err = c.Response().Write(append(b, '\n'))
	return err
}
