"""Helpers for the end-to-end tests: start and stop a real Odoo server, create
and drop its database, talk to it over HTTP and XML-RPC.

No Odoo import: the tests see Odoo only from outside, as a browser or a
client program would.
"""

import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import xmlrpc.client
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import psycopg2
import requests

ROOT = Path(__file__).resolve().parents[2]
ODOO_PATH = Path(os.environ.get("ODOO_PATH", "/opt/odoo"))
ADDONS = ("defining_retainer", "defining_retainer_portal", "defining_retainer_helpdesk")
# OCA's helpdesk addons (requirements-oca.txt), where scripts/bootstrap puts
# them; OCA_ADDONS_DIR (set by the scripts) names another folder.
DEFAULT_OCA_ADDONS = ROOT / ".venv" / "oca" / "odoo" / "addons"
OCA_ADDONS = Path(os.environ.get("OCA_ADDONS_DIR") or DEFAULT_OCA_ADDONS)
# Test-only: Odoo's demo payment provider pays the portal purchases.
TEST_ONLY_ADDONS = ("payment_demo",)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ \d+ (ERROR|CRITICAL) ")
BROWSERS = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")


# === Environment ===


def pg_settings():
    """PostgreSQL host, port and user, with the same defaults as the scripts."""
    return (
        os.environ.get("PGHOST", "127.0.0.1"),
        os.environ.get("PGPORT", "5432"),
        os.environ.get("PGUSER", getpass.getuser()),
    )


def data_dir():
    """Odoo's data directory (filestore), as scripts/common.sh computes it."""
    if os.environ.get("ODOO_DATA_DIR"):
        return Path(os.environ["ODOO_DATA_DIR"])
    xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(xdg) / "Odoo"


def odoo_command(*args, pg=None):
    """odoo-bin with the project's odoo.conf, as scripts/common.sh runs it
    (to be run with cwd=ROOT: the conf's addons path is relative to it).
    ``pg``: (host, port, user) of another PostgreSQL server than the usual one."""
    host, port, user = pg or pg_settings()
    command = [
        sys.executable,
        str(ODOO_PATH / "odoo-bin"),
        "-c",
        str(ROOT / "odoo.conf"),
        f"--db_host={host}",
        f"--db_port={port}",
    ]
    if user != getpass.getuser():
        command.append(f"--db_user={user}")
    # odoo.conf's addons path is the default Odoo tree, ./addons and the
    # default OCA folder: name them all when one of them is elsewhere.
    if ODOO_PATH != Path("/opt/odoo") or OCA_ADDONS != DEFAULT_OCA_ADDONS:
        command.append(
            f"--addons-path={ODOO_PATH / 'addons'},{ROOT / 'addons'},{OCA_ADDONS}"
        )
    if os.environ.get("ODOO_DATA_DIR"):
        command.append(f"--data-dir={os.environ['ODOO_DATA_DIR']}")
    return command + list(args)


# Ports of the servers this process started: a server may bind its ports
# some time after it was given them (the long-polling port of a prefork
# server), so another server must not get them meanwhile.
_PORTS_GIVEN = set()


def free_port(exclude=()):
    """A free port on 127.0.0.1 in RETAINER_TEST_PORTS ("first-last"), not
    one of ``exclude`` nor one given to a server still running."""
    exclude = {*exclude, *_PORTS_GIVEN}
    first, _, last = os.environ.get("RETAINER_TEST_PORTS", "18069-18168").partition("-")
    for port in range(int(first), int(last or first) + 1):
        if port in exclude:
            continue
        with socket.socket() as sock:
            # As Odoo's server does: lingering TIME_WAIT connections of a
            # previous run do not make the port busy.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}-{last}: set RETAINER_TEST_PORTS")


