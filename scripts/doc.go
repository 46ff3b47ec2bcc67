// Package scripts holds the tests of the repository's shell scripts and make targets
// (get-vault.sh, build-progress.sh, dev.sh, the Makefile); it has no code of its own.
package scripts
