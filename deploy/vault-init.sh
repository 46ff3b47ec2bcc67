#!/bin/sh
# Initialises Vault (1 key share) on its first run and unseals it; with --watch it then
# stays up and unseals Vault again whenever it finds it sealed (after every restart of the
# Vault container), checking every $UNSEAL_INTERVAL seconds (default 5).
# Keys live in $KEYS_DIR (a volume): unseal-key (root only) and root-token (readable by the
# broker's uid, for the setup job). Runs in the hashicorp/vault image (vault CLI, wget).
set -eu
: "${VAULT_ADDR:?}"
KEYS_DIR="${KEYS_DIR:-/vault/keys}"
BROKER_UID="${BROKER_UID:-10001}"
UNSEAL_INTERVAL="${UNSEAL_INTERVAL:-5}"
WATCH=0
case "${1:-}" in
  --watch) WATCH=1 ;;
  "") ;;
  *) echo "usage: vault-init.sh [--watch]" >&2; exit 2 ;;
esac
umask 077
log() { echo "vault-init: $*" >&2; }
# As PID 1 of a container, sh ignores SIGTERM unless it is trapped: docker stop must work.
trap 'exit 0' TERM INT

# vault_status: 0 unsealed, 2 sealed, 1 error (not reachable yet).
vault_status() { rc=0; vault status >/dev/null 2>&1 || rc=$?; return "$rc"; }

# pause SECONDS, interruptible by the trap above.
pause() { sleep "$1" & wait $! || true; }

wait_reachable() {
  deadline=$(( $(date +%s) + 120 ))
  while :; do
    rc=0; vault_status || rc=$?
    [ "$rc" -ne 1 ] && return 0
    [ "$(date +%s)" -lt "$deadline" ] || { log "Vault at $VAULT_ADDR not reachable in 120s"; exit 1; }
    pause 1
  done
}

init_once() {
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
}

# unseal: sends the key from a file, never on a command line. Fails if Vault stays sealed.
unseal() {
  req="$(mktemp)"
  printf '{"key":"%s"}' "$(cat "$KEYS_DIR/unseal-key")" > "$req"
  wget -q -O /dev/null --header 'Content-Type: application/json' --post-file "$req" "$VAULT_ADDR/v1/sys/unseal" || true
  rm -f "$req"
  vault_status || { log "still sealed"; return 1; }
  log "unsealed"
}

wait_reachable
init_once
if vault_status; then
  log "already unsealed"
else
  unseal
fi
[ "$WATCH" = 1 ] || exit 0

log "watching: Vault is unsealed again whenever it is found sealed (every ${UNSEAL_INTERVAL}s)"
reported=""
while :; do
  pause "$UNSEAL_INTERVAL"
  rc=0; vault_status || rc=$?
  case "$rc" in
    0) reported="" ;;
    2) log "Vault is sealed (restarted?): unsealing"; unseal || true; reported="" ;;
    *) [ -n "$reported" ] || log "Vault at $VAULT_ADDR does not answer; waiting"; reported=1 ;;
  esac
done
