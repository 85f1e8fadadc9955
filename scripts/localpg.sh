#!/usr/bin/env bash
# A throwaway PostgreSQL for `make run` and `make test`, under .local/pg.
#
#   scripts/localpg.sh start   install what is missing, initdb once, start, create role and databases
#   scripts/localpg.sh stop    stop the server (data stays until `make clean`)
#   scripts/localpg.sh restart restart it at once (the fault suite's database outage)
#   scripts/localpg.sh url DB  print the DATABASE_URL for database DB
#
# initdb refuses to run as root, so as root the server runs as the `postgres`
# system user (created by Debian's package). It listens on 127.0.0.1 only.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${LOCALPG_PORT:-55432}
local_dir="$root/.local"
link="$local_dir/pg"
role=gateway
# Owns nothing: what serve, import and reconcile run as (migrate --service-role grants it).
service_role=gateway_service

log() { printf 'localpg: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root to run: $*"; return 1; fi
}

install_packages() {
    if command -v apt-get >/dev/null; then
        log "installing postgresql libpq-dev pkg-config zlib1g-dev"
        as_root apt-get update -qq >/dev/null || true
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql libpq-dev pkg-config zlib1g-dev >/dev/null
    elif command -v brew >/dev/null; then
        brew install postgresql@15 pkg-config
    else
        log "no supported package manager: install PostgreSQL 15+ server and libpq by hand"; return 1
    fi
}

find_bindir() {
    local d
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"; return 0
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /opt/homebrew/opt/postgresql@15/bin /usr/local/opt/postgresql@15/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    return 1
}

ensure_installed() {
    local missing=0
    find_bindir >/dev/null || missing=1
    command -v pkg-config >/dev/null || missing=1
    command -v psql >/dev/null || [ -x "$(find_bindir 2>/dev/null)/psql" ] || missing=1
    if command -v pkg-config >/dev/null; then pkg-config --exists libpq || missing=1; fi
    [ -f /usr/include/zlib.h ] || [ "$(uname)" = Darwin ] || missing=1
    if [ "$missing" -eq 1 ]; then install_packages; fi
    find_bindir >/dev/null || { log "PostgreSQL server binaries not found after install"; return 1; }
}

# As root the server runs as an unprivileged user, in a data directory it can reach.
setup_user() {
    if [ "$(id -u)" -ne 0 ]; then run_as=(); owner=$(id -un); return; fi
    owner=postgres
    id -u "$owner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$owner"
    run_as=(runuser -u "$owner" --)
}

data_dir() {
    mkdir -p "$local_dir"
    if [ -L "$link" ] || [ -d "$link" ]; then readlink -f "$link"; return; fi
    if [ "$(id -u)" -eq 0 ] && ! runuser -u "$owner" -- test -x "$local_dir"; then
        # The checkout is not reachable by the server's user (e.g. under /root): keep the data in /tmp.
        local tmp; tmp=$(mktemp -d /tmp/account-gateway-pg.XXXXXX)
        chown "$owner" "$tmp"; ln -s "$tmp" "$link"; echo "$tmp"; return
    fi
    mkdir -p "$link"; [ "$(id -u)" -eq 0 ] && chown "$owner" "$link"
    readlink -f "$link"
}

psql_admin() { "${run_as[@]}" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"; }

start() {
    ensure_installed
    bindir=$(find_bindir)
    setup_user
    local dir; dir=$(data_dir)
    if [ ! -f "$dir/PG_VERSION" ]; then
        log "initdb in $dir"
        "${run_as[@]}" "$bindir/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C >"$dir.initdb.log" 2>&1 \
            || { cat "$dir.initdb.log" >&2; return 1; }
    fi
    if "${run_as[@]}" "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        log "already running on port $port"
    else
        log "starting on 127.0.0.1:$port"
        "${run_as[@]}" "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200 -c fsync=on" start >/dev/null \
            || { tail -n 30 "$dir/server.log" >&2; return 1; }
    fi
    psql_admin <<SQL
SELECT 'CREATE ROLE $role LOGIN CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') \gexec
SELECT 'CREATE ROLE $service_role LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$service_role') \gexec
SELECT 'CREATE DATABASE account_gateway OWNER $role' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'account_gateway') \gexec
SELECT 'CREATE DATABASE account_gateway_test OWNER $role' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'account_gateway_test') \gexec
SQL
}

stop() {
    bindir=$(find_bindir) || return 0
    setup_user
    [ -e "$link" ] || return 0
    local dir; dir=$(readlink -f "$link")
    "${run_as[@]}" "$bindir/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
}

restart() {
    bindir=$(find_bindir)
    setup_user
    local dir; dir=$(readlink -f "$link")
    "${run_as[@]}" "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) restart ;;
    url) echo "postgresql://$role@127.0.0.1:$port/${2:-account_gateway}" ;;
    service-url) echo "postgresql://$service_role@127.0.0.1:$port/${2:-account_gateway}" ;;
    psql) bindir=$(find_bindir); shift; setup_user; psql_admin "$@" ;;
    *) echo "usage: $0 start|stop|restart|url [DB]|service-url [DB]|psql [ARGS]" >&2; exit 2 ;;
esac
