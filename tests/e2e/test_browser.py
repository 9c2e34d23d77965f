"""A real headless Chromium loads the login page (the web client's assets
and templates render)."""

import subprocess

import pytest
from odoo_e2e import find_browser, login_form


def test_chromium_renders_the_login_form(server, tmp_path):
    browser = find_browser()
    if not browser:
        pytest.fail("no chromium/google-chrome on PATH: run scripts/bootstrap --system")
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--dump-dom",
            f"{server.url}/web/login",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert login_form(result.stdout), (
        f"no login form in the DOM:\n{result.stdout[:2000]}"
    )
