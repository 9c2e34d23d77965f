"""The demo portal user (a contact of Acme Dental Group) sees Acme's
retainer and nothing of the other customers'. The expected data is read as
admin through XML-RPC, never hard-coded."""

import re

from odoo_e2e import page_text, table_rows

OWN = "Acme Dental Group"
OTHERS = ("Brightwater Accountants", "Castle Legal LLP")


def test_portal_user_is_a_contact_of_acme(admin):
    [user] = admin(
        "res.users", "search_read", [("login", "=", "portal")], fields=["partner_id"]
    )
    [partner] = admin(
        "res.partner",
        "read",
        [user["partner_id"][0]],
        fields=["commercial_partner_id"],
    )
    assert partner["commercial_partner_id"][1] == OWN


def test_retainer_list_shows_own_retainer_and_balance(
    server, portal_session, demo_retainers
):
    response = portal_session.get(f"{server.url}/my/retainers", timeout=30)
    assert response.status_code == 200
    own = demo_retainers[OWN]
    rows = [
        row for row in table_rows(response.text) if any(own["name"] in c for c in row)
    ]
    assert rows, f"{own['name']} is not listed on /my/retainers"
    assert str(own["balance_units"]) in rows[0], (
        f"balance {own['balance_units']} not in the row {rows[0]}"
    )


def test_retainer_detail_shows_own_balance(server, portal_session, demo_retainers):
    own = demo_retainers[OWN]
    response = portal_session.get(f"{server.url}/my/retainers/{own['id']}", timeout=30)
    assert response.status_code == 200
    assert response.url.endswith(f"/my/retainers/{own['id']}")
    text = page_text(response.text)
    assert own["name"] in text
    balance = re.escape(str(own["balance_units"]))
    assert re.search(rf"(?<![\d.,]){balance} units?\b", text), (
        f"'{own['balance_units']} units' not on the page: {text[:1500]}"
    )


def test_other_customers_retainers_are_invisible(
    server, portal_session, demo_retainers
):
    listing = portal_session.get(f"{server.url}/my/retainers", timeout=30).text
    for customer in OTHERS:
        other = demo_retainers[customer]
        assert other["name"] not in listing
        assert customer not in listing
        response = portal_session.get(
            f"{server.url}/my/retainers/{other['id']}", timeout=30
        )
        # Refused one way or another (redirect, 403, 404) ...
        assert not (
            response.status_code == 200
            and response.url.endswith(f"/my/retainers/{other['id']}")
        ), f"{customer}'s retainer page is served to Acme's portal user"
        # ... and none of its data on whatever page comes back.
        assert other["name"] not in response.text
        assert customer not in response.text
