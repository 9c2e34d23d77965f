"""The portal's read-only pages served from a PostgreSQL streaming replica.

Odoo 18 opens the cursor of a route declared ``readonly=True`` on the
replica given by ``--db_replica_host/--db_replica_port``. The fixture makes
its own primary and hot standby (the machine's main cluster allows no
replication), copies the e2e database onto the primary and serves it with
Odoo pointed at the standby. Proofs that a page is read from the standby:

- both servers log every statement with its client (``app=odoo-<pid>``):
  the page's queries on retainer tables are in the standby's log and not in
  the primary's;
- with the standby's replay paused, a write on the primary does not show on
  the page; once replay resumes, it does.

The top-up request (a POST that writes) stays on the primary.
"""

import os
import re
import shutil
import subprocess
import time

import pytest
from conftest import ADMIN, PORTAL, START_TIMEOUT
from odoo_e2e import (
    OdooServer,
    Rpc,
    data_dir,
    forms,
    logged_in_session,
    page_text,
    pg_settings,
)
from pg_cluster import BIN_GLOB, PrimaryAndStandby, server_bin_dir
from psycopg2 import sql

OWN = "Acme Dental Group"
# What Odoo logs when a read-only route had to fall back to the primary.
FALLBACKS = r"Failed to open a readonly cursor|retrying with a read/write cursor"
RETAINER_QUERY = re.compile(r'(FROM|JOIN|INTO) "?retainer_(contract|ledger_entry)"?')


