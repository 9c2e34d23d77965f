"""Fixtures of the end-to-end tests: one real Odoo server for the session
(threaded, no scheduled jobs), and two multi-worker nodes with their cron
workers on the same database, started only when a test asks for them.

Database: RETAINER_E2E_DB when set (scripts/test passes the odoo tier's
database: demo data, the addons installed); otherwise a fresh database
with the addons and their demo data is built here and dropped at the end.
Nothing is ever skipped: a missing Odoo, browser or database fails (the
one exception, the replica test without PostgreSQL server binaries, skips
loudly outside CI; see test_replica.py).
"""

import datetime
import email
import email.policy
import os
import signal
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from odoo_e2e import (
    ADDONS,
    ODOO_PATH,
    OdooServer,
    Rpc,
    database_exists,
    drop_database,
    free_port,
    install_database,
    installed_addons,
    logged_in_session,
)

ADMIN = ("admin", "admin")
PORTAL = ("portal", "portal")
DEMO_CUSTOMERS = ("Acme Dental Group", "Brightwater Accountants", "Castle Legal LLP")
START_TIMEOUT = int(os.environ.get("RETAINER_E2E_START_TIMEOUT", "180"))
INSTALL_TIMEOUT = int(os.environ.get("RETAINER_TEST_TIMEOUT", "1800"))


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def pytest_configure(config):
    # scripts/test stops pytest with SIGTERM; as an interrupt, pytest still
    # runs the fixtures' teardown (stop the server, drop the database).
    signal.signal(signal.SIGTERM, _raise_interrupt)


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory):
    """Where logs go: scripts/test's temporary directory, else pytest's."""
    if os.environ.get("RETAINER_TEST_TMPDIR"):
        return Path(os.environ["RETAINER_TEST_TMPDIR"])
    return tmp_path_factory.mktemp("odoo")


@pytest.fixture(scope="session")
def odoo_db(work_dir):
    if not (ODOO_PATH / "odoo-bin").is_file():
        pytest.fail(f"no Odoo 18 tree at {ODOO_PATH}: set ODOO_PATH")
    given = os.environ.get("RETAINER_E2E_DB")
    if given:
        if not database_exists(given) or installed_addons(given) != set(ADDONS):
            pytest.fail(f"RETAINER_E2E_DB={given} is not a database with the addons")
        yield given
        return
    prefix = os.environ.get("RETAINER_TEST_DB_PREFIX", "retainer_test")
    name = f"{prefix}_e2e_{datetime.date.today():%Y%m%d}_{os.getpid()}"
    drop_database(name)
    try:
        install_database(name, work_dir / "e2e-install.log", INSTALL_TIMEOUT)
        yield name
    finally:
        drop_database(name)


@pytest.fixture(scope="session")
def server(odoo_db, work_dir):
    pid_file = work_dir / "e2e-server.pid"
    server = OdooServer.start(
        odoo_db, work_dir / "e2e-server.log", START_TIMEOUT, pid_file=pid_file
    )
    try:
        yield server
    finally:
        server.stop()
        pid_file.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def admin(server):
    """XML-RPC as the administrator."""
    return Rpc(server.url, server.db, *ADMIN)


@pytest.fixture(scope="session")
def demo_retainers(admin):
    """``{customer name: retainer}`` of the demo customers, read as admin."""
    records = admin(
        "retainer.contract",
        "search_read",
        [("partner_id.name", "in", list(DEMO_CUSTOMERS))],
        fields=["name", "partner_id", "balance_units", "state"],
    )
    by_customer = {record["partner_id"][1]: record for record in records}
    assert set(by_customer) == set(DEMO_CUSTOMERS), by_customer
    assert len(records) == len(DEMO_CUSTOMERS), "one retainer per demo customer"
    return by_customer


@pytest.fixture(scope="module")
def portal_session(server):
    """A browser-like session logged in as the demo portal user."""
    return logged_in_session(server, *PORTAL)


# Two Odoo nodes behind an imaginary load balancer: each a prefork server
# with two HTTP workers and one cron worker, on the same database.
NODE_OPTIONS = ("--workers=2", "--max-cron-threads=1")


@pytest.fixture(scope="module")
def nodes(odoo_db, work_dir):
    """Two multi-worker Odoo servers on the same database, scheduled jobs
    enabled on both. ODOO_NOTIFY_CRON_CHANGES: a job whose next call is
    written wakes the cron workers of both nodes at once. Stopped after the
    module that asked for them: their cron workers would otherwise run the
    jobs that later tests run by hand, at moments of their own."""
    started = []
    try:
        for name in ("a", "b"):
            started.append(
                OdooServer.launch(
                    odoo_db,
                    work_dir / f"e2e-node-{name}.log",
                    pid_file=work_dir / f"e2e-node-{name}.pid",
                    options=NODE_OPTIONS,
                    env={"ODOO_NOTIFY_CRON_CHANGES": "1"},
                )
            )
        for node in started:
            node.wait_until_healthy(START_TIMEOUT)
        yield started
    finally:
        for node in started:
            node.terminate()  # both at once: a prefork server stops slowly
        for node in started:
            node.stop()
        for name in ("a", "b"):
            (work_dir / f"e2e-node-{name}.pid").unlink(missing_ok=True)


class _Mailbox:
    """What the SMTP server received: one ``email.message.EmailMessage``
    per recipient and message, with the envelope recipients."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        for recipient in envelope.rcpt_tos:
            self.messages.append((recipient, message))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on 127.0.0.1 for the session; yields
    ``(port, mailbox)``."""
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()
