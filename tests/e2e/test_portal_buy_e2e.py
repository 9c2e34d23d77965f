"""Customers buy time on the portal and pay online, on a real server.

Two customers, each with a portal user and a retainer, made through
XML-RPC. The company sells a retainer day on the portal and takes payments
with Odoo's demo provider (installed in the test database only). Through
HTTP as a browser does: the first customer buys a day, pays (the provider
reports success), lands back on the retainer page and has 28 more units; a
failed payment changes nothing; the second customer can neither buy onto
the first one's retainer nor pay the first one's quotation. Then the
payment's life with a provider that captures manually: a hold credits
nothing until staff capture it, a voided hold cancels the order, a refund
is reported, an expired quotation cannot be paid, and the automatic top-up
never charges the saved card of a contact who left the customer. Every
figure is read back as the administrator through XML-RPC.
"""

import datetime
import re

import pytest
from odoo_e2e import forms, logged_in_session, page_text, portal_shop, run_cron_now

LANDING_RE = re.compile(r'data-landing-route="([^"]+)"')


def _jsonrpc(session, url, params):
    response = session.post(
        url, json={"jsonrpc": "2.0", "method": "call", "params": params}, timeout=60
    )
    assert response.status_code == 200, response.text[:500]
    return response.json()


@pytest.fixture(scope="module")
def shop(admin):
    """The company sells on the portal; returns what the tests need and
    puts the settings back afterwards."""
    names = ("E2E Buyer One Ltd", "E2E Buyer Two Ltd")
    with portal_shop(
        admin,
        "E2E portal retainer day",
        names,
        "buyer",
        {"retainer_portal_topup_mode": "buy"},
    ) as shop:
        yield shop | {
            "one": shop["customers"][names[0]],
            "two": shop["customers"][names[1]],
        }


def _balance(admin, contract_id):
    [contract] = admin(
        "retainer.contract", "read", [contract_id], fields=["balance_units"]
    )
    return contract["balance_units"]


def _orders(admin, contract_id):
    return admin(
        "sale.order",
        "search_read",
        [("retainer_id", "=", contract_id)],
        fields=[
            "name",
            "state",
            "invoice_ids",
            "retainer_topup_origin",
            "access_token",
        ],
        order="id",
    )


def _buy(server, session, contract_id, product_id, quantity="1"):
    page = session.get(f"{server.url}/my/retainers/{contract_id}", timeout=30)
    assert page.status_code == 200
    [form] = [
        f
        for f in forms(page.text)
        if f["action"].endswith(f"/my/retainers/{contract_id}/buy")
        and f["inputs"].get("product_id") == str(product_id)
    ]
    return session.post(
        f"{server.url}{form['action']}",
        data={**form["inputs"], "quantity": quantity},
        timeout=60,
    )


def _pay_order(session, server, shop, order_id, amount, landing_route, access_token):
    """Odoo's transaction route of a quotation's portal page, with the demo
    provider, as the payment form posts it; returns the JSON-RPC answer."""
    return _jsonrpc(
        session,
        f"{server.url}/my/orders/{order_id}/transaction",
        {
            "provider_id": shop["provider_id"],
            "payment_method_id": shop["method_id"],
            "token_id": None,
            "amount": amount,
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": landing_route,
            "access_token": access_token,
        },
    )


def _pay(server, admin, session, order_url, shop, simulated_state, expected=None):
    page = session.get(order_url, timeout=30)
    landing = LANDING_RE.search(page.text).group(1).replace("&amp;", "&")
    order_id = int(re.search(r"/my/orders/(\d+)", order_url).group(1))
    token = re.search(r"access_token=([\w-]+)", order_url).group(1)
    [order] = admin("sale.order", "read", [order_id], fields=["amount_total"])
    amount = order["amount_total"]
    processing = _pay_order(
        session,
        server,
        shop,
        order_id,
        amount=amount,
        landing_route=landing,
        access_token=token,
    )["result"]
    _jsonrpc(
        session,
        f"{server.url}/payment/demo/simulate_payment",
        {
            "reference": processing["reference"],
            "payment_details": "4242",
            "simulated_state": simulated_state,
        },
    )
    status = _jsonrpc(session, f"{server.url}/payment/status/poll", {})["result"]
    assert status["state"] == (expected or simulated_state)
    return session.get(f"{server.url}{status['landing_route']}", timeout=30)