def _copy_database(source, pair, name, log_path):
    """``pg_dump | pg_restore`` of ``source`` (the machine's server) into
    ``name`` on the primary: a few seconds, where installing the addons
    with their demo data takes a minute and a half."""
    host, port, user = pg_settings()
    pair.primary.query(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with open(log_path, "w") as log:
        dump = subprocess.Popen(
            [pair.bin / "pg_dump", "-Fc", "-h", host, "-p", port, "-U", user, source],
            stdout=subprocess.PIPE,
            stderr=log,
        )
        restore = subprocess.run(
            [
                pair.bin / "pg_restore",
                "--no-owner",
                "--no-acl",
                "-h",
                "127.0.0.1",
                "-p",
                str(pair.primary.port),
                "-U",
                pair.user,
                "-d",
                name,
            ],
            stdin=dump.stdout,
            stdout=log,
            stderr=log,
            timeout=600,
            check=False,
        )
        dump.stdout.close()
        dump.wait(timeout=600)
    if dump.returncode or restore.returncode:
        raise RuntimeError(
            f"copying {source} onto the test primary failed (pg_dump "
            f"{dump.returncode}, pg_restore {restore.returncode}): see {log_path}"
        )


@pytest.fixture(scope="module")
def replica(odoo_db, work_dir):
    """``(odoo server, primary and standby)``: Odoo on its own primary with
    the standby as its read replica."""
    bin_dir = server_bin_dir()
    if bin_dir is None:
        reason = (
            f"READ REPLICA TEST NOT RUN: no PostgreSQL server binaries "
            f"(initdb, pg_ctl, pg_basebackup) in {BIN_GLOB}"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    pair = PrimaryAndStandby(bin_dir)
    server = None
    pid_files = []
    try:
        pair.create()
        for cluster in (pair.primary, pair.standby):
            pid_file = work_dir / f"e2e-pg-{cluster.name}.pid"
            pid_file.write_text(str(cluster.pid()))
            pid_files.append(pid_file)
        name = f"{odoo_db}_replica"
        _copy_database(odoo_db, pair, name, work_dir / "e2e-replica-copy.log")
        odoo_data = work_dir / "replica-odoo-data"
        shutil.rmtree(odoo_data, ignore_errors=True)
        shutil.copytree(
            data_dir() / "filestore" / odoo_db, odoo_data / "filestore" / name
        )
        pair.wait_replayed()
        pid_file = work_dir / "e2e-replica-odoo.pid"
        pid_files.append(pid_file)
        server = OdooServer.start(
            name,
            work_dir / "e2e-replica-odoo.log",
            START_TIMEOUT,
            pid_file=pid_file,
            pg=("127.0.0.1", str(pair.primary.port), pair.user),
            options=(
                f"--data-dir={odoo_data}",
                "--db_replica_host=127.0.0.1",
                f"--db_replica_port={pair.standby.port}",
            ),
        )
        yield server, pair
    finally:
        if server:
            server.stop()
        pair.destroy(keep_logs_in=work_dir)
        for pid_file in pid_files:
            pid_file.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def replica_admin(replica):
    server, _pair = replica
    return Rpc(server.url, server.db, *ADMIN)


@pytest.fixture(scope="module")
def own_retainer(replica_admin):
    [retainer] = replica_admin(
        "retainer.contract",
        "search_read",
        [("partner_id.name", "=", OWN)],
        fields=["name", "balance_units"],
    )
    return retainer


@pytest.fixture(scope="module")
def replica_portal(replica):
    server, _pair = replica
    return logged_in_session(server, *PORTAL)


def _app(server):
    return f"app=odoo-{server.process.pid} "


def _get(server, pair, session, path):
    """GET ``path``; return the response and what each cluster logged
    for this Odoo server meanwhile."""
    offsets = pair.primary.log_size(), pair.standby.log_size()
    response = session.get(f"{server.url}{path}", timeout=120)
    time.sleep(0.5)  # the server's log is written asynchronously
    logs = [
        [
            line
            for line in cluster.log_since(offset).splitlines()
            if _app(server) in line
        ]
        for cluster, offset in zip((pair.primary, pair.standby), offsets, strict=True)
    ]
    return response, logs


def _balance_on_page(text, balance):
    return re.search(rf"(?<![\d.,]){balance} units?\b", text)


def test_read_only_pages_are_read_from_the_standby(
    replica, replica_portal, own_retainer
):
    server, pair = replica
    paths = {
        "list": "/my/retainers",
        "detail": f"/my/retainers/{own_retainer['id']}",
        "statement": f"/my/retainers/{own_retainer['id']}/statement?report_type=html",
        "PDF statement": f"/my/retainers/{own_retainer['id']}/statement",
    }
    for page, path in paths.items():
        response, (on_primary, on_standby) = _get(server, pair, replica_portal, path)
        assert response.status_code == 200, (page, response.status_code)
        assert response.url.endswith(path), (page, response.url)
        if page == "PDF statement":
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.content.startswith(b"%PDF-")
        else:
            assert own_retainer["name"] in response.text, page
        standby_reads = [line for line in on_standby if RETAINER_QUERY.search(line)]
        primary_reads = [line for line in on_primary if RETAINER_QUERY.search(line)]
        assert standby_reads, f"{page}: no retainer query on the standby"
        assert not primary_reads, f"{page}: read on the primary: {primary_reads[:3]}"
    assert server.log_count(FALLBACKS) == 0, "a read-only page fell back to the primary"
    assert "read-only transaction" not in pair.standby.log_since(0)


def test_write_on_the_primary_shows_once_replayed(
    replica, replica_admin, replica_portal, own_retainer
):
    server, pair = replica
    path = f"/my/retainers/{own_retainer['id']}"
    [before] = replica_admin(
        "retainer.contract", "read", [own_retainer["id"]], fields=["balance_units"]
    )
    pair.standby.query("SELECT pg_wal_replay_pause()")
    try:
        wizard_id = replica_admin(
            "retainer.ledger.post",
            "create",
            {
                "contract_id": own_retainer["id"],
                "kind": "credit",
                "units": 3,
                "reason": "E2E replica credit",
            },
        )
        replica_admin("retainer.ledger.post", "action_post", [wizard_id])
        [after] = replica_admin(
            "retainer.contract", "read", [own_retainer["id"]], fields=["balance_units"]
        )
        assert after["balance_units"] == before["balance_units"] + 3
        # XML-RPC writes and reads on the primary; the page still shows the
        # standby's state, which has not replayed the credit.
        stale = page_text(replica_portal.get(f"{server.url}{path}", timeout=60).text)
        assert _balance_on_page(stale, before["balance_units"]), stale[:2000]
        assert not _balance_on_page(stale, after["balance_units"]), stale[:2000]
    finally:
        pair.standby.query("SELECT pg_wal_replay_resume()")
    pair.wait_replayed()
    # Replayed WAL becomes visible to new standby transactions at once, but
    # a replay resumed behind queries it conflicts with may still wait a
    # little (max_standby_streaming_delay): poll, bounded.
    deadline = time.monotonic() + 60
    while True:
        fresh = page_text(replica_portal.get(f"{server.url}{path}", timeout=60).text)
        if _balance_on_page(fresh, after["balance_units"]):
            break
        assert time.monotonic() < deadline, fresh[:2000]
        time.sleep(1)
    assert server.log_count(FALLBACKS) == 0


def test_topup_request_is_written_on_the_primary(
    replica, replica_admin, replica_portal, own_retainer
):
    server, pair = replica
    path = f"/my/retainers/{own_retainer['id']}"
    page = replica_portal.get(f"{server.url}{path}", timeout=60)
    [form] = [f for f in forms(page.text) if f["action"].endswith("/topup")]
    activities = replica_admin(
        "mail.activity",
        "search_count",
        [("res_model", "=", "retainer.contract"), ("res_id", "=", own_retainer["id"])],
    )
    offsets = pair.primary.log_size(), pair.standby.log_size()
    response = replica_portal.post(
        f"{server.url}{form['action']}",
        data={**form["inputs"], "quantity": "1", "unit": "day", "note": "E2E replica"},
        timeout=120,
    )
    time.sleep(0.5)
    assert response.status_code == 200
    assert "o_retainer_topup_done" in response.text
    assert (
        replica_admin(
            "mail.activity",
            "search_count",
            [
                ("res_model", "=", "retainer.contract"),
                ("res_id", "=", own_retainer["id"]),
            ],
        )
        == activities + 1
    )
    written = [
        line
        for line in pair.primary.log_since(offsets[0]).splitlines()
        if _app(server) in line and re.search(r'INSERT INTO "mail_activity"', line)
    ]
    assert written, "the top-up request wrote nothing on the primary"
    # Never tried on the standby first (a read-only transaction error).
    assert "read-only transaction" not in pair.standby.log_since(offsets[1])
    assert server.log_count(FALLBACKS) == 0
