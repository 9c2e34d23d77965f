"""A client program on Odoo's external API (XML-RPC) as admin: balances,
timesheet debits, and the append-only ledger."""

import xmlrpc.client

import pytest

OWN = "Acme Dental Group"


def _balance(admin, contract_id):
    [record] = admin(
        "retainer.contract", "read", [contract_id], fields=["balance_units"]
    )
    return record["balance_units"]


def _entries(admin, contract_id):
    return admin(
        "retainer.ledger.entry",
        "search_read",
        [("contract_id", "=", contract_id)],
        fields=["kind", "units", "date", "name", "reason", "contract_id"],
        order="id",
    )


def test_balances_are_the_ledger_sums(admin):
    contracts = admin(
        "retainer.contract", "search_read", [], fields=["name", "balance_units"]
    )
    assert contracts
    for contract in contracts:
        assert isinstance(contract["balance_units"], int)
        units = sum(entry["units"] for entry in _entries(admin, contract["id"]))
        assert contract["balance_units"] == units, contract["name"]


def test_timesheet_debits_15_units_and_deleting_it_gives_them_back(
    admin, demo_retainers
):
    contract_id = demo_retainers[OWN]["id"]
    project_ids = admin(
        "project.project", "search", [("retainer_id", "=", contract_id)], limit=1
    )
    employee_ids = admin(
        "hr.employee", "search", [("user_id", "=", admin.uid)], limit=1
    )
    assert project_ids, f"no project on {OWN}'s retainer"
    assert employee_ids, "the admin user has no employee"
    before = _balance(admin, contract_id)

    # 3h37 on site: 15 units with the default 15-minute unit and 5-minute grace.
    line_id = admin(
        "account.analytic.line",
        "create",
        {
            "name": "E2E: on-site visit",
            "project_id": project_ids[0],
            "employee_id": employee_ids[0],
            "unit_amount": 217 / 60,
            "retainer_contact_type": "onsite",
        },
    )
    try:
        assert _balance(admin, contract_id) == before - 15
    finally:
        admin("account.analytic.line", "unlink", [line_id])
    assert _balance(admin, contract_id) == before


@pytest.mark.parametrize(
    ("method", "args"),
    [("write", ({"units": 999, "reason": "tampered"},)), ("unlink", ())],
)
def test_ledger_entries_cannot_be_changed_or_deleted(
    admin, demo_retainers, method, args
):
    contract_id = demo_retainers[OWN]["id"]
    entries = _entries(admin, contract_id)
    assert entries
    with pytest.raises(xmlrpc.client.Fault):
        admin("retainer.ledger.entry", method, [entries[0]["id"]], *args)
    assert _entries(admin, contract_id) == entries
