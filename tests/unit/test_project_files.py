"""Static checks of the project's configuration files (no Odoo, no Docker).

They catch the mistakes that otherwise show only at run time: a config path
that points nowhere, a compose mount at the wrong place, a manifest listing a
file that does not exist.
"""

import ast
import configparser
import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ADDONS_DIR = ROOT / "addons"
ADDONS = ("defining_retainer", "defining_retainer_portal", "defining_retainer_helpdesk")
# Where scripts/bootstrap installs the OCA wheels of requirements-oca.txt.
OCA_ADDONS_DIR = ROOT / ".venv" / "oca" / "odoo" / "addons"
OCA_REQUIREMENTS = ROOT / "requirements-oca.txt"
# Where docker/Dockerfile installs them in the image.
IMAGE_OCA_ADDONS = "/opt/oca/odoo/addons"
DOCKER_DIR = ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
# Where the official odoo:18.0 image reads its configuration (ODOO_RC) and
# where its default addons path looks for extra addons.
IMAGE_CONF = "/etc/odoo/odoo.conf"
IMAGE_EXTRA_ADDONS = "/mnt/extra-addons"


# === odoo.conf ===


@pytest.fixture(scope="module")
def odoo_conf():
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",))
    assert parser.read(ROOT / "odoo.conf"), "odoo.conf is missing"
    return parser["options"]


def test_odoo_conf_addons_path_resolves_to_odoo_and_project(odoo_conf):
    # The scripts run Odoo from the project root, so relative entries are
    # relative to it.
    entries = [entry.strip() for entry in odoo_conf["addons_path"].split(",")]
    resolved = [os.path.normpath(ROOT / entry) for entry in entries]
    assert resolved == ["/opt/odoo/addons", str(ADDONS_DIR), str(OCA_ADDONS_DIR)]
    for addon in ADDONS:
        assert (ADDONS_DIR / addon / "__manifest__.py").is_file()


