#!/usr/bin/env bash
# End to end with the built binary, as `make run` wires it: a fresh database,
# migrate, sandbox + serve on free ports, a caller, then curl. Part of `make test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=.build/debug/account-gateway
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
keep_logs() { cp -r "$work" /tmp/e2e-last 2>/dev/null || true; }

fail() { keep_logs; echo "e2e: FAIL: $*" >&2; echo "--- gateway log" >&2; tail -n 40 "$work/serve.log" >&2 || true; exit 1; }
passed=0
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "e2e: ok - $1"; else fail "$1: expected '$2', got '$3'"; fi
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

db=account_gateway_e2e
scripts/localpg.sh psql -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER gateway" >/dev/null
export DATABASE_URL=$(scripts/localpg.sh url $db)
export TENCENT_SDKAPPID=1400000000
export LOG_LEVEL=debug  # the secrets check below reads the most talkative logs
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/key"
chmod 600 "$work/key"  # a key file that group or others may read is refused
export TENCENT_SECRET_KEY_FILE=$work/key
sandbox_port=$(free_port)
gateway_port=$(free_port)
export TENCENT_ENDPOINT=http://127.0.0.1:$sandbox_port
export GATEWAY_LISTEN=127.0.0.1:$gateway_port
base=http://127.0.0.1:$gateway_port

"$bin" migrate 2>"$work/migrate.log" || fail "migrate"
"$bin" migrate --service-role gateway_service 2>>"$work/migrate.log" || fail "migrate is not idempotent, or --service-role failed"
# From here on every command runs as the service role, which owns nothing, but
# managing callers, which is the owner's (DATABASE_URL=$owner_url).
owner_url=$DATABASE_URL
export DATABASE_URL=$(scripts/localpg.sh service-url $db)
check "--database-url refuses a password on the command line" 1 "$("$bin" migrate --database-url 'postgresql://u:s3cret@127.0.0.1:1/x' 2>&1 | grep -c 'must not carry a password')"
check "audit verify exits 2 when it cannot check, not 1 (broken)" 2 "$("$bin" audit verify --no-record --database-url 'postgresql://127.0.0.1:1/x' >/dev/null 2>&1; echo $?)"
check "a command's PostgreSQL error says what the server said" 1 "$("$bin" caller add e2e_not_owner --role importer 2>&1 | grep -c 'SQLSTATE 42501: permission denied for table callers')"
check "migrate refuses to make the owner its own service role" 1 "$(DATABASE_URL=$owner_url "$bin" migrate --service-role gateway 2>&1 | grep -c 'the role migrate runs as')"
"$bin" sandbox --listen "127.0.0.1:$sandbox_port" 2>"$work/sandbox.log" & pids+=($!)
"$bin" serve 2>"$work/serve.log" & serve_pid=$!; pids+=($serve_pid)
for _ in $(seq 1 100); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
check "readyz" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")"

token=$(DATABASE_URL=$owner_url "$bin" caller add e2e-importer --role importer 2>/dev/null | tail -n 1)
auditor=$(DATABASE_URL=$owner_url "$bin" caller add e2e-auditor --role auditor 2>/dev/null | tail -n 1)
[ -n "$token" ] || fail "caller add printed no token"

post() { curl -s -o "$work/body" -w '%{http_code}' -X POST "$base/accounts" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$2"; }
check "first import answers 201" 201 "$(post "$token" '{"user_id":"e2e_user_1","nick":"Ann"}')"
check "body says imported" imported "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$work/body")"
check "repeat answers 200" 200 "$(post "$token" '{"user_id":"e2e_user_1","nick":"Ann"}')"
check "sandbox saw exactly one import" 1 "$(curl -s "http://127.0.0.1:$sandbox_port/sandbox/accounts/e2e_user_1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["import_count"])')"
check "lookup by auditor" 200 "$(curl -s -o "$work/body" -w '%{http_code}' "$base/accounts/e2e_user_1" -H "Authorization: Bearer $auditor")"
check "lookup shows imported" imported "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$work/body")"
check "auditor may not import" 403 "$(post "$auditor" '{"user_id":"e2e_user_2"}')"
check "no token" 401 "$(post "" '{"user_id":"e2e_user_2"}')"
check "invalid user_id" 400 "$(post "$token" '{"user_id":"not valid!"}')"
check "problem+json" "application/problem+json; charset=utf-8" "$(curl -s -o /dev/null -w '%{content_type}' -X POST "$base/accounts" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{}')"
check "nick too long" 400 "$(post "$token" "{\"user_id\":\"e2e_user_3\",\"nick\":\"$(printf 'x%.0s' $(seq 1 501))\"}")"
check "not JSON" 415 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/accounts" -H "Authorization: Bearer $token" -H 'Content-Type: text/plain' -d 'x')"
check "no partial row after bad input" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$base/accounts/e2e_user_3" -H "Authorization: Bearer $auditor")"
check "request id echoed" "X-Request-ID: e2e-req-1" "$(curl -s -D - -o /dev/null "$base/healthz" -H 'X-Request-ID: e2e-req-1' | tr -d '\r' | grep -i '^x-request-id:' | sed 's/^[^:]*:/X-Request-ID:/')"


