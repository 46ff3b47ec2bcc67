#!/bin/sh
# One-shot: initialise Vault (1 key share) on first run, then unseal it.
# Keys live in $KEYS_DIR (a volume): unseal-key (root only) and root-token
# (readable by the broker's uid, for the setup job). Runs in the hashicorp/vault image.
set -eu
: "${VAULT_ADDR:?}"
KEYS_DIR="${KEYS_DIR:-/vault/keys}"
BROKER_UID="${BROKER_UID:-10001}"
umask 077
log() { echo "vault-init: $*" >&2; }

# vault status: exit 0 unsealed, 2 sealed, 1 error (not reachable yet).
deadline=$(( $(date +%s) + 120 ))
while :; do
  rc=0; vault status >/dev/null 2>&1 || rc=$?
  [ "$rc" -ne 1 ] && break
  [ "$(date +%s)" -lt "$deadline" ] || { log "Vault at $VAULT_ADDR not reachable in 120s"; exit 1; }
  sleep 1
done

if vault status 2>/dev/null | grep -Eq '^Initialized[[:space:]]+false'; then
  log "initialising"
  out="$(vault operator init -key-shares=1 -key-threshold=1)"
  printf '%s\n' "$out" | sed -n 's/^Unseal Key 1: //p' > "$KEYS_DIR/unseal-key"
  printf '%s\n' "$out" | sed -n 's/^Initial Root Token: //p' > "$KEYS_DIR/root-token"
  unset out
  [ -s "$KEYS_DIR/unseal-key" ] && [ -s "$KEYS_DIR/root-token" ] || { log "could not parse init output"; exit 1; }
  chmod 600 "$KEYS_DIR/unseal-key" "$KEYS_DIR/root-token"
  chown "$BROKER_UID" "$KEYS_DIR/root-token"
fi
[ -s "$KEYS_DIR/unseal-key" ] || { log "Vault is initialised but $KEYS_DIR/unseal-key is missing"; exit 1; }

if vault status >/dev/null 2>&1; then
  log "already unsealed"
  exit 0
fi
# Send the key from a file, never on a command line.
req="$(mktemp)"
printf '{"key":"%s"}' "$(cat "$KEYS_DIR/unseal-key")" > "$req"
wget -q -O /dev/null --header 'Content-Type: application/json' --post-file "$req" "$VAULT_ADDR/v1/sys/unseal"
rm -f "$req"
vault status >/dev/null 2>&1 || { log "still sealed"; exit 1; }
log "unsealed"
