"""The server answers as a browser expects, before anyone logs in."""

from urllib.parse import parse_qs, urlparse

from odoo_e2e import login_form


def test_health(server):
    response = server.session().get(f"{server.url}/web/health", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["status"] == "pass"


def test_login_page_has_the_login_form(server):
    response = server.session().get(f"{server.url}/web/login", timeout=30)
    assert response.status_code == 200
    assert login_form(response.text), "no login form on /web/login"


def test_portal_home_sends_anonymous_visitors_to_login(server):
    response = server.session().get(
        f"{server.url}/my", allow_redirects=False, timeout=30
    )
    assert response.status_code in (302, 303)
    location = urlparse(response.headers["Location"])
    assert location.path == "/web/login"
    assert parse_qs(location.query)["redirect"][0].startswith("/my")
