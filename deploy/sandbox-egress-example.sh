#!/bin/sh
# Example sandbox in egress mode: sandbox-init unwraps the bootstrap token and runs the
# workload with placeholders instead of values, HTTPS_PROXY set to egressd (with this
# sandbox's credentials) and SSL_CERT_FILE & co. pointing at a CA bundle that trusts the
# egress CA. The workload prints the variables' names, shows that each value variable holds
# a placeholder (never a value), then sends one request through egressd, which puts the
# real value in its Authorization header on the way out.
set -eu
exec sandbox-init exec -- /bin/sh -c '
echo "variables received from the broker (values are placeholders):"
env | cut -d= -f1 | sort | grep -v -e "^HOME$" -e "^PATH$" -e "^PWD$" -e "^SHLVL$" -e "^HOSTNAME$"
for v in $(env | grep "bph_" | cut -d= -f1); do
  echo "  $v holds a placeholder ($(printenv "$v" | wc -c) characters, marker bph_)"
done
key=$(env | grep "bph_" | head -n 1 | cut -d= -f2-)
if [ -n "$key" ]; then
  echo "one request through egressd to $EXAMPLE_URL:"
  wget -q -S -O - --header "Authorization: Bearer $key" "$EXAMPLE_URL" 2>&1 | head -n 5 || true
fi
'
