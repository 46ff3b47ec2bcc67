package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// routeMethods are the methods a route of the API may have.
var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// apiNotFound answers a request under a group that no route of its method
// matches (catchAll is the group's catch-all path): 405 with Allow when the
// path has routes for other methods, 204 with Allow for OPTIONS on such a
// path, else 404. It runs after the group's middleware, so authentication
// and rate limits come first, as for every route of the group.
func apiNotFound(e *echo.Echo, catchAll string) echo.HandlerFunc {
	return func(c echo.Context) error {
		path := c.Request().URL.RawPath
		if path == "" {
			path = c.Request().URL.Path
		}
		var allow []string
		for _, m := range routeMethods {
			if m == c.Request().Method {
				continue
			}
			probe := e.NewContext(nil, nil)
			e.Router().Find(m, path, probe)
			if p := probe.Path(); p != "" && p != catchAll {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			return echo.ErrNotFound
		}
		c.Response().Header().Set(echo.HeaderAllow, strings.Join(append(allow, http.MethodOptions), ", "))
		if c.Request().Method == http.MethodOptions {
			return c.NoContent(http.StatusNoContent)
		}
		return echo.ErrMethodNotAllowed
	}
}
