//go:build race

package main

// raceEnabled: built with -race (sync.Pool then drops a quarter of its Puts).
const raceEnabled = true
