// Package doccheck holds tests that hold the repository's documentation to the repository:
// references that must resolve inside it and API paths that must match the routes.
// It has no code of its own.
package doccheck
