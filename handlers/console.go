package handlers

import (
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

// consoleCSP is the console's Content-Security-Policy: its own scripts,
// styles and API only; no inline script or style, no framing, no <base>,
// forms submit nowhere else.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// consoleRedirect sends /ui to /ui/, where the assets' relative URLs resolve.
func (s *Server) consoleRedirect(c echo.Context) error {
	return c.Redirect(http.StatusMovedPermanently, "/ui/")
}

// console serves one file of the embedded console (index.html for /ui/),
// with the API's security headers, no-store, and the console's CSP.
// Errors: not found (404 envelope) for any other path.
func (s *Server) console(c echo.Context) error {
	name := c.Param("*")
	if name == "" {
		name = "index.html"
	}
	if !fs.ValidPath(name) || strings.HasPrefix(path.Base(name), ".") {
		return echo.ErrNotFound
	}
	if st, err := fs.Stat(s.d.Console, name); err != nil || st.IsDir() {
		return echo.ErrNotFound
	}
	b, err := fs.ReadFile(s.d.Console, name)
	if err != nil {
		return echo.ErrNotFound
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	c.Response().Header().Set("Content-Security-Policy", consoleCSP)
	return c.Blob(http.StatusOK, ctype, b)
}
