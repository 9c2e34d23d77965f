"""A throw-away PostgreSQL primary and its streaming hot standby.

Made with the server binaries of the machine (``initdb``, ``pg_ctl``,
``pg_basebackup`` in /usr/lib/postgresql/<version>/bin) in a temporary
directory, on free ports of RETAINER_TEST_PG_PORTS, reachable on 127.0.0.1
only, trust authentication (it lives for one test run). PostgreSQL refuses
to run as root: as root, the clusters run as the ``postgres`` user, which
owns the directory. The superuser role is the current user's name, as for
the machine's own server, so that Odoo connects the same way.
"""

import getpass
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg2

BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_PORTS = os.environ.get("RETAINER_TEST_PG_PORTS", "25432-25499")


def server_bin_dir():
    """The newest PostgreSQL server binaries of the machine, or None."""
    found = [
        Path(path)
        for path in glob.glob(BIN_GLOB)
        if (Path(path) / "initdb").is_file() and (Path(path) / "pg_ctl").is_file()
    ]
    return max(found, key=lambda p: int(p.parent.name), default=None)


def _free_pg_port(exclude=()):
    first, _, last = PG_PORTS.partition("-")
    for port in range(int(first), int(last or first) + 1):
        if port in exclude:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(
        f"no free port in {PG_PORTS} for PostgreSQL: set RETAINER_TEST_PG_PORTS"
    )


class Cluster:
    """One PostgreSQL server (data directory, port, log file)."""

    def __init__(self, pair, name, port):
        self.pair, self.name, self.port = pair, name, port
        self.data = pair.root / name
        self.log = pair.root / f"{name}.log"

    def pg_ctl(self, *args, check=True):
        return self.pair.run(
            self.pair.bin / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.log,
            *args,
            check=check,
        )

    def start(self):
        self.pg_ctl("-w", "-t", "60", "start")

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            self.pg_ctl("-w", "-t", "60", "-m", "fast", "stop", check=False)

    def pid(self):
        """PID of the postmaster (for a last-resort kill by the test runner)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    @contextmanager
    def cursor(self, dbname="postgres"):
        connection = psycopg2.connect(
            dbname=dbname, host="127.0.0.1", port=self.port, user=self.pair.user
        )
        connection.autocommit = True
        try:
            with connection.cursor() as cr:
                yield cr
        finally:
            connection.close()

    def query(self, sql, params=None, dbname="postgres"):
        with self.cursor(dbname) as cr:
            cr.execute(sql, params)
            return cr.fetchall() if cr.description else None

    def log_size(self):
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset):
        """What the server logged after ``offset`` (a former ``log_size``)."""
        with open(self.log, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")


class PrimaryAndStandby:
    """A primary and a hot standby streaming from it (``pg_basebackup -R``)."""

    def __init__(self, bin_dir, parent=None):
        self.bin = Path(bin_dir)
        self.user = getpass.getuser()
        self.as_postgres = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="retainer-pg-", dir=parent))
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        port = _free_pg_port()
        self.primary = Cluster(self, "primary", port)
        self.standby = Cluster(self, "standby", _free_pg_port({port}))

    def run(self, *command, check=True):
        command = [str(part) for part in command]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=300, check=False
        )
        if check and result.returncode:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def _settings(self, cluster, extra):
        settings = {
            "port": cluster.port,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "wal_level": "replica",
            "max_wal_senders": 4,
            "hot_standby": "on",
            # A test cluster: speed over durability.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "64MB",
            "max_connections": 100,
            # Every statement with its client (Odoo names its connections
            # odoo-<pid>): the proof of who reads where.
            "log_statement": "'all'",
            "log_line_prefix": "'%m [%p] app=%a db=%d '",
            **extra,
        }
        return "".join(f"{key} = {value}\n" for key, value in settings.items())

    def create(self):
        """initdb, start the primary, base backup, start the standby."""
        primary, standby = self.primary, self.standby
        self.run(
            self.bin / "initdb",
            "-D",
            primary.data,
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        # Local and 127.0.0.1 connections, replication included.
        (primary.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
            "local replication all trust\n"
            "host replication all 127.0.0.1/32 trust\n"
        )
        with open(primary.data / "postgresql.conf", "a") as conf:
            conf.write(self._settings(primary, {}))
        primary.start()
        self.run(
            self.bin / "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            primary.port,
            "-U",
            self.user,
            "-D",
            standby.data,
            "-R",  # standby.signal and primary_conninfo
            "-X",
            "stream",
            "--checkpoint=fast",
        )
        with open(standby.data / "postgresql.auto.conf", "a") as conf:
            conf.write(self._settings(standby, {}))
        standby.start()
        self.wait_streaming()

    def wait_streaming(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.primary.query(
                "SELECT state FROM pg_stat_replication WHERE state = 'streaming'"
            )
            if rows and self.standby.query("SELECT pg_is_in_recovery()") == [(True,)]:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the standby is not streaming (log {self.standby.log})")

    def wait_replayed(self, timeout=60):
        """Wait until the standby has replayed everything the primary wrote."""
        [(lsn,)] = self.primary.query("SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            [(done,)] = self.standby.query(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]
            )
            if done:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the standby did not replay up to {lsn} in {timeout} s")

    def destroy(self, keep_logs_in=None):
        """Stop both servers and remove their directory (the logs are
        copied to ``keep_logs_in`` first, when given)."""
        for cluster in (self.standby, self.primary):
            cluster.stop()
        if keep_logs_in:
            for cluster in (self.primary, self.standby):
                if cluster.log.exists():
                    shutil.copy(
                        cluster.log, Path(keep_logs_in) / f"pg-{cluster.name}.log"
                    )
        shutil.rmtree(self.root, ignore_errors=True)
