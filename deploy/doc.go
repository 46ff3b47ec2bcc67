// Package deploy holds the tests of the deployment files: docker-compose.yml and the scripts
// its containers run. It has no code of its own.
package deploy
