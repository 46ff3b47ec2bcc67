#!/usr/bin/env bash
# Summarises the BROKER_TESTENV_REPORT file written by internal/testenv during `make test`:
# which real servers the integration tests ran against, and any test skipped for lack of one.
set -euo pipefail
report="${1:?usage: test-report.sh REPORT_FILE}"
if [ ! -s "$report" ]; then
  echo "testenv: no test started a Vault or Redis server"
  exit 0
fi
awk '
  $1 == "vault" { v++; vpkg[$2] = 1; mode[$3]++; if ($4 != "") bin = $4 }
  $1 == "redis" { r++; rpkg[$2] = 1; if ($3 != "") rbin = $3 }
  $1 == "sentinel" { sn++ }
  $1 == "skip"  { s++; $1 = ""; skips[s] = $0 }
  END {
    nv = 0; for (p in vpkg) nv++
    nr = 0; for (p in rpkg) nr++
    modes = ""; for (m in mode) modes = modes (modes == "" ? "" : ", ") mode[m] " " m
    printf "testenv: %d real Vault servers (%s) in %d packages, %d real redis-server in %d packages\n", v, modes == "" ? "none" : modes, nv, r, nr
    if (bin != "") printf "testenv: vault binary %s\n", bin
    if (rbin != "") printf "testenv: redis binary %s\n", rbin
    if (sn > 0) printf "testenv: %d Redis Sentinel setups (master, 2 replicas, 3 sentinels)\n", sn
    if (s == 0) print "testenv: no test skipped for lack of Vault or Redis"
    for (i = 1; i <= s; i++) printf "testenv: SKIPPED in%s\n", skips[i]
  }' "$report"
if bin=$(awk '$1 == "vault" && $4 != "" { print $4; exit }' "$report") && [ -n "$bin" ] && [ -x "$bin" ]; then
  echo "testenv: $("$bin" version)"
fi
