package main

import (
	"os"
	"testing"

	"github.com/acme/secretsbroker/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBuilds()
	os.Exit(code)
}
