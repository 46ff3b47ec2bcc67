module github.com/acme/secretsbroker

go 1.26