def test_buy_and_pay_credits_the_retainer(server, admin, shop):
    one = shop["one"]
    session = logged_in_session(server, one["login"], one["login"])
    balance = _balance(admin, one["contract_id"])
    response = _buy(server, session, one["contract_id"], shop["product_id"])
    assert "/my/orders/" in response.url
    [order] = _orders(admin, one["contract_id"])
    assert order["state"] == "sent"
    assert order["retainer_topup_origin"] == "portal_buy"
    assert _balance(admin, one["contract_id"]) == balance

    # A failed payment changes nothing.
    landing = _pay(server, admin, session, response.url, shop, "error")
    assert f"/my/retainers/{one['contract_id']}" in landing.url
    assert "Your payment did not go through." in page_text(landing.text)
    assert _balance(admin, one["contract_id"]) == balance
    [order] = _orders(admin, one["contract_id"])
    assert order["state"] == "sent"

    # Buying again reuses the open quotation; paying it credits 28 units.
    again = _buy(server, session, one["contract_id"], shop["product_id"])
    assert again.url.split("?")[0] == response.url.split("?")[0]
    landing = _pay(server, admin, session, again.url, shop, "done")
    assert f"/my/retainers/{one['contract_id']}" in landing.url
    text = page_text(landing.text)
    assert "Thank you, your payment was received." in text
    assert _balance(admin, one["contract_id"]) == balance + 28
    assert f"{balance + 28} units" in text
    [order] = _orders(admin, one["contract_id"])
    assert order["state"] == "sale"
    [invoice] = admin(
        "account.move", "read", order["invoice_ids"], fields=["state", "payment_state"]
    )
    assert invoice["state"] == "posted"
    assert invoice["payment_state"] in ("paid", "in_payment")
    [credit] = admin(
        "retainer.ledger.entry",
        "search_read",
        [("contract_id", "=", one["contract_id"]), ("kind", "=", "credit")],
        fields=["units", "topup_origin"],
    )
    assert credit == {"id": credit["id"], "units": 28, "topup_origin": "portal_buy"}


def test_nobody_buys_onto_someone_elses_retainer(server, admin, shop):
    one, two = shop["one"], shop["two"]
    intruder = logged_in_session(server, two["login"], two["login"])
    # The intruder's own page gives a valid CSRF token for its session.
    page = intruder.get(f"{server.url}/my/retainers/{two['contract_id']}", timeout=30)
    [form] = [
        f
        for f in forms(page.text)
        if f["action"].endswith("/buy")
        and f["inputs"].get("product_id") == str(shop["product_id"])
    ]
    before = _orders(admin, one["contract_id"])
    response = intruder.post(
        f"{server.url}/my/retainers/{one['contract_id']}/buy",
        data={**form["inputs"], "quantity": "1"},
        timeout=30,
    )
    assert not response.url.split("?")[0].endswith(
        f"/my/retainers/{one['contract_id']}"
    )
    assert "/my/orders/" not in response.url
    assert _orders(admin, one["contract_id"]) == before
    # Nor pay (or even see) the other customer's quotation without its token.
    owner = logged_in_session(server, one["login"], one["login"])
    bought = _buy(server, owner, one["contract_id"], shop["product_id"])
    order_id = int(re.search(r"/my/orders/(\d+)", bought.url).group(1))
    seen = intruder.get(f"{server.url}/my/orders/{order_id}", timeout=30)
    assert not seen.url.split("?")[0].endswith(f"/my/orders/{order_id}")
    answer = _pay_order(
        intruder,
        server,
        shop,
        order_id,
        amount=600.0,
        landing_route="/my",
        access_token="not-the-token",
    )
    assert "error" in answer
    assert not admin(
        "payment.transaction", "search", [("sale_order_ids", "in", [order_id])]
    )


def _order_id(url):
    return int(re.search(r"/my/orders/(\d+)", url).group(1))


