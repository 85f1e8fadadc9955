#!/usr/bin/env bash
# `make run`: PostgreSQL under .local/, migrations, the sandbox and the gateway
# wired together, and a curl line with a fresh importer token. Ctrl-C stops all.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=.build/debug/account-gateway
mkdir -p .local

export DATABASE_URL=${DATABASE_URL:-$(scripts/localpg.sh url account_gateway)}
export TENCENT_SDKAPPID=${TENCENT_SDKAPPID:-1400000000}
if [ -z "${TENCENT_SECRET_KEY_FILE:-}" ] && [ -z "${TENCENT_SECRET_KEY:-}" ]; then
    # A local key for the sandbox only, made once.
    [ -s .local/secret_key ] || { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .local/secret_key; chmod 600 .local/secret_key; }
    export TENCENT_SECRET_KEY_FILE=$root/.local/secret_key
fi
sandbox_listen=${SANDBOX_LISTEN:-127.0.0.1:9090}
export GATEWAY_LISTEN=${GATEWAY_LISTEN:-127.0.0.1:8080}
export TENCENT_ENDPOINT=${TENCENT_ENDPOINT:-http://$sandbox_listen}

if [ -z "${SERVICE_DATABASE_URL:-}" ] && [ "$DATABASE_URL" = "$(scripts/localpg.sh url account_gateway)" ]; then
    SERVICE_DATABASE_URL=$(scripts/localpg.sh service-url account_gateway)
fi
# Migrate as the owner; serve as the service role, which owns nothing (docs/OPERATIONS.md, Roles).
if [ -n "${SERVICE_DATABASE_URL:-}" ]; then
    service_role=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).username or "")' "$SERVICE_DATABASE_URL")
    "$bin" migrate --service-role "$service_role"
else
    echo "note: SERVICE_DATABASE_URL is not set, so serve runs as the owner role of DATABASE_URL" >&2
    "$bin" migrate
fi
owner_url=$DATABASE_URL

pids=()
cleanup() {
    trap - INT TERM EXIT
    echo
    echo "stopping..." >&2
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/localpg.sh stop
}
trap cleanup INT TERM EXIT

"$bin" sandbox --listen "$sandbox_listen" 2> >(sed -u 's/^/[sandbox] /' >&2) &
pids+=($!)
DATABASE_URL=${SERVICE_DATABASE_URL:-$owner_url} "$bin" serve 2> >(sed -u 's/^/[gateway] /' >&2) &
pids+=($!)

for _ in $(seq 1 100); do
    curl -fsS "http://$GATEWAY_LISTEN/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://$GATEWAY_LISTEN/readyz" >/dev/null || { echo "the gateway did not become ready; see the log above" >&2; exit 1; }

token=$(DATABASE_URL=$owner_url "$bin" caller add "demo-$(date +%s)" --role importer | tail -n 1)
cat <<MSG

  account-gateway is running on http://$GATEWAY_LISTEN (sandbox on http://$sandbox_listen).
  Import an account:

curl -sS -w '\n' -X POST http://$GATEWAY_LISTEN/accounts -H 'Authorization: Bearer $token' -H 'Content-Type: application/json' -d '{"user_id":"demo_user_1","nick":"Demo"}'

  Press Ctrl-C to stop.

MSG
wait