printf 'user_id,nick,face_url\ne2e_bulk_1,Bulk One,\ne2e_bulk_2,"Bulk, Two",https://example.com/2.png\n' > "$work/bulk.csv"
check "import FILE exits 0 when every row is imported" 0 "$("$bin" import "$work/bulk.csv" >/dev/null 2>"$work/import.log"; echo $?)"
check "imported rows are in the sandbox" "Bulk, Two" "$(curl -s "http://127.0.0.1:$sandbox_port/sandbox/accounts/e2e_bulk_2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["nick"])')"
printf 'user_id\nnot valid!\n' > "$work/bad.csv"
check "import of a directory says so" 1 "$("$bin" import "$work" 2>&1 | grep -c 'it is a directory')"
check "import FILE exits non-zero on a bad row" 1 "$("$bin" import "$work/bad.csv" >/dev/null 2>&1; echo $?)"
check "reconcile finds nothing drifted" 1 "$("$bin" reconcile 2>/dev/null | grep -c ' 0 missing there')"
kill -TERM "$serve_pid"
wait "$serve_pid" && status=0 || status=$?
check "serve exits 0 on SIGTERM" 0 "$status"

# UserSig against Tencent's official generator and an independent verifier.
pylib=$root/.local/pylib
if ! PYTHONPATH=$pylib python3 -c 'import TLSSigAPIv2' 2>/dev/null; then
    python3 -m pip install -q --disable-pip-version-check --target "$pylib" tls-sig-api-v2==1.1 \
        || fail "cannot install Tencent's official generator (pip install tls-sig-api-v2)"