def find_browser():
    """Path of the Chrome/Chromium Odoo would use, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def error_lines(log_path, limit=60):
    """The ERROR/CRITICAL records of an Odoo log, with their tracebacks."""
    lines, showing = [], False
    for line in Path(log_path).read_text(errors="replace").splitlines():
        if re.match(r"^\d{4}-\d\d-\d\d ", line):
            showing = bool(LOG_LINE.match(line))
        if showing:
            lines.append(line)
    return "\n".join(lines[:limit])


# === Databases ===


@contextmanager
def _cursor(dbname="postgres"):
    """A cursor on ``dbname`` in autocommit mode; closes the connection."""
    host, port, user = pg_settings()
    connection = psycopg2.connect(dbname=dbname, host=host, port=port, user=user)
    connection.autocommit = True
    try:
        with connection.cursor() as cr:
            yield cr
    finally:
        connection.close()


def database_exists(name):
    with _cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return bool(cr.fetchone())


def installed_addons(name):
    """Which of our addons are installed in database ``name``."""
    with _cursor(name) as cr:
        cr.execute(
            "SELECT name FROM ir_module_module WHERE state = 'installed' "
            "AND name = ANY(%s)",
            [list(ADDONS)],
        )
        return {row[0] for row in cr.fetchall()}


def drop_database(name):
    with _cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(data_dir() / "filestore" / name, ignore_errors=True)


def install_database(name, log_path, timeout):
    """Create database ``name`` with the addons and their demo data."""
    with open(log_path, "w") as log:
        result = subprocess.run(
            odoo_command(
                "-d",
                name,
                "-i",
                ",".join(ADDONS + TEST_ONLY_ADDONS),
                "--stop-after-init",
            ),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0 or installed_addons(name) != set(ADDONS):
        raise RuntimeError(
            f"installing {', '.join(ADDONS)} into {name} failed "
            f"(exit code {result.returncode}, log {log_path}):\n{error_lines(log_path)}"
        )


# === Server ===


@dataclass
class OdooServer:
    url: str
    db: str
    log_path: Path
    process: subprocess.Popen
    ports: tuple = ()  # every port it listens on (HTTP, long polling)

    @classmethod
    def launch(cls, db, log_path, pid_file=None, options=(), pg=None, env=None):
        """Start Odoo on a free port without waiting for it.

        By default one threaded process without scheduled jobs, so that no
        job changes balances while tests read them; ``options`` add to or
        override that (e.g. ``--workers=2``, ``--max-cron-threads=1``). With
        workers, the long-polling port is a free port of the range too.
        """
        ports = [free_port()]
        command = odoo_command(
            "-d",
            db,
            f"--db-filter=^{re.escape(db)}$",
            "--http-interface=127.0.0.1",
            f"--http-port={ports[0]}",
            "--max-cron-threads=0",
            pg=pg,
        )
        if any(option.startswith("--workers=") for option in options):
            ports.append(free_port(ports))
            command.append(f"--gevent-port={ports[1]}")
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                command + list(options),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                # Its own session: a Ctrl-C reaches pytest, which stops it.
                start_new_session=True,
            )
        _PORTS_GIVEN.update(ports)
        if pid_file:
            Path(pid_file).write_text(str(process.pid))
        return cls(
            f"http://127.0.0.1:{ports[0]}", db, Path(log_path), process, tuple(ports)
        )

    @classmethod
    def start(cls, db, log_path, timeout, pid_file=None, **kwargs):
        """Start Odoo on a free port and wait until /web/health answers
        (``kwargs``: see ``launch``)."""
        server = cls.launch(db, log_path, pid_file=pid_file, **kwargs)
        server.wait_until_healthy(timeout)
        return server

    def wait_until_healthy(self, timeout):
        """Wait until /web/health answers; stop the server if it never does."""
        try:
            self._wait_until_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Odoo exited with code {self.process.returncode} while starting "
                    f"(log {self.log_path}):\n{error_lines(self.log_path)}"
                )
            try:
                if requests.get(f"{self.url}/web/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"Odoo did not answer /web/health within {timeout} s")

    def terminate(self):
        """Ask the server to stop (``stop`` waits for it)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self):
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # Its whole process group: the workers of a prefork server too.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        _PORTS_GIVEN.difference_update(self.ports)

    def log_count(self, pattern):
        """How many lines of the server's log match ``pattern`` (a regex)."""
        regex = re.compile(pattern)
        text = self.log_path.read_text(errors="replace")
        return sum(1 for line in text.splitlines() if regex.search(line))

    def session(self):
        """A requests session that never goes through a proxy."""
        session = requests.Session()
        session.trust_env = False
        return session


def logged_in_session(server, login, password):
    """A browser-like session of ``server`` logged in as ``login``."""
    session = server.session()
    page = session.get(f"{server.url}/web/login", timeout=30)
    form = login_form(page.text)
    assert form, "no login form on /web/login"
    response = session.post(
        f"{server.url}/web/login",
        data={
            "login": login,
            "password": password,
            "csrf_token": form["inputs"]["csrf_token"],
        },
        timeout=30,
    )
    assert response.status_code == 200
    assert not re.search(r"/web/login", response.url), f"login {login!r} refused"
    return session


# === XML-RPC ===


class Rpc:
    """Odoo's external API as a client program uses it."""

    def __init__(self, url, db, login, password):
        self.db, self.password = db, password
        common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
        self.uid = common.authenticate(db, login, password, {})
        if not self.uid:
            raise RuntimeError(f"XML-RPC login {login!r} refused on {db}")
        self.object = xmlrpc.client.ServerProxy(
            f"{url}/xmlrpc/2/object", allow_none=True
        )

    def __call__(self, model, method, *args, **kwargs):
        return self.object.execute_kw(
            self.db, self.uid, self.password, model, method, list(args), kwargs
        )


