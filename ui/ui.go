// Package ui holds the web console's assets (plain HTML, CSS and ES
// modules, no build step), embedded into brokerd and served at /ui/ by
// handlers when BROKER_UI is on. The console talks to the public API only,
// from the browser, with the API key the user signs in with.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed assets
var assets embed.FS

// Assets returns the console's files, rooted at the directory holding
// index.html.
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