def _staff_call(session, server, model, method, *args, **kwargs):
    """Call ``model.method`` as a logged-in staff user's web client does
    (a button): the answer may be None, which XML-RPC cannot carry."""
    answer = _jsonrpc(
        session,
        f"{server.url}/web/dataset/call_kw/{model}/{method}",
        {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
    )
    assert "error" not in answer, answer["error"]
    return answer.get("result")


def _run_cron(admin, xmlid):
    """Run a scheduled job now (the test server runs none by itself; the
    cron workers of the multi-node tests may be running it)."""
    run_cron_now(admin, xmlid)


def _transactions(admin, order_id, fields=("state",)):
    return admin(
        "payment.transaction",
        "search_read",
        [("sale_order_ids", "in", [order_id])],
        fields=list(fields),
    )


def _notes(admin, model, res_id, text):
    return admin(
        "mail.message",
        "search",
        [("model", "=", model), ("res_id", "=", res_id), ("body", "ilike", text)],
    )


@pytest.fixture
def manual_capture(admin, shop):
    """The demo provider captures manually while the test runs."""
    [before] = admin(
        "payment.provider", "read", [shop["provider_id"]], fields=["capture_manually"]
    )
    admin(
        "payment.provider", "write", [shop["provider_id"]], {"capture_manually": True}
    )
    yield
    admin(
        "payment.provider",
        "write",
        [shop["provider_id"]],
        {"capture_manually": before["capture_manually"]},
    )


def test_card_hold_credits_on_capture_and_void_cancels(
    server, admin, shop, manual_capture
):
    one = shop["one"]
    session = logged_in_session(server, one["login"], one["login"])
    staff = logged_in_session(server, "admin", "admin")
    balance = _balance(admin, one["contract_id"])

    # Paid: only a hold on the card. Odoo confirms the order; no unit yet.
    bought = _buy(server, session, one["contract_id"], shop["product_id"])
    order_id = _order_id(bought.url)
    _pay(server, admin, session, bought.url, shop, "done", expected="authorized")
    [order] = admin("sale.order", "read", [order_id], fields=["state", "invoice_ids"])
    assert order["state"] == "sale"
    assert not order["invoice_ids"]
    assert _balance(admin, one["contract_id"]) == balance

    # Staff capture it with the order's Capture button (Odoo's wizard).
    [tx] = _transactions(admin, order_id)
    assert tx["state"] == "authorized"
    _staff_call(staff, server, "sale.order", "payment_action_capture", [order_id])
    wizard_id = _staff_call(
        staff,
        server,
        "payment.capture.wizard",
        "create",
        {},
        context={"active_model": "payment.transaction", "active_ids": [tx["id"]]},
    )
    _staff_call(staff, server, "payment.capture.wizard", "action_capture", [wizard_id])
    _run_cron(admin, "payment.cron_post_process_payment_tx")
    [tx] = _transactions(admin, order_id)
    assert tx["state"] == "done"
    assert _balance(admin, one["contract_id"]) == balance + 28
    [order] = admin("sale.order", "read", [order_id], fields=["invoice_ids"])
    [invoice] = admin(
        "account.move", "read", order["invoice_ids"], fields=["payment_state"]
    )
    assert invoice["payment_state"] in ("paid", "in_payment")

    # Another hold, voided by staff: the order is cancelled, nothing credited.
    bought = _buy(server, session, one["contract_id"], shop["product_id"])
    voided_id = _order_id(bought.url)
    assert voided_id != order_id
    _pay(server, admin, session, bought.url, shop, "done", expected="authorized")
    _staff_call(staff, server, "sale.order", "payment_action_void", [voided_id])
    _run_cron(admin, "payment.cron_post_process_payment_tx")
    [voided] = admin("sale.order", "read", [voided_id], fields=["state"])
    assert voided["state"] == "cancel"
    assert _balance(admin, one["contract_id"]) == balance + 28
    assert _notes(admin, "sale.order", voided_id, "was voided")


def test_expired_quotation_cannot_be_paid(server, admin, shop):
    two = shop["two"]
    session = logged_in_session(server, two["login"], two["login"])
    balance = _balance(admin, two["contract_id"])
    bought = _buy(server, session, two["contract_id"], shop["product_id"])
    order_id = _order_id(bought.url)
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    admin("sale.order", "write", [order_id], {"validity_date": yesterday.isoformat()})
    [order] = admin("sale.order", "read", [order_id], fields=["access_token"])
    # Odoo's transaction route, called directly: refused, nothing made.
    answer = _pay_order(
        session,
        server,
        shop,
        order_id,
        amount=600.0,
        landing_route="/my",
        access_token=order["access_token"],
    )
    assert "expired" in answer["error"]["data"]["message"]
    assert not _transactions(admin, order_id)
    [order] = admin("sale.order", "read", [order_id], fields=["state"])
    assert order["state"] == "sent"
    assert _balance(admin, two["contract_id"]) == balance


def test_refunded_payment_is_reported(server, admin, shop):
    two = shop["two"]
    session = logged_in_session(server, two["login"], two["login"])
    staff = logged_in_session(server, "admin", "admin")
    balance = _balance(admin, two["contract_id"])
    bought = _buy(server, session, two["contract_id"], shop["product_id"])
    order_id = _order_id(bought.url)
    _pay(server, admin, session, bought.url, shop, "done")
    assert _balance(admin, two["contract_id"]) == balance + 28
    [tx] = _transactions(admin, order_id)
    _staff_call(staff, server, "payment.transaction", "action_refund", [tx["id"]])
    _run_cron(admin, "payment.cron_post_process_payment_tx")
    [refund] = admin(
        "payment.transaction",
        "search_read",
        [("source_transaction_id", "=", tx["id"])],
        fields=["state", "operation"],
    )
    assert (refund["state"], refund["operation"]) == ("done", "refund")
    # Never silently kept: the order says so, for its account manager.
    assert _notes(admin, "sale.order", order_id, "was refunded")
    assert _notes(admin, "retainer.contract", two["contract_id"], "was refunded")


def test_automatic_top_up_never_charges_a_former_contacts_card(server, admin, shop):
    two = shop["two"]
    [contract] = admin(
        "retainer.contract", "read", [two["contract_id"]], fields=["partner_id"]
    )
    customer_id = contract["partner_id"][0]
    contact_id = admin(
        "res.partner",
        "create",
        {"name": "E2E Former Contact", "parent_id": customer_id},
    )
    token_id = admin(
        "payment.token",
        "create",
        {
            "provider_id": shop["provider_id"],
            "payment_method_id": shop["method_id"],
            "partner_id": contact_id,
            "provider_ref": "e2e-former-contact",
            "payment_details": "4242",
            "demo_simulated_state": "done",
        },
    )
    admin(
        "retainer.contract",
        "write",
        [two["contract_id"]],
        {
            "auto_topup": True,
            "auto_topup_threshold_units": 0,
            "auto_topup_product_id": shop["product_id"],
            "auto_topup_quantity": 1,
            "auto_topup_token_id": token_id,
        },
    )
    # A posting leaves the balance at the threshold: the top-up is ordered.
    for kind, units in (("credit", 10), ("adjustment", None)):
        wizard_id = admin(
            "retainer.ledger.post",
            "create",
            {
                "contract_id": two["contract_id"],
                "kind": kind,
                "units": units or -_balance(admin, two["contract_id"]),
                "reason": "E2E usage",
            },
        )
        admin("retainer.ledger.post", "action_post", [wizard_id])
    assert _balance(admin, two["contract_id"]) == 0
    [order] = admin(
        "sale.order",
        "search_read",
        [
            ("retainer_id", "=", two["contract_id"]),
            ("retainer_topup_origin", "=", "auto"),
        ],
        fields=["retainer_auto_topup_state"],
    )
    assert order["retainer_auto_topup_state"] == "to_charge"
    # The contact leaves the customer before the job charges.
    other_id = admin(
        "res.partner", "create", {"name": "E2E Elsewhere Ltd", "is_company": True}
    )
    admin("res.partner", "write", [contact_id], {"parent_id": other_id})
    _run_cron(admin, "defining_retainer.ir_cron_retainer_auto_topup_charge")
    assert not _transactions(admin, order["id"])
    [order] = admin(
        "sale.order",
        "read",
        [order["id"]],
        fields=["state", "retainer_auto_topup_state"],
    )
    assert (order["state"], order["retainer_auto_topup_state"]) == ("sent", "sent")
    assert _notes(admin, "sale.order", order["id"], "no longer one of")
    assert _balance(admin, two["contract_id"]) == 0