def test_oca_requirements_are_pinned_wheels():
    pins = [
        line.strip()
        for line in OCA_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert pins, "requirements-oca.txt names no OCA addon"
    for pin in pins:
        name, _, version = pin.partition("==")
        assert name.startswith("odoo-addon-"), pin
        assert version.startswith("18.0."), f"{pin}: not pinned to an 18.0 release"


def test_odoo_conf_serves_locally_with_demo_data(odoo_conf):
    assert odoo_conf["http_interface"] == "127.0.0.1"
    assert odoo_conf["http_port"] == "8069"
    assert odoo_conf["without_demo"] == "False"
    assert odoo_conf["list_db"] == "False"


# === docker/ ===


@pytest.fixture(scope="module")
def compose():
    with COMPOSE_FILE.open() as stream:
        return yaml.safe_load(stream)


def _service_with_build(compose, name):
    service = compose["services"][name]
    assert "build" in service, f"service {name} must be built from docker/Dockerfile"
    return service


def _mounts(service):
    """Return ``{target: resolved source}`` of a service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        if source.startswith((".", "/")):
            mounts[target] = os.path.normpath(DOCKER_DIR / source)
    return mounts


def _argv(service):
    """The Odoo command line of a service: its entrypoint, then its command."""
    return list(service.get("entrypoint") or []) + list(service.get("command") or [])


def _odoo_services(compose):
    return [name for name, svc in compose["services"].items() if "build" in svc]


def test_dockerfile_uses_the_official_image_only():
    text = (DOCKER_DIR / "Dockerfile").read_text()
    instructions = [
        line.split(None, 1)
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert instructions[0] == ["FROM", "odoo:18.0"]
    # Odoo comes from the image: nothing of it is copied in (only the OCA
    # pins), and the image's configuration path (mounted over by compose) is
    # kept.
    copied = [i for i in instructions if i[0].upper() in ("COPY", "ADD")]
    assert [i[1].split()[0] for i in copied] == ["requirements-oca.txt"]
    assert "--no-deps" in text and "/opt/oca" in text
    assert not [i for i in instructions if i[0].upper() == "ENV" and "ODOO_RC" in i[1]]


def test_compose_database_service(compose):
    db = compose["services"]["db"]
    assert db["image"] == "postgres:15"
    env = db["environment"]
    assert env["POSTGRES_USER"] == "odoo"
    assert env["POSTGRES_PASSWORD"] == "odoo"
    assert env["POSTGRES_DB"] == "postgres"


def test_compose_odoo_services_mount_the_project(compose):
    names = _odoo_services(compose)
    assert "odoo" in names
    for name in names:
        service = _service_with_build(compose, name)
        build = service["build"]
        context = DOCKER_DIR / (build if isinstance(build, str) else build["context"])
        dockerfile = "Dockerfile" if isinstance(build, str) else build["dockerfile"]
        assert (context / dockerfile).resolve() == DOCKER_DIR / "Dockerfile"
        mounts = _mounts(service)
        assert mounts[IMAGE_EXTRA_ADDONS] == str(ADDONS_DIR)
        assert mounts[IMAGE_CONF] == str(ROOT / "odoo.conf")
        argv = _argv(service)
        assert argv[0] == "odoo"
        assert f"--addons-path={IMAGE_EXTRA_ADDONS},{IMAGE_OCA_ADDONS}" in argv
        assert "--db_host=db" in argv
        assert "--db_user=odoo" in argv
        assert "--db_password=odoo" in argv
        assert service["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_odoo_serves_on_8069(compose):
    service = compose["services"]["odoo"]
    assert any(str(port).endswith("8069:8069") for port in service["ports"])
    # odoo.conf listens on 127.0.0.1 only; inside a container that would be
    # unreachable from the host.
    assert "--http-interface=0.0.0.0" in _argv(service)


def test_compose_has_a_one_shot_demo_init(compose):
    inits = [
        svc
        for svc in compose["services"].values()
        if "--stop-after-init" in (svc.get("command") or [])
    ]
    assert len(inits) == 1
    command = inits[0]["command"]
    assert "-i" in command
    assert command[command.index("-i") + 1] == ",".join(ADDONS)


def test_compose_multinode_profile(compose):
    """Two Odoo nodes with workers and crons, sharing the database and the
    filestore, reading their read-only pages from a streaming standby."""
    services = compose["services"]
    nodes = [n for n, s in services.items() if "multinode" in s.get("profiles", [])]
    assert {"odoo-node-a", "odoo-node-b", "db-replica"} <= set(nodes)
    host_ports = set()
    for name in ("odoo-node-a", "odoo-node-b"):
        service = services[name]
        argv = _argv(service)
        assert any(a.startswith("--workers=") and int(a[10:]) >= 2 for a in argv)
        assert "--max-cron-threads=1" in argv
        assert "--db_replica_host=db-replica" in argv
        assert "--db_host=db" in argv
        assert "odoo-data:/var/lib/odoo" in service["volumes"], name
        host_ports.update(str(port).rsplit(":", 1)[0] for port in service["ports"])
    assert len(host_ports) == 2, "each node on its own host port"
    replica = services["db-replica"]
    assert replica["image"] == services["db"]["image"]
    script = " ".join(replica["entrypoint"])
    assert "pg_basebackup -h db" in script and " -R " in script
    assert "hot_standby=on" in script
    # The primary lets the standby replicate.
    hba = (DOCKER_DIR / "postgres" / "pg_hba.conf").read_text()
    assert re.search(
        r"^host\s+replication\s+all\s+all\s+scram-sha-256$", hba, re.MULTILINE
    )
    assert "wal_level=replica" in services["db"]["command"]


# === Manifests ===


def _manifest(addon):
    return ast.literal_eval((ADDONS_DIR / addon / "__manifest__.py").read_text())


@pytest.mark.parametrize("addon", ADDONS)
def test_manifest_version_and_files(addon):
    manifest = _manifest(addon)
    assert re.fullmatch(r"18\.0\.\d+\.\d+\.\d+", manifest["version"]), manifest[
        "version"
    ]
    missing = [
        path
        for key in ("data", "demo")
        for path in manifest.get(key, [])
        if not (ADDONS_DIR / addon / path).is_file()
    ]
    assert not missing, f"{addon} manifest lists missing files: {missing}"


def test_manifests_licenses():
    # The core and the portal are LGPL-3; the support-desk bridge extends
    # OCA's AGPL-3 helpdesk modules, so it is AGPL-3 too.
    licenses = {addon: _manifest(addon)["license"] for addon in ADDONS}
    assert licenses == {
        "defining_retainer": "LGPL-3",
        "defining_retainer_portal": "LGPL-3",
        "defining_retainer_helpdesk": "AGPL-3",
    }


def test_portal_depends_on_the_main_addon():
    assert "defining_retainer" in _manifest("defining_retainer_portal")["depends"]


# === Entry points ===


@pytest.mark.parametrize(
    "script", ["scripts/bootstrap", "scripts/run", "scripts/test", ".ci/run"]
)
def test_entry_points_are_executable(script):
    path = ROOT / script
    assert path.is_file()
    assert os.access(path, os.X_OK), f"{script} is not executable (chmod +x)"
