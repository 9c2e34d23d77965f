"""Several clicks of one customer on the portal at the same moment, on a
real server (threaded, one transaction per request, REPEATABLE READ).

Each client is its own browser session of the customer's portal user; all
have their form on screen before any of them submits. Four *Buy* clicks
make one quotation, which every click lands on; four top-up requests under
an hourly limit of two make two quotations, the other two are refused with
the limit's message. No request ends in a server error: the clicks that
lose the race on the retainer's row are retried by Odoo.
"""

import threading

import pytest
from odoo_e2e import forms, logged_in_session, page_text, portal_shop

CLIENTS = 4
HOURLY_LIMIT = 2


@pytest.fixture(scope="module")
def race(admin):
    """A company selling on the portal and two customers, each with a
    portal user and a retainer; puts the settings back afterwards."""
    names = ("E2E Race Customer 0", "E2E Race Customer 1")
    settings = {
        "retainer_portal_topup_mode": "buy",
        "retainer_portal_topup_hourly_limit": HOURLY_LIMIT,
    }
    with portal_shop(admin, "E2E race portal day", names, "racer", settings) as shop:
        yield shop | {
            "customers": [
                (
                    shop["customers"][name]["login"],
                    shop["customers"][name]["contract_id"],
                )
                for name in names
            ]
        }


def _submit_at_once(server, login, contract_id, action, values):
    """Each client opens the retainer page in its own session and submits
    the form of ``action`` (``buy`` or ``topup``) with ``values``, all at
    the same moment. Returns the responses, in no particular order."""
    start = threading.Barrier(CLIENTS, timeout=120)
    responses, failures = [], []

    def client():
        try:
            session = logged_in_session(server, login, login)
            page = session.get(f"{server.url}/my/retainers/{contract_id}", timeout=60)
            assert page.status_code == 200
            # The form of ``action``; for a purchase, the one of the product.
            [form] = [
                f
                for f in forms(page.text)
                if f["action"].split("?")[0].endswith(f"/{contract_id}/{action}")
                and all(
                    f["inputs"].get(name, value) == value
                    for name, value in values.items()
                    if name == "product_id"
                )
            ]
            start.wait()
            responses.append(
                session.post(
                    f"{server.url}{form['action']}",
                    data={**form["inputs"], **values},
                    timeout=120,
                )
            )
        except Exception as error:  # noqa: BLE001 (reported by the test)
            failures.append(repr(error))
            start.abort()

    threads = [threading.Thread(target=client) for _n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert not failures, failures
    assert [r.status_code for r in responses] == [200] * CLIENTS
    return responses


def _orders(admin, contract_id, origin):
    return admin(
        "sale.order",
        "search_read",
        [("retainer_id", "=", contract_id), ("retainer_topup_origin", "=", origin)],
        fields=["id"],
    )


def test_concurrent_buy_clicks_make_one_quotation(server, admin, race):
    login, contract_id = race["customers"][0]
    responses = _submit_at_once(
        server,
        login,
        contract_id,
        "buy",
        {"product_id": str(race["product_id"]), "quantity": "1"},
    )
    [order] = _orders(admin, contract_id, "portal_buy")
    assert {r.url.split("?")[0] for r in responses} == {
        f"{server.url}/my/orders/{order['id']}"
    }


def test_concurrent_requests_keep_the_hourly_limit(server, admin, race):
    login, contract_id = race["customers"][1]
    # The request form is shown when the company does not sell online.
    admin(
        "res.company",
        "write",
        [race["company_id"]],
        {"retainer_portal_topup_mode": "request"},
    )
    responses = _submit_at_once(
        server, login, contract_id, "topup", {"quantity": "1", "unit": "day"}
    )
    assert len(_orders(admin, contract_id, "portal_request")) == HOURLY_LIMIT
    refused = [
        r
        for r in responses
        if f"already made {HOURLY_LIMIT} top-up requests" in page_text(r.text)
    ]
    assert len(refused) == CLIENTS - HOURLY_LIMIT
