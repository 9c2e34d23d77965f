"""The test and run commands' own guards, run for real on fake inputs.

Each test runs a script in a subprocess with an environment that makes it
stop at the guard under test, before it installs, builds or serves anything.
"""

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(argv, env, timeout=45):
    """Run a script; on timeout stop it with everything it started."""
    with subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"{argv} still ran after {timeout} s:\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def _base_env(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RETAINER_", "ODOO_", "CI"))
    }
    # A venv that does not exist: nothing may be installed before the guard.
    env["VENV"] = str(tmp_path / "no-venv")
    # Never reach the network to clone an Odoo tree.
    env["ODOO_REPO_URL"] = f"file://{tmp_path}/no-such-repo"
    env["RETAINER_TEST_DB_PREFIX"] = "unit_never_used"
    return env


def _fake_tree(tmp_path, kind):
    tree = tmp_path / "odoo"
    (tree / "odoo").mkdir(parents=True)
    if kind == "odoo17":
        (tree / "odoo-bin").write_text("#!/usr/bin/env python3\n")
        (tree / "odoo" / "release.py").write_text(
            "version_info = (17, 0, 0, FINAL, 0, '')\n"
        )
    elif kind == "no-odoo-bin":
        (tree / "odoo" / "release.py").write_text(
            "version_info = (18, 0, 0, FINAL, 0, '')\n"
        )
    elif kind == "not-odoo":
        (tree / "README").write_text("something else\n")
    return tree


# === scripts/test under CI=true ===


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("odoo17", r"holds Odoo 17\.0, not 18\.0"),
        ("no-odoo-bin", r"holds Odoo 18\.0 but has no odoo-bin"),
        ("not-odoo", r"is not an Odoo 18\.0 source tree"),
        ("missing", r"unreachable"),
    ],
)
def test_ci_fails_without_an_odoo_18_tree(tmp_path, kind, reason):
    env = _base_env(tmp_path)
    if kind == "missing":
        env["ODOO_PATH"] = str(tmp_path / "nowhere")
    else:
        env["ODOO_PATH"] = str(_fake_tree(tmp_path, kind))
    env["CI"] = "true"
    result = _run(["bash", "scripts/test"], env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(reason, output), output
    assert "CI=true and no Odoo 18 tree at" in output, output
    # It stops before any tier (and before scripts/bootstrap): every tier
    # is a failure that did not run, none "passed".
    for tier in ("lint", "unit", "odoo", "compat", "e2e"):
        assert re.search(
            rf"^{tier}: 0 passed, 1 failed \(did NOT run: no Odoo 18 tree at .*"
            r"required under CI=true\)$",
            result.stdout,
            re.MULTILINE,
        ), output
    assert re.search(r"^total: 0 passed, 5 failed$", result.stdout, re.MULTILINE)
    assert not (tmp_path / "no-venv").exists(), "bootstrap ran before the check"


def test_ci_checks_the_tree_whatever_the_tiers(tmp_path):
    env = _base_env(tmp_path)
    env["ODOO_PATH"] = str(_fake_tree(tmp_path, "odoo17"))
    env["CI"] = "true"
    result = _run(["bash", "scripts/test", "--tier", "lint"], env)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("lint: 0 passed, 1 failed (did NOT run") for line in lines
    )
    assert "odoo: did NOT run (not selected)" in lines


def test_ci_entry_point_sets_ci(tmp_path):
    env = _base_env(tmp_path)
    env["ODOO_PATH"] = str(_fake_tree(tmp_path, "no-odoo-bin"))
    result = _run(["bash", ".ci/run"], env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CI=true and no Odoo 18 tree at" in result.stderr


# === scripts/run without wkhtmltopdf ===


@pytest.fixture
def path_without_wkhtmltopdf(tmp_path):
    """A PATH with the system's commands except wkhtmltopdf and apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            name = entry.name
            if name in ("wkhtmltopdf", "apt-get") or (bin_dir / name).exists():
                continue
            (bin_dir / name).symlink_to(entry.path)
    return str(bin_dir)


def test_run_stops_without_wkhtmltopdf_and_says_how(tmp_path, path_without_wkhtmltopdf):
    env = _base_env(tmp_path)
    env["PATH"] = path_without_wkhtmltopdf
    result = _run(["bash", "scripts/run"], env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ERROR: wkhtmltopdf not found: PDF reports" in result.stderr
    assert "apt-get install wkhtmltopdf" in result.stderr
    assert "scripts/run --no-pdf" in result.stderr
    assert not (tmp_path / "no-venv").exists(), "bootstrap ran before the check"


# === Configuration of the checks ===


def _all_tiers():
    text = (ROOT / "scripts" / "test").read_text()
    match = re.search(r"^ALL_TIERS=\(([^)]*)\)$", text, re.MULTILINE)
    assert match, "scripts/test has no ALL_TIERS"
    return match.group(1).split()


def _floors():
    floors = {}
    for line in (ROOT / "tests" / "floors.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            tier, floor = line.split()
            floors[tier] = int(floor)
    return floors


def test_every_tier_has_a_floor():
    assert _all_tiers() == ["lint", "unit", "odoo", "compat", "e2e"]
    assert sorted(_floors()) == sorted(_all_tiers())


def test_lint_floor_is_the_number_of_hooks():
    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert _floors()["lint"] == len(hooks)
    for hook in hooks:
        # The hooks run the tools of $VENV (scripts/test passes it), else
        # of .venv, never whatever is on PATH.
        assert "${VENV:-.venv}/bin/" in hook["entry"], hook["id"]


def test_compat_known_failures_are_specs_with_proof():
    lines = (ROOT / "tests" / "compat_known_failures.txt").read_text().splitlines()
    previous = ""
    for line in lines:
        spec = line.split("#", 1)[0].strip()
        if spec:
            assert re.fullmatch(r"/[a-z0-9_]+:[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?", spec)
            # The proof is the comment block just above the spec.
            assert previous.startswith("#"), f"{spec} has no proof above it"
        previous = line.strip()


def test_pytest_timeouts_are_configured():
    import configparser

    parser = configparser.ConfigParser()
    parser.read(ROOT / "pytest.ini")
    options = parser["pytest"]
    assert options["required_plugins"].strip() == "pytest-timeout"
    assert int(options["timeout"]) > 0
    assert options["timeout_method"].strip() == "signal"
    requirements = (ROOT / "requirements-dev.txt").read_text()
    assert re.search(r"^pytest-timeout==[0-9.]+$", requirements, re.MULTILINE)


def test_unit_tests_have_a_short_timeout(request):
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None and marker.args[0] <= 60
