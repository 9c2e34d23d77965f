"""Rounding per incident through Odoo's external API (XML-RPC), as a client
program logs time: a retainer rounding each incident once charges the
difference each entry makes, names the incident on its debits, keeps a
client's word out of the incident, and re-targets both incidents of a line
moved to another task."""

import uuid

import pytest


@pytest.fixture
def incident_retainer(admin):
    """A retainer of a new customer rounding each incident once (overdrafts
    allowed and silent), a project on it and two tasks; afterwards its time
    is deleted (its balance back to 0) and its level archived."""
    suffix = uuid.uuid4().hex[:8]
    partner_id = admin(
        "res.partner",
        "create",
        {"name": f"Incident E2E {suffix}", "is_company": True},
    )
    level_id = admin(
        "retainer.level",
        "create",
        {
            "name": f"Incident E2E {suffix}",
            "allow_remote": True,
            "audit_policy": "not_required",
        },
    )
    contract_id = admin(
        "retainer.contract",
        "create",
        {
            "partner_id": partner_id,
            "level_id": level_id,
            "rounding_scope": "incident",
            "overdraft_policy": "allow",
        },
    )
    [contract] = admin("retainer.contract", "read", [contract_id], ["state"])
    if contract["state"] == "draft":
        admin("retainer.contract", "action_activate", [contract_id])
    project_id = admin(
        "project.project",
        "create",
        {
            "name": "Incident E2E support",
            "partner_id": partner_id,
            "allow_timesheets": True,
            "retainer_id": contract_id,
        },
    )
    task_ids = [
        admin("project.task", "create", {"name": name, "project_id": project_id})
        for name in ("Mail server down", "Printer jammed")
    ]
    [employee_id] = admin("hr.employee", "search", [("user_id", "=", admin.uid)])
    yield {
        "contract_id": contract_id,
        "project_id": project_id,
        "task_ids": task_ids,
        "employee_id": employee_id,
    }
    lines = admin("account.analytic.line", "search", [("project_id", "=", project_id)])
    if lines:
        admin("account.analytic.line", "unlink", lines)
    admin("retainer.level", "write", [level_id], {"active": False})


def _balance(admin, contract_id):
    [record] = admin(
        "retainer.contract", "read", [contract_id], fields=["balance_units"]
    )
    return record["balance_units"]


def _charged(admin, contract_id, ref):
    debits = admin(
        "retainer.ledger.entry",
        "search_read",
        [
            ("contract_id", "=", contract_id),
            ("incident_ref", "=", ref),
            ("effective_kind", "=", "debit"),
        ],
        fields=["units"],
    )
    return -sum(debit["units"] for debit in debits)


def test_incident_rounded_once_through_xmlrpc(admin, incident_retainer):
    contract_id = incident_retainer["contract_id"]
    first_task, second_task = incident_retainer["task_ids"]

    def log(minutes, task_id, **vals):
        return admin(
            "account.analytic.line",
            "create",
            {
                "name": "E2E: incident work",
                "project_id": incident_retainer["project_id"],
                "task_id": task_id,
                "employee_id": incident_retainer["employee_id"],
                "unit_amount": minutes / 60,
                "retainer_contact_type": "remote",
            }
            | vals,
        )

    # 45 + 45 + 5 minutes: 6 units for the incident, not 7 entry by entry.
    ids = [log(45, first_task), log(45, first_task)]
    # A client's word on the incident is dropped: the server decides.
    ids.append(log(5, first_task, retainer_incident_ref="project.task,999999"))
    ref = f"project.task,{first_task}"
    assert _balance(admin, contract_id) == -6
    assert _charged(admin, contract_id, ref) == 6
    lines = admin(
        "account.analytic.line", "read", ids, fields=["retainer_incident_ref"]
    )
    assert {line["retainer_incident_ref"] for line in lines} == {ref}
    debits = admin(
        "retainer.ledger.entry",
        "search_read",
        [("contract_id", "=", contract_id), ("kind", "=", "debit")],
        fields=["units", "incident_ref", "rounding_scope", "timesheet_id"],
        order="id",
    )
    assert [(d["units"], d["timesheet_id"][0]) for d in debits] == [
        (-3, ids[0]),
        (-3, ids[1]),
    ]
    assert {(d["incident_ref"], d["rounding_scope"]) for d in debits} == {
        (ref, "incident")
    }

    # A line moved to the other task re-targets both incidents: 0:50 left
    # is 3 units, 0:45 on the other task 3.
    admin("account.analytic.line", "write", [ids[1]], {"task_id": second_task})
    assert _charged(admin, contract_id, ref) == 3
    assert _charged(admin, contract_id, f"project.task,{second_task}") == 3
    assert _balance(admin, contract_id) == -6

    # Deleting the 0:45 of the first task leaves its 0:05: one unit.
    admin("account.analytic.line", "unlink", [ids[0]])
    assert _charged(admin, contract_id, ref) == 1
    assert _balance(admin, contract_id) == -4

    # The ledger stayed append-only: corrections are reversals.
    kinds = admin(
        "retainer.ledger.entry",
        "search_read",
        [("contract_id", "=", contract_id)],
        fields=["kind"],
    )
    assert {entry["kind"] for entry in kinds} == {"debit", "reversal"}
