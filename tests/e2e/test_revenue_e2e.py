"""Deferred retainer revenue through XML-RPC, as an accountant's client
program would do it (public methods only).

The demo company defers retainer revenue and its recognition already ran
up to the end of last month (demo data). A new customer buys a retainer
day, invoiced two months ago into deferred revenue, and uses 2 hours of it
last month. A run dated before the last one is refused; the run up to
yesterday recognises the value of those 8 units for that customer, and the
deferred revenue report agrees with the books to the cent.

The database may be shared with other tests of the session (and reused by
later sessions): every figure is read for this test's own customer, or is a
total that must agree whatever the others posted.
"""

import datetime
import uuid
import xmlrpc.client

import pytest

DAY_UNITS = 28  # units of a retainer day
HOURS = 2.0  # logged last month: 8 units of 15 minutes


def _xmlid(admin, module, name):
    [data] = admin(
        "ir.model.data",
        "search_read",
        [("module", "=", module), ("name", "=", name)],
        fields=["res_id"],
    )
    return data["res_id"]


def _company(admin):
    [user] = admin("res.users", "read", [admin.uid], fields=["company_id"])
    [company] = admin(
        "res.company",
        "read",
        [user["company_id"][0]],
        fields=[
            "retainer_defer_revenue",
            "retainer_deferred_account_id",
            "retainer_revenue_account_id",
            "retainer_revenue_journal_id",
            "retainer_recognized_until",
        ],
    )
    return company


def _revenue_moves(admin, journal_id):
    return admin("account.move", "search_count", [("journal_id", "=", journal_id)])


def _sell_and_invoice(admin, partner_id, contract_id, invoice_date):
    """Sell one retainer day to ``partner_id`` on ``contract_id``, invoice
    it with the sales wizard, date the invoice and post it; return the
    order and the invoice (read)."""
    order_id = admin(
        "sale.order",
        "create",
        {
            "partner_id": partner_id,
            "retainer_id": contract_id,
            # With payment terms: without them the invoicing wizard's answer
            # holds a None, which XML-RPC cannot send.
            "payment_term_id": _xmlid(
                admin, "account", "account_payment_term_immediate"
            ),
            "order_line": [
                (
                    0,
                    0,
                    {
                        "product_id": _xmlid(
                            admin, "defining_retainer", "product_retainer_day"
                        ),
                        "product_uom_qty": 1,
                    },
                )
            ],
        },
    )
    admin("sale.order", "action_confirm", [order_id])
    context = {"active_model": "sale.order", "active_ids": [order_id]}
    wizard_id = admin(
        "sale.advance.payment.inv",
        "create",
        {"advance_payment_method": "delivered"},
        context=context,
    )
    admin("sale.advance.payment.inv", "create_invoices", [wizard_id], context=context)
    [order] = admin(
        "sale.order", "read", [order_id], fields=["invoice_ids", "order_line"]
    )
    [invoice_id] = order["invoice_ids"]
    admin("account.move", "write", [invoice_id], {"invoice_date": invoice_date})
    admin("account.move", "action_post", [invoice_id])
    [invoice] = admin(
        "account.move",
        "read",
        [invoice_id],
        fields=["state", "amount_untaxed", "invoice_line_ids"],
    )
    return order, invoice


def _recognize(admin, company_id, date):
    wizard_id = admin(
        "retainer.revenue.recognize",
        "create",
        {"date": date, "company_ids": [(6, 0, [company_id])]},
    )
    return admin("retainer.revenue.recognize", "action_recognize", [wizard_id])


