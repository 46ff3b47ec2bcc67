package handlers

import _ "embed"

//go:embed openapi.json
var openapiSpec []byte

// OpenAPISpec returns the committed OpenAPI 3 description of the API, as
// served at GET /openapi.json.
func OpenAPISpec() []byte { return openapiSpec }
