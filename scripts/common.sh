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
ADDONS="defining_retainer,defining_retainer_portal,defining_retainer_helpdesk"
# The OCA addons of requirements-oca.txt, installed by scripts/bootstrap
# (wheels put them under odoo/addons/ of their target folder).
OCA_ADDONS_TARGET="$VENV/oca"
OCA_ADDONS_DIR="$OCA_ADDONS_TARGET/odoo/addons"
# The e2e tier starts its own servers with this folder on the addons path.
export OCA_ADDONS_DIR
# How many addons ADDONS names (installed_addon_count gives this when all are).
ADDON_COUNT="$(tr ',' '\n' <<< "$ADDONS" | grep -c .)"
# Installed next to the addons in the test databases only (the addons never
# depend on them): Odoo's demo payment provider pays portal purchases.
TEST_ONLY_ADDONS="payment_demo"
# Odoo's default data directory (filestore, sessions), as Odoo computes it;
# ODOO_DATA_DIR moves it (and is then passed to Odoo as --data-dir).
DATA_DIR="${ODOO_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/Odoo}"

# Print the comment block at the top of script $1 (its usage).
print_usage() {
    sed -n '2,/^[^#]/{ /^# shellcheck/d; s/^# \{0,1\}//p; }' "$1"
}

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
    if [ -f "$ODOO_PATH/odoo/release.py" ]; then
        local found
        found="$(sed -nE 's/^version_info = \(([0-9]+), ([0-9]+),.*/\1.\2/p' "$ODOO_PATH/odoo/release.py")"
        [ "$found" = 18.0 ] \
            && die "ODOO_PATH=$ODOO_PATH holds Odoo 18.0 but has no odoo-bin: point ODOO_PATH at a complete Odoo 18.0 source tree."
        die "ODOO_PATH=$ODOO_PATH holds Odoo ${found:-of an unknown version}, not 18.0: point ODOO_PATH at an Odoo 18.0 source tree."
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

# Whether install_debian_packages can work here: root with apt-get.
can_install_debian_packages() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

# Install Debian packages $@ with apt-get (as root), or stop with one line.
install_debian_packages() {
    info "Installing Debian packages: $*"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
        || die "apt-get install $* failed: install them by hand and run again."
}

ensure_postgres() {
    command -v psql >/dev/null 2>&1 \
        || die "psql not found: install the PostgreSQL client (Debian: apt-get install postgresql-client) and run again."
    if ! "$PY" - <<'PY' 2>/dev/null; then
import os, psycopg2
psycopg2.connect(dbname="postgres", host=os.environ["PGHOST"], port=os.environ["PGPORT"],
                 user=os.environ["PGUSER"], connect_timeout=5).close()
PY
        die "PostgreSQL is not reachable at $PGHOST:$PGPORT as user $PGUSER: start it (or set PGHOST/PGPORT/PGUSER) and run again."
    fi
}

# Free means nobody listens there. SO_REUSEADDR, as Odoo's server sets it:
# connections of a previous run lingering in TIME_WAIT do not make it busy.
port_is_free() {
    "$PY" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# Database names go into SQL and regular expressions unquoted: accept only
# what Odoo itself accepts for a database name.
check_db_name() {
    [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] \
        || die "invalid database name '$1': use letters, digits, '_', '.' or '-' (set ODOO_DB)."
}

psql_q() {
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -t -A -d postgres -c "$1"
}

# Run one query in database $1 (quiet, unaligned, no header).
psql_db() {
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -t -A -d "$1" -c "$2"
}

db_exists() {
    [ "$(psql_q "SELECT 1 FROM pg_database WHERE datname = '$1'")" = "1" ]
}

filestore_dir() {
    echo "$DATA_DIR/filestore/$1"
}

drop_db() {
    psql_q "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
    rm -rf "$(filestore_dir "$1")"
}

# How many of the project's addons (0-3) are installed in database $1;
# "none" when it has no module table (not an Odoo database) or is missing.
installed_addon_count() {
    local count
    count="$(psql_db "$1" "SELECT count(*) FROM ir_module_module
        WHERE state = 'installed' AND name = ANY(string_to_array('$ADDONS', ','))" 2>/dev/null)" \
        || count=none
    echo "$count"
}

# The odoo-bin command line (as the array ODOO_ARGV) with the project's
# odoo.conf; settings given by environment variables override the conf's
# defaults. It must run from the project root: the conf's addons path is
# relative to it.
odoo_argv() {
    ODOO_ARGV=("$PY" "$ODOO_PATH/odoo-bin" -c "$ROOT/odoo.conf"
        --db_host="$PGHOST" --db_port="$PGPORT")
    [ "$PGUSER" != "$(id -un)" ] && ODOO_ARGV+=(--db_user="$PGUSER")
    # Always given: the venv (and so the OCA addons' folder) may be elsewhere
    # than odoo.conf's default.
    ODOO_ARGV+=(--addons-path="$ODOO_PATH/addons,$ROOT/addons,$OCA_ADDONS_DIR")
    [ -n "${ODOO_DATA_DIR:-}" ] && ODOO_ARGV+=(--data-dir="$ODOO_DATA_DIR")
    return 0
}

# odoo-bin with the project's odoo.conf, run from the project root.
odoo_bin() {
    odoo_argv
    (cd "$ROOT" && exec "${ODOO_ARGV[@]}" "$@")
}

# run_child [--log FILE] COMMAND...: run an external command in the
# background (its output to FILE) and wait for it. A script's INT/TERM trap
# then runs at once: bash defers traps while a foreground command runs, and
# skips them when that command handles the signal itself, as Odoo does.
# The redirection stays on the command, so the trap's messages still reach
# the terminal; CHILD is the command's own pid, for the trap to stop it.
CHILD=""
run_child() {
    if [ "$1" = --log ]; then
        local log="$2"
        shift 2
        "$@" > "$log" 2>&1 &
    else
        "$@" &
    fi
    CHILD=$!
    wait "$CHILD"
    local rc=$?
    CHILD=""
    return $rc
}

# Stop process $1: SIGTERM, then SIGKILL if it still runs after 30 s.
stop_pid() {
    local pid="$1" waited=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && [ $waited -lt 30 ]; do
        sleep 1
        waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# Print the ERROR/CRITICAL records of an Odoo log (with their tracebacks)
# and the FAIL blocks of the test runner, at most $2 lines (default 200).
odoo_log_errors() {
    awk '
        /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9:,]+ [0-9]+ [A-Z]+ / {
            show = ($4 == "ERROR" || $4 == "CRITICAL" || $0 ~ / FAIL: /)
        }
        show
    ' "$1" | head -n "${2:-200}"
}