# === HTML ===


class _TableParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html):
    """Every table row of ``html`` as the list of its cells' texts."""
    parser = _TableParser()
    parser.feed(html)
    return parser.rows


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self._form = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {"action": attrs.get("action", ""), "inputs": {}}
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and attrs.get("name"):
            self._form["inputs"][attrs["name"]] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def forms(html):
    """Every form of ``html``: ``{"action": ..., "inputs": {name: value}}``."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def login_form(html):
    """The Odoo login form of ``html``, or None."""
    for form in forms(html):
        inputs = form["inputs"]
        if (
            form["action"].split("?")[0].endswith("/web/login")
            and {"login", "password", "csrf_token"} <= inputs.keys()
        ):
            return form
    return None


class _TextParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(html):
    """The visible text of ``html``, whitespace collapsed."""
    parser = _TextParser()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def run_cron_now(rpc, xmlid, timeout=120):
    """Run the scheduled job ``xmlid`` now through ``rpc``, as *Run
    Manually* does. A job that a cron worker of another test server is
    running on the same database at that moment is waited for (Odoo then
    refuses to run it twice), up to ``timeout`` seconds."""
    module, name = xmlid.split(".")
    cron_id = rpc("ir.model.data", "check_object_reference", module, name)[1]
    deadline = time.monotonic() + timeout
    while True:
        try:
            return rpc("ir.cron", "method_direct_trigger", [cron_id])
        except xmlrpc.client.Fault as fault:
            if "currently being executed" not in fault.faultString:
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


# === A COMPANY THAT SELLS ON THE PORTAL ===


@contextmanager
def portal_shop(admin, product_name, customer_names, login_prefix, settings):
    """The main company sells a retainer day (``product_name``, 28 units,
    600.00, no taxes) on the portal with the demo payment provider, under
    the company ``settings``; each of ``customer_names`` is a company with a
    portal contact (login and password ``<login_prefix>-<random>``) and an
    active retainer. Yields ``{"company_id", "product_id", "provider_id",
    "method_id", "customers": {name: {"login", "contract_id"}}}`` and puts
    the settings, the provider and the product back afterwards."""
    [company] = admin("res.company", "search_read", [], fields=["id"], limit=1)
    company_id = company["id"]
    [before] = admin("res.company", "read", [company_id], fields=list(settings))
    admin("res.company", "write", [company_id], settings)
    product_id = admin(
        "product.product",
        "create",
        {
            "name": product_name,
            "type": "service",
            "invoice_policy": "order",
            "service_tracking": "no",
            "service_type": "manual",
            "list_price": 600.0,
            "taxes_id": [(5, 0, 0)],
            "retainer_units": 28,
            "retainer_portal_published": True,
        },
    )
    [provider] = admin(
        "payment.provider",
        "search_read",
        [("code", "=", "demo")],
        fields=["state", "is_published"],
    )
    admin(
        "payment.provider",
        "write",
        [provider["id"]],
        {"state": "test", "is_published": True},
    )
    [method_id] = admin("payment.method", "search", [("code", "=", "demo")])
    [level_id] = admin("retainer.level", "search", [], limit=1)
    portal_group = admin(
        "ir.model.data", "check_object_reference", "base", "group_portal"
    )[1]
    customers = {}
    for name in customer_names:
        partner_id = admin("res.partner", "create", {"name": name, "is_company": True})
        login = f"{login_prefix}-{uuid.uuid4().hex[:8]}"
        user_id = admin(
            "res.users",
            "create",
            {
                "name": f"Contact of {name}",
                "login": login,
                "password": login,
                "email": f"{login}@example.com",
                "groups_id": [(6, 0, [portal_group])],
            },
        )
        [user] = admin("res.users", "read", [user_id], fields=["partner_id"])
        admin(
            "res.partner", "write", [user["partner_id"][0]], {"parent_id": partner_id}
        )
        contract_id = admin(
            "retainer.contract",
            "create",
            {"partner_id": partner_id, "level_id": level_id},
        )
        [contract] = admin("retainer.contract", "read", [contract_id], ["state"])
        if contract["state"] == "draft":
            admin("retainer.contract", "action_activate", [contract_id])
        customers[name] = {"login": login, "contract_id": contract_id}
    try:
        yield {
            "company_id": company_id,
            "product_id": product_id,
            "provider_id": provider["id"],
            "method_id": method_id,
            "customers": customers,
        }
    finally:
        admin(
            "res.company",
            "write",
            [company_id],
            {fname: before[fname] for fname in settings},
        )
        admin(
            "payment.provider",
            "write",
            [provider["id"]],
            {"state": provider["state"], "is_published": provider["is_published"]},
        )
        admin(
            "product.product",
            "write",
            [product_id],
            {"retainer_portal_published": False},
        )
