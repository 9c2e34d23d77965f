"""Fields that decide units, money or charging, sent by client programs on
Odoo's external API (XML-RPC) as a salesperson and as a billing-only user:
the server keeps its own values, what the client sent is dropped."""

import uuid

import pytest
from odoo_e2e import Rpc


def _user(admin, server, login, groups):
    """A user of the main company in ``groups`` (XML ids), logged in over
    XML-RPC with a password of its own."""
    group_ids = [
        admin("ir.model.data", "check_object_reference", *xmlid.split("."))[1]
        for xmlid in groups
    ]
    password = uuid.uuid4().hex
    login = f"{login}_{password[:8]}"  # a run of its own on a reused database
    admin(
        "res.users",
        "create",
        {
            "name": login,
            "login": login,
            "password": password,
            "groups_id": [(6, 0, group_ids)],
        },
    )
    return Rpc(server.url, server.db, login, password)


@pytest.fixture(scope="module")
def salesman(admin, server):
    return _user(
        admin, server, "e2e_server_fields_salesman", ["sales_team.group_sale_salesman"]
    )


@pytest.fixture(scope="module")
def billing(admin, server):
    return _user(
        admin, server, "e2e_server_fields_billing", ["account.group_account_invoice"]
    )


@pytest.fixture(scope="module")
def customer_id(admin):
    return admin(
        "res.partner", "create", {"name": "E2E Server Fields Ltd", "is_company": True}
    )


def _day_product(admin):
    [product_id] = admin(
        "product.product", "search", [("retainer_units", "=", 28)], limit=1
    )
    return product_id


def test_salesperson_cannot_set_the_order_fields_that_credit_or_charge(
    admin, salesman, customer_id
):
    [user] = admin("res.users", "read", [salesman.uid], fields=["company_id"])
    [company] = admin(
        "res.company",
        "read",
        [user["company_id"][0]],
        fields=["retainer_credit_trigger"],
    )
    forged = "confirm" if company["retainer_credit_trigger"] != "confirm" else "paid"
    order_id = salesman(
        "sale.order",
        "create",
        {
            "partner_id": customer_id,
            "order_line": [
                (0, 0, {"product_id": _day_product(admin), "product_uom_qty": 1})
            ],
            "retainer_credit_trigger": forged,
            "retainer_topup_origin": "auto",
            "retainer_auto_topup_state": "to_charge",
        },
    )
    salesman("sale.order", "action_confirm", [order_id])
    [line_id] = salesman("sale.order.line", "search", [("order_id", "=", order_id)])
    # The salesperson's own confirmed line: 28 units must stay 28.
    salesman("sale.order.line", "write", [line_id], {"retainer_product_units": 2800})
    salesman(
        "sale.order", "write", [order_id], {"retainer_auto_topup_state": "to_charge"}
    )

    [order] = admin(
        "sale.order",
        "read",
        [order_id],
        fields=[
            "retainer_credit_trigger",
            "retainer_topup_origin",
            "retainer_auto_topup_state",
        ],
    )
    assert order["retainer_credit_trigger"] == company["retainer_credit_trigger"]
    assert order["retainer_topup_origin"] == "sale"
    assert order["retainer_auto_topup_state"] is False
    [line] = admin(
        "sale.order.line", "read", [line_id], fields=["retainer_product_units"]
    )
    assert line["retainer_product_units"] == 28
    credited = admin(
        "retainer.ledger.entry",
        "search_read",
        [("sale_line_id", "=", line_id)],
        fields=["units"],
    )
    assert sum(entry["units"] for entry in credited) in (0, 28)


def test_billing_user_cannot_make_an_invoice_credit_an_overdraft(
    admin, billing, demo_retainers
):
    retainer = demo_retainers["Acme Dental Group"]
    [before] = admin(
        "retainer.contract",
        "read",
        [retainer["id"]],
        fields=["balance_units", "partner_id"],
    )
    invoice_id = billing(
        "account.move",
        "create",
        {
            "move_type": "out_invoice",
            "partner_id": before["partner_id"][0],
            "retainer_overdraft_id": retainer["id"],
            "retainer_overdraft_units": 1000,
            "invoice_line_ids": [
                (0, 0, {"name": "Nothing", "quantity": 1, "price_unit": 0.0})
            ],
        },
    )
    billing("account.move", "action_post", [invoice_id])
    [invoice] = admin(
        "account.move",
        "read",
        [invoice_id],
        fields=["state", "retainer_overdraft_id", "retainer_overdraft_units"],
    )
    assert invoice["state"] == "posted"
    assert invoice["retainer_overdraft_id"] is False
    assert invoice["retainer_overdraft_units"] == 0
    [after] = admin(
        "retainer.contract", "read", [retainer["id"]], fields=["balance_units"]
    )
    assert after["balance_units"] == before["balance_units"]
    assert not admin(
        "retainer.ledger.entry", "search", [("invoice_id", "=", invoice_id)]
    )
