#!/usr/bin/env bash
# `make dev`: a local broker against a real Vault and (if installed) Redis, all on 127.0.0.1.
#
#   Vault   dev mode on $VAULT_PORT (default 8200), in memory; or with PERSIST=1 a real server
#           with integrated Raft storage in .dev/vault-data, initialised and unsealed by this
#           script (unseal key and root token kept there, mode 0600, reused next time).
#   Redis   redis-server on 6379 (or the next free port), no persistence; skipped if absent.
#   brokerd `brokerd setup` with the root token (and a file audit device writing to
#           .dev/vault-audit.log), then `brokerd serve` with the AppRole it created.
#   API key `brokerctl apikeys create --user dev --label dev`, printed as an
#           `export BROKER_URL=... BROKER_API_KEY=...` line, with brokerctl and curl examples.
#
# Ctrl-C stops everything this script started and exits 0. Logs: .dev/*.log
# DEV_DIR moves .dev elsewhere; VAULT_PORT, REDIS_PORT and BROKER_LISTEN_ADDR move the ports.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DEV="${DEV_DIR:-$ROOT/.dev}"
VAULT_PORT="${VAULT_PORT:-8200}"
BROKER_LISTEN_ADDR="${BROKER_LISTEN_ADDR:-127.0.0.1:8080}"
READY_SECONDS="${READY_SECONDS:-60}"
DEV_ONLY_INFRA="${DEV_ONLY_INFRA:-0}" # 1: start Vault and Redis only (used to test this script)

log() { echo "dev: $*" >&2; }
die() { log "$*"; exit 1; }

# Processes started here, stopped in reverse order on exit.
PIDS=()
cleanup() {
  local rc=$? i pid
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [ ${#PIDS[@]} -eq 0 ] || log "stopped everything"
  exit "$rc"
}
trap cleanup EXIT
# Ctrl-C is how make dev is meant to end: a clean stop, exit 0 (make reports no error).
trap 'exit 0' INT
trap 'exit 143' TERM

command -v curl >/dev/null || die "curl is required"
mkdir -p "$DEV"
chmod 700 "$DEV"
umask 077

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for DESC CMD...: retry CMD until it succeeds, for at most READY_SECONDS.
wait_for() {
  local desc=$1 deadline=$((SECONDS + READY_SECONDS))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || die "$desc not ready after ${READY_SECONDS}s"
    sleep 0.2
  done
}

# alive PID NAME LOG: fails the script if PID is gone. Ctrl-C reaches every process of the
# group at once, so a child may exit before this shell runs its INT trap: wait a moment so
# that an interrupt ends the script as a clean stop rather than as a failure.
alive() {
  kill -0 "$1" 2>/dev/null && return 0
  sleep 1
  die "$2 exited; see $3"
}

# vault_health prints the HTTP status of /v1/sys/health (000 when nothing answers).
vault_health() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$VAULT_ADDR/v1/sys/health" || true
}
vault_status_is() { alive "$VAULT_PID" vault "$DEV/vault.log"; [ "$(vault_health)" = "$1" ]; }
vault_answers() { alive "$VAULT_PID" vault "$DEV/vault.log"; [ "$(vault_health)" != 000 ]; }

# ---- Vault ----
VAULT="$(scripts/get-vault.sh)"
export VAULT_ADDR="http://127.0.0.1:$VAULT_PORT"
unset VAULT_TOKEN VAULT_NAMESPACE
port_busy "$VAULT_PORT" && die "127.0.0.1:$VAULT_PORT is in use (another Vault?); set VAULT_PORT"

if [ "${PERSIST:-0}" = 1 ]; then
  DATA="$DEV/vault-data"
  mkdir -p "$DATA/raft"
  cat > "$DATA/vault.hcl" <<EOF
storage "raft" {
  path    = "$DATA/raft"
  node_id = "dev"
}
listener "tcp" {
  address         = "127.0.0.1:$VAULT_PORT"
  cluster_address = "127.0.0.1:$((VAULT_PORT + 1))"
  tls_disable     = true
}
api_addr      = "$VAULT_ADDR"
cluster_addr  = "http://127.0.0.1:$((VAULT_PORT + 1))"
disable_mlock = true
ui            = true
EOF
  "$VAULT" server -config="$DATA/vault.hcl" >>"$DEV/vault.log" 2>&1 &
  VAULT_PID=$!
  PIDS+=("$VAULT_PID")
  wait_for "Vault" vault_answers
  if [ "$(vault_health)" = 501 ]; then
    log "initialising Vault (1 key share) in $DATA"
    init="$("$VAULT" operator init -key-shares=1 -key-threshold=1)"
    sed -n 's/^Unseal Key 1: //p' <<<"$init" >"$DATA/unseal-key"
    sed -n 's/^Initial Root Token: //p' <<<"$init" >"$DATA/root-token"
    unset init
    chmod 600 "$DATA/unseal-key" "$DATA/root-token"
    [ -s "$DATA/unseal-key" ] && [ -s "$DATA/root-token" ] || die "could not read vault operator init output"
  fi
  [ -s "$DATA/unseal-key" ] || die "$DATA holds an initialised Vault but no unseal-key file"
  # The key goes through stdin, never a command line.
  printf '{"key":"%s"}' "$(cat "$DATA/unseal-key")" |
    curl -sS -o /dev/null --max-time 5 -X PUT --data-binary @- "$VAULT_ADDR/v1/sys/unseal"
  ROOT_TOKEN="$(cat "$DATA/root-token")"
  VAULT_MODE="raft, data in $DATA"
else
  ROOT_TOKEN="dev-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  printf '%s\n' "$ROOT_TOKEN" >"$DEV/root-token"
  # -dev-root-token-id on the command line is fine for an in-memory dev server on loopback.
  "$VAULT" server -dev -dev-listen-address="127.0.0.1:$VAULT_PORT" \
    -dev-root-token-id="$ROOT_TOKEN" -dev-no-store-token >>"$DEV/vault.log" 2>&1 &
  VAULT_PID=$!
  PIDS+=("$VAULT_PID")
  VAULT_MODE="dev, in memory"
fi
wait_for "Vault" vault_status_is 200
log "Vault ($VAULT_MODE) at $VAULT_ADDR, root token in ${DEV#"$ROOT"/}/$( [ "${PERSIST:-0}" = 1 ] && echo vault-data/)root-token"

# ---- Redis ----
unset REDIS_URL
if command -v redis-server >/dev/null; then
  REDIS_PORT="${REDIS_PORT:-6379}"
  while port_busy "$REDIS_PORT"; do REDIS_PORT=$((REDIS_PORT + 1)); done
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$DEV" \
    >>"$DEV/redis.log" 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  redis_up() {
    alive "$REDIS_PID" redis-server "$DEV/redis.log"
    (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" && printf 'PING\r\n' >&3 && read -r -t 1 reply <&3 &&
      [ "${reply%$'\r'}" = +PONG ]) 2>/dev/null
  }
  wait_for "Redis" redis_up
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  log "Redis at $REDIS_URL"
else
  log "redis-server not installed: the broker runs single-replica without Redis"
