// Package bench holds benchmarks of the broker against a real Vault: the
// service with its real adapters, and the Vault round trips each operation
// costs. Run them with `go test -run '^$' -bench . ./bench/`.
package bench