def test_sale_is_deferred_then_recognised_and_the_report_agrees(admin):
    today = datetime.date.today()
    last_month_end = today.replace(day=1) - datetime.timedelta(days=1)
    two_months_ago = (
        last_month_end.replace(day=1) - datetime.timedelta(days=1)
    ).replace(day=15)
    work_date = last_month_end.replace(day=10)
    yesterday = today - datetime.timedelta(days=1)

    # The demo company defers retainer revenue, recognised up to the end of
    # last month at least.
    company = _company(admin)
    assert company["retainer_defer_revenue"] is True
    deferred = company["retainer_deferred_account_id"]
    revenue = company["retainer_revenue_account_id"]
    journal = company["retainer_revenue_journal_id"]
    assert deferred and revenue and journal, company
    [deferred_account] = admin(
        "account.account", "read", [deferred[0]], fields=["account_type"]
    )
    assert deferred_account["account_type"] == "liability_current"
    recognized_until = datetime.date.fromisoformat(company["retainer_recognized_until"])
    assert last_month_end <= recognized_until <= yesterday

    # A new customer with a retainer and a support project.
    name = f"E2E Revenue {uuid.uuid4().hex[:8]}"
    partner_id = admin("res.partner", "create", {"name": name, "is_company": True})
    contract_id = admin(
        "retainer.contract",
        "create",
        {
            "partner_id": partner_id,
            "level_id": _xmlid(admin, "defining_retainer", "retainer_level_remote"),
        },
    )
    project_id = admin(
        "project.project",
        "create",
        {
            "name": f"{name} - Support",
            "partner_id": partner_id,
            "allow_timesheets": True,
            "retainer_id": contract_id,
        },
    )

    # Sold and invoiced two months ago: to deferred revenue.
    order, invoice = _sell_and_invoice(
        admin, partner_id, contract_id, two_months_ago.isoformat()
    )
    assert invoice["state"] == "posted"
    amount = invoice["amount_untaxed"]
    assert amount == 700.0
    [invoice_line] = admin(
        "account.move.line",
        "read",
        invoice["invoice_line_ids"],
        fields=["account_id", "retainer_deferred", "credit"],
    )
    assert invoice_line["account_id"][0] == deferred[0]
    assert invoice_line["retainer_deferred"] is True
    assert invoice_line["credit"] == amount
    [credit] = admin(
        "retainer.ledger.entry",
        "search_read",
        [("sale_line_id", "in", order["order_line"]), ("kind", "=", "credit")],
        fields=["units"],
    )
    assert credit["units"] == DAY_UNITS

    # 2 hours of work last month.
    [employee_id] = admin(
        "hr.employee", "search", [("user_id", "=", admin.uid)], limit=1
    )
    timesheet_id = admin(
        "account.analytic.line",
        "create",
        {
            "name": "E2E: firewall review",
            "project_id": project_id,
            "employee_id": employee_id,
            "unit_amount": HOURS,
            "retainer_contact_type": "remote",
            "date": work_date.isoformat(),
        },
    )
    [debit] = admin(
        "retainer.ledger.entry",
        "search_read",
        [("timesheet_id", "=", timesheet_id)],
        fields=["units"],
    )
    used_units = -debit["units"]
    assert used_units == 8
    expected = round(amount * used_units / DAY_UNITS, 2)  # 200.00

    # Runs only go forward: a date before the last run is refused.
    moves_before = _revenue_moves(admin, journal[0])
    with pytest.raises(xmlrpc.client.Fault) as refused:
        _recognize(
            admin,
            company["id"],
            (recognized_until - datetime.timedelta(days=1)).isoformat(),
        )
    assert (
        f"is already recognised up to {recognized_until.isoformat()}: choose that "
        "date or a later one" in refused.value.faultString
    )
    assert _revenue_moves(admin, journal[0]) == moves_before
    assert _company(admin)["retainer_recognized_until"] == recognized_until.isoformat()

    # The run up to yesterday recognises the customer's usage, once.
    cutoff = max(yesterday, recognized_until)
    action = _recognize(admin, company["id"], cutoff.isoformat())
    assert action["res_model"] == "account.move"
    move_id = action["res_id"]
    [move] = admin(
        "account.move",
        "read",
        [move_id],
        fields=["state", "date", "journal_id", "move_type", "ref"],
    )
    assert move["state"] == "posted"
    assert move["date"] == cutoff.isoformat()
    assert move["journal_id"][0] == journal[0]
    assert move["move_type"] == "entry"
    assert cutoff.isoformat() in move["ref"]
    items = admin(
        "account.move.line",
        "search_read",
        [("move_id", "=", move_id), ("partner_id", "=", partner_id)],
        fields=["account_id", "debit", "credit"],
    )
    assert sorted(
        (item["account_id"][0], item["debit"], item["credit"]) for item in items
    ) == sorted([(deferred[0], expected, 0.0), (revenue[0], 0.0, expected)])
    assert _company(admin)["retainer_recognized_until"] == cutoff.isoformat()
    [contract] = admin(
        "retainer.contract",
        "read",
        [contract_id],
        fields=["recognized_value", "unearned_value"],
    )
    assert contract["recognized_value"] == expected
    assert contract["unearned_value"] == amount - expected

    # The deferred revenue report at that date agrees with the books.
    report_id = admin(
        "retainer.deferred.revenue.report",
        "create",
        {
            "date": cutoff.isoformat(),
            "date_from": cutoff.replace(day=1).isoformat(),
            "company_id": company["id"],
        },
    )
    admin("retainer.deferred.revenue.report", "action_compute", [report_id])
    [report] = admin(
        "retainer.deferred.revenue.report",
        "read",
        [report_id],
        fields=["deferred_value", "account_balance", "difference", "line_ids"],
    )
    assert report["difference"] == 0.0
    assert report["deferred_value"] == report["account_balance"]
    assert report["account_balance"] > 0
    [line] = admin(
        "retainer.deferred.revenue.report.line",
        "search_read",
        [("report_id", "=", report_id), ("partner_id", "=", partner_id)],
        fields=[
            "paid_units",
            "remaining_units",
            "paid_value",
            "unearned_value",
            "recognized_value",
            "unrecognized_value",
        ],
    )
    assert {key: value for key, value in line.items() if key != "id"} == {
        "paid_units": DAY_UNITS,
        "remaining_units": DAY_UNITS - used_units,
        "paid_value": amount,
        "unearned_value": amount - expected,
        "recognized_value": expected,
        "unrecognized_value": 0.0,
    }
