# shellcheck shell=bash
# Shared helpers for scripts/run, scripts/test and scripts/bootstrap.
# Sourced, never executed. Every fault ends in one line saying what is wrong
# and what to do, never in a traceback.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ODOO_PATH="${ODOO_PATH:-/opt/odoo}"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
# odoo.conf holds the defaults the scripts use; these variables override
# them only when set.
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-$(id -un)}"
export PGHOST PGPORT PGUSER ODOO_PATH
ODOO_REPO_URL="${ODOO_REPO_URL:-https://github.com/odoo/odoo.git}"
ADDONS="defining_retainer,defining_retainer_portal"

die() {
    echo "ERROR: $*" >&2
    exit 1
}

info() {
    echo "==> $*"
}

is_odoo18_tree() {
    [ -f "$1/odoo-bin" ] && [ -f "$1/odoo/release.py" ] \
        && grep -qE '^version_info = \(18, 0,' "$1/odoo/release.py"
}

# Make sure ODOO_PATH holds an Odoo 18.0 tree; get the official 18.0 source
# when it is missing and the network allows, else stop with what to do.
ensure_odoo_tree() {
    if is_odoo18_tree "$ODOO_PATH"; then
        return 0
    fi
    if [ -e "$ODOO_PATH" ] && [ -n "$(ls -A "$ODOO_PATH" 2>/dev/null)" ]; then
        die "ODOO_PATH=$ODOO_PATH is not an Odoo 18.0 source tree (no odoo-bin with version 18.0): point ODOO_PATH at one."
    fi
    info "No Odoo tree at $ODOO_PATH: fetching the official 18.0 source"
    if ! timeout 20 git ls-remote --heads "$ODOO_REPO_URL" 18.0 >/dev/null 2>&1; then
        die "no Odoo 18.0 tree at $ODOO_PATH and $ODOO_REPO_URL is unreachable: put an Odoo 18.0 source tree there (or set ODOO_PATH), then run again."
    fi
    git clone --quiet --depth 1 --branch 18.0 "$ODOO_REPO_URL" "$ODOO_PATH" \
        || die "cloning Odoo 18.0 into $ODOO_PATH failed: check disk space and write access, or set ODOO_PATH."
}

ensure_postgres() {
    if ! "$PY" - <<'PY' 2>/dev/null; then
import os, psycopg2
psycopg2.connect(dbname="postgres", host=os.environ["PGHOST"], port=os.environ["PGPORT"],
                 user=os.environ["PGUSER"], connect_timeout=5).close()
PY
        die "PostgreSQL is not reachable at $PGHOST:$PGPORT as user $PGUSER: start it (or set PGHOST/PGPORT/PGUSER) and run again."
    fi
}

port_is_free() {
    "$PY" - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

psql_q() {
    psql -X -q -t -A -d postgres -c "$1"
}

db_exists() {
    [ "$(psql_q "SELECT 1 FROM pg_database WHERE datname = '$1'")" = "1" ]
}

drop_db() {
    psql_q "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
    rm -rf "${ODOO_DATA_DIR:-$HOME/.local/share/Odoo}/filestore/$1"
}

# odoo-bin with the project's odoo.conf, run from the project root (the
# conf's addons path is relative to it). Settings given by environment
# variables override the conf's defaults.
odoo_bin() {
    local overrides=(--db_host="$PGHOST" --db_port="$PGPORT")
    [ "$PGUSER" != "$(id -un)" ] && overrides+=(--db_user="$PGUSER")
    [ "$ODOO_PATH" != /opt/odoo ] && overrides+=(--addons-path="$ODOO_PATH/addons,$ROOT/addons")
    (cd "$ROOT" && exec "$PY" "$ODOO_PATH/odoo-bin" -c "$ROOT/odoo.conf" "${overrides[@]}" "$@")
}
