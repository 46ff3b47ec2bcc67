package handlers

import "github.com/labstack/echo/v4"

// jsonSerializer is the one encoder of answers: every c.JSON of the API and
// admin listeners goes through it. It is echo's DefaultJSONSerializer
// (encoding/json, HTML escaped, one trailing newline, indented for
// ?pretty). A Secret is not a Marshaler (only its HostList is), so a list
// of secrets is encoded in one pass.
type jsonSerializer struct{ echo.DefaultJSONSerializer }
