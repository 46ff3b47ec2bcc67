#!/bin/sh
# Example sandbox: sandbox-init unwraps the bootstrap token into an env file, then the
# "workload" loads it and prints the NAMES (never the values) of the variables it received.
set -eu
sandbox-init write --out /run/env/broker.env
names() { awk 'BEGIN { for (k in ENVIRON) print k }' | sort; }
names > /tmp/before
set -a
. /run/env/broker.env
set +a
echo "variables received from the broker:"
names | comm -13 /tmp/before -