fi
official=$(PYTHONPATH=$pylib python3 -c 'import sys, TLSSigAPIv2; print(TLSSigAPIv2.TLSSigAPIv2(int(sys.argv[1]), open(sys.argv[2]).read().strip()).gen_sig("administrator"))' "$TENCENT_SDKAPPID" "$TENCENT_SECRET_KEY_FILE")
tencent_call() { curl -s -X POST "http://127.0.0.1:$sandbox_port/v4/im_open_login_svc/account_import?sdkappid=$TENCENT_SDKAPPID&identifier=administrator&usersig=$1&random=12345&contenttype=json" -d '{"UserID":"official_sig_user"}' | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ActionStatus"], d["ErrorCode"])'; }
check "sandbox accepts the official generator's UserSig" "OK 0" "$(tencent_call "$official")"
check "sandbox rejects a tampered UserSig" "FAIL" "$(tencent_call "${official:0:40}A${official:41}" | cut -d' ' -f1)"
independent() { python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import tencent_verifier as v; print(v.verify(sys.argv[2], sys.argv[3], int(sys.argv[4]), open(sys.argv[5]).read().strip()))' "$root/scripts" "$@"; }
check "usersig command verifies independently" None "$(independent "$("$bin" usersig)" administrator "$TENCENT_SDKAPPID" "$TENCENT_SECRET_KEY_FILE")"
check "the independent verifier rejects the official one for another admin" identifier "$(independent "$official" someone_else "$TENCENT_SDKAPPID" "$TENCENT_SECRET_KEY_FILE")"

# What serve really sends: a replica (the only one now) whose upstream is the independent verifier.
verifier_port=$(free_port)
second_port=$(free_port)
python3 scripts/tencent_verifier.py "$verifier_port" "$TENCENT_SDKAPPID" "$TENCENT_SECRET_KEY_FILE" & pids+=($!)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$verifier_port/verified" >/dev/null 2>&1 && break; sleep 0.1; done
TENCENT_ENDPOINT=http://127.0.0.1:$verifier_port GATEWAY_LISTEN=127.0.0.1:$second_port "$bin" serve 2>"$work/serve2.log" & second_pid=$!; pids+=($second_pid)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$second_port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
check "import through the independent verifier answers 201" 201 "$(curl -s -o "$work/body" -w '%{http_code}' -X POST "http://127.0.0.1:$second_port/accounts" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"user_id":"e2e_verified"}')"
check "the independent verifier accepted the gateway's UserSig" 1 "$(curl -s "http://127.0.0.1:$verifier_port/verified" | python3 -c 'import json,sys; print(json.load(sys.stdin)["verified"])')"

# A wrong key, alone on the database: the circuit breaker opens after the first
# 70009, requests answer 202 at once, /readyz says why; the fixed key file is
# picked up on SIGHUP, without a restart, and the account is imported.
kill -TERM "$serve_pid" "$second_pid"; wait "$serve_pid" "$second_pid" 2>/dev/null || true
printf 'not-the-app-key' > "$work/wrong_key"
chmod 644 "$work/wrong_key"
check "a key file readable by others is refused at start-up, saying so" 1 "$(TENCENT_SECRET_KEY_FILE=$work/wrong_key "$bin" serve 2>&1 | grep -c 'readable by group or others (mode 0644)' || true)"
chmod 600 "$work/wrong_key"
third_port=$(free_port)
TENCENT_SECRET_KEY_FILE=$work/wrong_key GATEWAY_LISTEN=127.0.0.1:$third_port "$bin" serve 2>"$work/serve3.log" & third_pid=$!; pids+=($third_pid)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$third_port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
post3() { curl -s -o "$work/body" -w '%{http_code}' -X POST "http://127.0.0.1:$third_port/accounts" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "{\"user_id\":\"$1\"}"; }
check "wrong key: the account is accepted as pending" 202 "$(post3 e2e_key_1)"
started=$(date +%s%N)
check "wrong key: the next request is answered 202 too" 202 "$(post3 e2e_key_2)"
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
check "wrong key: ... at once, without waiting GATEWAY_WAIT_MS (${elapsed_ms} ms)" yes "$([ "$elapsed_ms" -lt 1000 ] && echo yes || echo no)"
check "readyz stays ready and names the breaker's code" yes "$(curl -s "http://127.0.0.1:$third_port/readyz" | python3 -c 'import json,sys; print("yes" if "70009" in json.load(sys.stdin).get("upstream", "") else "no")')"
check "the sandbox saw one bad signature, not a storm" 1 "$(curl -s "http://127.0.0.1:$sandbox_port/sandbox/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["answers"].get("70009", 0))')"
cp "$TENCENT_SECRET_KEY_FILE" "$work/wrong_key"
kill -HUP "$third_pid"
status=pending
for _ in $(seq 1 100); do
    status=$(curl -s "http://127.0.0.1:$third_port/accounts/e2e_key_2" -H "Authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    [ "$status" = imported ] && break; sleep 0.1
done
check "after SIGHUP with the fixed key file the backlog is imported" imported "$status"
check "the reload came from SIGHUP and is logged" 2 "$(grep -c -e 'SIGHUP: reloading' -e 'secret key reloaded' "$work/serve3.log" || true)"
# A Kubernetes Secret changes without a signal: the file's content is looked at every 5 s.
printf 'rotated-key' > "$work/wrong_key"
reloads=1
for _ in $(seq 1 80); do
    reloads=$(grep -c 'secret key reloaded' "$work/serve3.log" || true)
    [ "$reloads" = 2 ] && break; sleep 0.1
done
check "a changed key file is picked up without a signal" 2 "$reloads"

key=$(cat "$TENCENT_SECRET_KEY_FILE")
check "no secret key or UserSig in any log" 0 "$(cat "$work"/*.log | grep -c -e "$key" -e 'usersig=[^R&]' -e 'TLS.sig' || true)"
check "audit verify on the trail written above" 0 "$("$bin" audit verify >/dev/null 2>&1; echo $?)"
echo "$passed passed, 0 failed"
