#!/usr/bin/env bash
# Prints the path of a usable Vault server binary on stdout (and nothing else there).
#   1. $VAULT_BIN if set; 2. `vault` on PATH; 3. a cached build of Vault v1.21.4,
#   building it from its Go module (docs/design.md section 8) when the cache is empty.
# A cold build is slow: it downloads ~4 GB of modules and compiles ~2,600 packages; one
# took 18 min 48 s on 2 cores. It prints progress ("compiled N/M packages") to stderr meanwhile.
# With --no-build it only looks (1-3) and fails at once, naming how to get Vault.
# Progress goes to stderr. The cache lives outside the checkout so every clone reuses it.
set -euo pipefail

NO_BUILD=0
case "${1:-}" in
  --no-build) NO_BUILD=1 ;;
  "") ;;
  *) echo "usage: get-vault.sh [--no-build]" >&2; exit 2 ;;
esac
SCRIPTS="$(cd "$(dirname "$0")" && pwd)"

VAULT_VERSION="${VAULT_VERSION:-1.21.4}"
CACHE_ROOT="${BROKER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/secrets-broker}"
CACHED="$CACHE_ROOT/vault-$VAULT_VERSION/vault"

log() { echo "get-vault: $*" >&2; }

usable() { [ -x "$1" ] && "$1" version >/dev/null 2>&1; }

if [ -n "${VAULT_BIN:-}" ]; then
  usable "$VAULT_BIN" || { log "VAULT_BIN=$VAULT_BIN is not a runnable vault binary"; exit 1; }
  echo "$VAULT_BIN"; exit 0
fi
if p=$(command -v vault 2>/dev/null) && usable "$p"; then
  echo "$p"; exit 0
fi
if usable "$CACHED"; then
  echo "$CACHED"; exit 0
fi

if [ "$NO_BUILD" = 1 ]; then
  log "no Vault binary: not \$VAULT_BIN, not on PATH, not in $CACHED;" \
    "run 'make vault' once to build it (a cold build took 18 min 48 s on 2 cores)"
  exit 1
fi
command -v go >/dev/null || { log "go is required to build Vault"; exit 1; }
mkdir -p "$(dirname "$CACHED")"
# One build at a time per cache folder (parallel test packages may all ask).
exec 9>"$CACHE_ROOT/vault-$VAULT_VERSION.lock"
flock 9
if usable "$CACHED"; then echo "$CACHED"; exit 0; fi

log "building Vault v$VAULT_VERSION from its Go module into $CACHED"
log "a cold build downloads ~4 GB of modules and took 18 min 48 s on 2 cores; progress follows"
start=$SECONDS
since() { local s=$((SECONDS - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
scratch=$(mktemp -d)
trap 'chmod -R u+w "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT
cd "$scratch"
export GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0

log "downloading the Vault module"
src=$(go mod download -json "github.com/hashicorp/vault@v$VAULT_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { log "could not download github.com/hashicorp/vault@v$VAULT_VERSION"; exit 1; }
cp -r "$src" vault
chmod -R u+w vault

# The release's sdk differs from every published sdk; adapt the three call sites that
# disagree with sdk v0.21.0 (in this scratch copy only).
perl -0pi -e 's/ActivationFunc: iStore\.activateDeduplication,/ActivationFunc: func(ctx context.Context, req *logical.Request, _ string) error { return iStore.activateDeduplication(ctx, req) },/' vault/vault/identity_store.go
perl -0pi -e 's/ActivationFunc\(ctx, nil\)/ActivationFunc(ctx, nil, "")/' vault/vault/logical_system_activation_flags.go
perl -0pi -e 's/restoredKeyName, err := b\.lm\.RestorePolicy\(ctx, req\.Storage, keyName, backupB64, force\)/restoredKeyName := keyName\n\terr := b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)/' vault/builtin/logical/transit/path_restore.go
grep -q 'iStore.activateDeduplication(ctx, req)' vault/vault/identity_store.go
grep -q 'ActivationFunc(ctx, nil, "")' vault/vault/logical_system_activation_flags.go
grep -q 'restoredKeyName := keyName' vault/builtin/logical/transit/path_restore.go

goversion=$(sed -n 's/^go //p' vault/go.mod)
{
  echo "module vaultbuild"
  echo "go $goversion"
  echo "require github.com/hashicorp/vault v$VAULT_VERSION"
  echo "replace github.com/hashicorp/vault => ./vault"
  # Replaces of Vault's own go.mod that point outside it (those are ignored for a dependency).
  grep -E '^replace ' vault/go.mod | grep -v '=> \./' || true
} > go.mod
# Keep Vault's own go.sum so dependency versions resolve as its release did.
cp vault/go.sum go.sum
log "downloading Vault's dependencies ($(since) so far; silent for minutes on a cold cache)"
go mod tidy -e >/dev/null 2>&1 || true
log "dependencies ready ($(since)); compiling"
PROGRESS_PREFIX=get-vault "$SCRIPTS/build-progress.sh" -trimpath -ldflags "-s -w" -o "$CACHED.tmp" github.com/hashicorp/vault
mv "$CACHED.tmp" "$CACHED"
usable "$CACHED" || { log "built binary does not run"; exit 1; }
log "built $("$CACHED" version) in $(since)"
echo "$CACHED"