fi

if [ "$DEV_ONLY_INFRA" = 1 ]; then
  log "DEV_ONLY_INFRA=1: Vault and Redis are up; Ctrl-C stops them"
  wait "${PIDS[@]}"
  exit 0
fi

# ---- brokerd ----
log "building bin/"
make -s build
log "brokerd setup"
AUDIT_LOG="$DEV/vault-audit.log"
VAULT_TOKEN="$ROOT_TOKEN" bin/brokerd setup --vault-addr "$VAULT_ADDR" --audit-file "$AUDIT_LOG" \
  --role-id-file "$DEV/role_id" --secret-id-file "$DEV/secret_id" >>"$DEV/setup.log" 2>&1 ||
  die "brokerd setup failed; see $DEV/setup.log"

# The server gets its AppRole, never the root token.
BROKER_LISTEN_ADDR="$BROKER_LISTEN_ADDR" \
  BROKER_VAULT_ROLE_ID_FILE="$DEV/role_id" BROKER_VAULT_SECRET_ID_FILE="$DEV/secret_id" \
  bin/brokerd serve >>"$DEV/brokerd.log" 2>&1 &
BROKER_PID=$!
PIDS+=("$BROKER_PID")
URL="http://$BROKER_LISTEN_ADDR"
broker_up() {
  alive "$BROKER_PID" brokerd "$DEV/brokerd.log"
  curl -fs -o /dev/null --max-time 2 "$URL/healthz"
}
wait_for "brokerd" broker_up
ready="$(curl -s --max-time 5 "$URL/readyz" || true)"

API_KEY="$(VAULT_TOKEN="$ROOT_TOKEN" bin/brokerctl apikeys create --user dev --label dev 2>>"$DEV/brokerctl.log" |
  tail -n 1)" || die "brokerctl apikeys create failed; see $DEV/brokerctl.log"
printf '%s\n' "$API_KEY" >"$DEV/api-key"

REL="${DEV#"$ROOT"/}"
ROOT_TOKEN_FILE="$REL/root-token"
[ "${PERSIST:-0}" != 1 ] || ROOT_TOKEN_FILE="$REL/vault-data/root-token"
cat <<EOF

  broker    $URL   (logs: $REL/brokerd.log)
  console   $URL/ui/   (sign in with the API key below)
  readyz    $ready
  vault     $VAULT_ADDR   ($VAULT_MODE; root token in $ROOT_TOKEN_FILE)
  audit     $AUDIT_LOG   (Vault's file audit device: every request, under the user's name)
  redis     ${REDIS_URL:-none}
  API key   for user "dev", also in $REL/api-key

Use it from this shell or another (brokerctl and curl read these two variables):

export BROKER_URL=$URL BROKER_API_KEY=$API_KEY

  printf %s "sk-example-0123456789" | bin/brokerctl secrets set OPENAI_API_KEY --provider openai
  bin/brokerctl secrets list                 # bin/brokerctl --help for every command
  curl -s -H "X-API-Key: \$BROKER_API_KEY" \$BROKER_URL/api/v1/user/secrets

Operator commands talk to Vault directly:

  export VAULT_ADDR=$VAULT_ADDR VAULT_TOKEN=\$(cat $ROOT_TOKEN_FILE)
  bin/brokerctl apikeys create --user USER --label LABEL   # another API key
  bin/brokerctl audit $AUDIT_LOG               # who read what, from the audit log

bin/ (brokerd, brokerctl, sandbox-init) is rebuilt by each make dev, or by make build.
Ctrl-C stops Vault, Redis and brokerd.
EOF

# Run until Ctrl-C (the INT trap: a clean stop) or until one of the processes dies.
exited=""
wait -n -p exited "${PIDS[@]}" && status=0 || status=$?
sleep 1 # as in alive: an interrupt that also stopped a child ends the script through its trap
name=process
case "$exited" in
  "$VAULT_PID") name="vault (see $REL/vault.log)" ;;
  "${REDIS_PID:-none}") name="redis-server (see $REL/redis.log)" ;;
  "$BROKER_PID") name="brokerd (see $REL/brokerd.log)" ;;
esac
die "$name exited with status $status; stopping the others"
