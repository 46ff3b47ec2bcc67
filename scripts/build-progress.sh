#!/usr/bin/env bash
# build-progress.sh [GO BUILD FLAGS...] PACKAGE: `go build -v` in the current module, with a
# progress line on stderr every PROGRESS_EVERY packages (default: every 5% of the total) and
# at least once a minute while packages keep completing:
#   get-vault: compiled 850/2961 packages (6m12s)
# The total is `go list -deps PACKAGE`; packages already in the build cache are not compiled
# again, so the count may end below it. Compiler errors pass through unchanged; the exit status
# is go build's. PROGRESS_PREFIX names the caller in the lines (default "build").
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: build-progress.sh [go build flags...] PACKAGE" >&2; exit 2; }
pkg="${!#}"
prefix="${PROGRESS_PREFIX:-build}"

# Without a total (go list failed: go build will say why) the lines show the count alone.
total=$(go list -deps "$pkg" 2>/dev/null | wc -l) || total=0
every="${PROGRESS_EVERY:-$((total / 20 > 0 ? total / 20 : 50))}"
if [ "$total" -gt 0 ]; then
  echo "$prefix: compiling up to $total packages" >&2
  of="/$total"
else
  of=""
fi

start=$SECONDS
elapsed() { local s=$((SECONDS - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# `go build -v` prints each package's import path as it builds it; anything else (errors,
# "# pkg" headers) is not a bare import path and goes through as is.
n=0 last=$SECONDS
shopt -s lastpipe # the loop runs in this shell, so n survives it
set +e
go build -v "$@" 2>&1 | while IFS= read -r line; do
  if [[ "$line" =~ ^[^[:space:]:#]+$ ]]; then
    n=$((n + 1))
    if ((n % every == 0 || SECONDS - last >= 60)); then
      echo "$prefix: compiled $n$of packages ($(elapsed))" >&2
      last=$SECONDS
    fi
  else
    printf '%s\n' "$line" >&2
  fi
done
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 0 ]; then
  if [ "$total" -gt 0 ]; then
    echo "$prefix: compiled $n packages in $(elapsed) (the other $((total - n)) of $total were in the build cache)" >&2
  else
    echo "$prefix: compiled $n packages in $(elapsed)" >&2
  fi
else
  echo "$prefix: go build failed after $(elapsed) (exit $rc)" >&2
fi
exit "$rc"
