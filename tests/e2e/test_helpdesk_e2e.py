"""The support desk from outside: a client program on Odoo's external API
(XML-RPC) opens a ticket for a retainer customer and logs time on it, the
retainer loses the right units; the demo portal user opens a ticket from
their retainer's page and sees what the work on it cost."""

from odoo_e2e import forms, table_rows

OWN = "Acme Dental Group"
# 0:37 by telephone: 3 units with the default 15-minute unit and 5-minute
# grace.
CALL_HOURS = 37 / 60
CALL_UNITS = 3


def _balance(admin, contract_id):
    [record] = admin(
        "retainer.contract", "read", [contract_id], fields=["balance_units"]
    )
    return record["balance_units"]


def _support_project(admin, contract_id):
    project_ids = admin(
        "project.project", "search", [("retainer_id", "=", contract_id)], limit=1
    )
    assert project_ids, f"no project on {OWN}'s retainer"
    return project_ids[0]


def _log_call(admin, ticket_id, project_id, name):
    """Log 0:37 by telephone on the ticket, as an import or a client program
    would: the ticket and the time. The staff side of the bridge fills the
    project (and task) from the ticket on the server; until it is merged the
    project is given here (drop ``project_id`` then, and check the line got
    the ticket's project)."""
    [employee_id] = admin(
        "hr.employee", "search", [("user_id", "=", admin.uid)], limit=1
    )
    return admin(
        "account.analytic.line",
        "create",
        {
            "name": name,
            "ticket_id": ticket_id,
            "unit_amount": CALL_HOURS,
            "retainer_contact_type": "phone",
            "employee_id": employee_id,
            "project_id": project_id,
        },
    )


def test_time_on_a_ticket_debits_its_retainer(admin, demo_retainers):
    contract_id = demo_retainers[OWN]["id"]
    partner_id = demo_retainers[OWN]["partner_id"][0]
    project_id = _support_project(admin, contract_id)
    # After the merge with the staff side, the ticket of a customer with an
    # active retainer gets that retainer (and its project) by itself: drop
    # retainer_id and project_id here and check them instead.
    ticket_id = admin(
        "helpdesk.ticket",
        "create",
        {
            "name": "E2E: scanner not found on the network",
            "description": "<p>Since the router was replaced.</p>",
            "partner_id": partner_id,
            "retainer_id": contract_id,
            "project_id": project_id,
        },
    )
    before = _balance(admin, contract_id)
    line_id = _log_call(admin, ticket_id, project_id, "E2E: call about the scanner")
    try:
        [line] = admin(
            "account.analytic.line",
            "read",
            [line_id],
            fields=["ticket_id", "retainer_id", "retainer_units"],
        )
        assert line["ticket_id"][0] == ticket_id
        assert line["retainer_id"][0] == contract_id
        assert line["retainer_units"] == CALL_UNITS
        assert _balance(admin, contract_id) == before - CALL_UNITS
        entries = admin(
            "retainer.ledger.entry",
            "search_read",
            [("timesheet_id", "=", line_id)],
            fields=["kind", "units", "contract_id", "contact_type"],
        )
        assert [(e["kind"], e["units"], e["contract_id"][0]) for e in entries] == [
            ("debit", -CALL_UNITS, contract_id)
        ]
        assert entries[0]["contact_type"] == "phone"
    finally:
        admin("account.analytic.line", "unlink", [line_id])
        admin("helpdesk.ticket", "unlink", [ticket_id])
    assert _balance(admin, contract_id) == before


def test_portal_customer_opens_a_ticket_and_sees_its_units(
    server, admin, portal_session, demo_retainers
):
    contract_id = demo_retainers[OWN]["id"]
    subject = "E2E: the meeting room screen stays black"
    page = portal_session.get(
        f"{server.url}/my/retainers/{contract_id}/ticket", timeout=30
    )
    assert page.status_code == 200
    assert page.url.endswith(f"/new/ticket?retainer_id={contract_id}"), page.url
    [form] = [f for f in forms(page.text) if f["action"] == "/submitted/ticket"]
    assert form["inputs"]["retainer_id"] == str(contract_id)
    response = portal_session.post(
        f"{server.url}/submitted/ticket",
        data={
            "csrf_token": form["inputs"]["csrf_token"],
            "retainer_id": form["inputs"]["retainer_id"],
            "subject": subject,
            "description": "Nothing shows when the laptop is plugged in.",
        },
        timeout=30,
    )
    assert response.status_code == 200
    [ticket] = admin(
        "helpdesk.ticket",
        "search_read",
        [("name", "=", subject)],
        fields=["retainer_id", "number"],
    )
    assert ticket["retainer_id"][0] == contract_id
    assert response.url.endswith(f"/my/ticket/{ticket['id']}"), response.url
    line_id = _log_call(
        admin, ticket["id"], _support_project(admin, contract_id), "E2E: call"
    )
    try:
        page = portal_session.get(
            f"{server.url}/my/retainers/{contract_id}", timeout=30
        )
        rows = [row for row in table_rows(page.text) if ticket["number"] in row]
        assert rows, f"ticket {ticket['number']} is not on the retainer page"
        assert rows[0][-1] == str(CALL_UNITS), rows[0]
        page = portal_session.get(f"{server.url}/my/ticket/{ticket['id']}", timeout=30)
        assert "o_ticket_retainer_balance" in page.text
        assert any(
            "E2E: call" in " ".join(row) and row[-1] == f"-{CALL_UNITS}"
            for row in table_rows(page.text)
        ), "the call's units are not on the ticket's page"
    finally:
        admin("account.analytic.line", "unlink", [line_id])
        admin("helpdesk.ticket", "unlink", [ticket["id"]])
