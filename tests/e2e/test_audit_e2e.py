"""The audit and health-check through Odoo's external API (XML-RPC) and the
customer's portal, on a real server: a manager records the assets against
the catalogue and the findings, bad input is refused with a clear message
and nothing written, the customer acknowledges on the portal and the
retainer becomes active."""

import uuid
import xmlrpc.client

import pytest
from odoo_e2e import Rpc, forms, logged_in_session, page_text


def _ref(admin, xmlid):
    return admin("ir.model.data", "check_object_reference", *xmlid.split("."))[1]


def _user(admin, login, groups, partner_id=None):
    password = uuid.uuid4().hex
    login = f"{login}_{password[:8]}"  # a run of its own on a reused database
    vals = {
        "name": login,
        "login": login,
        "password": password,
        "email": f"{login}@example.com",
        "groups_id": [(6, 0, [_ref(admin, xmlid) for xmlid in groups])],
    }
    user_id = admin("res.users", "create", vals)
    if partner_id:
        [user] = admin("res.users", "read", [user_id], ["partner_id"])
        admin(
            "res.partner", "write", [user["partner_id"][0]], {"parent_id": partner_id}
        )
    return login, password


def _refused(call, message):
    with pytest.raises(xmlrpc.client.Fault) as caught:
        call()
    assert message in caught.value.faultString, caught.value.faultString


@pytest.fixture(scope="module")
def setup(admin, server):
    run = uuid.uuid4().hex[:8]
    customer_id = admin(
        "res.partner", "create", {"name": f"E2E Audit Ltd {run}", "is_company": True}
    )
    manager = Rpc(
        server.url,
        server.db,
        *_user(
            admin, "e2e_audit_manager", ["defining_retainer.group_retainer_manager"]
        ),
    )
    portal_login = _user(admin, "e2e_audit_portal", ["base.group_portal"], customer_id)
    level_id = admin(
        "retainer.level",
        "create",
        {
            "name": f"E2E audited {run}",
            "allow_remote": True,
            "audit_policy": "required",
            # Last of the levels: the other tests take the first level that
            # allows remote work, which must not start retainers in audit.
            "sequence": 1000,
        },
    )
    [company_id] = admin("res.company", "search", [], limit=1, order="id")
    [before] = admin(
        "res.company", "read", [company_id], ["retainer_audit_ack_required"]
    )
    admin("res.company", "write", [company_id], {"retainer_audit_ack_required": True})
    yield {
        "run": run,
        "customer_id": customer_id,
        "manager": manager,
        "portal": portal_login,
        "level_id": level_id,
        "company_id": company_id,
    }
    admin(
        "res.company",
        "write",
        [company_id],
        {"retainer_audit_ack_required": before["retainer_audit_ack_required"]},
    )
    admin("retainer.level", "write", [level_id], {"active": False})


def test_audit_through_xmlrpc_and_the_portal(admin, server, setup):
    manager, run = setup["manager"], setup["run"]
    windows = manager(
        "retainer.technology",
        "create",
        {"name": f"Windows Server {run}", "category": "software"},
    )
    mainframe = manager(
        "retainer.technology",
        "create",
        {
            "name": f"IBM mainframe {run}",
            "category": "hardware",
            "support_status": "not_supported",
            "customer_note": "IBM mainframes: not supported; we can recommend a "
            "specialist.",
        },
    )
    contract_id = manager(
        "retainer.contract",
        "create",
        {"partner_id": setup["customer_id"], "level_id": setup["level_id"]},
    )
    [contract] = manager("retainer.contract", "read", [contract_id], ["state"])
    assert contract["state"] == "audit"
    audit_id = manager("retainer.audit", "create", {"contract_id": contract_id})
    manager(
        "retainer.audit",
        "write",
        [audit_id],
        {
            "summary": "One mismatch",
            "asset_ids": [
                (0, 0, {"name": "File server", "technology_id": windows}),
                (0, 0, {"name": "Billing system", "technology_id": mainframe}),
            ],
        },
    )
    # Bad input: refused with a clear message, nothing written.
    _refused(
        lambda: manager(
            "retainer.audit.line",
            "create",
            {"audit_id": audit_id, "name": "Ghost", "technology_id": 2_000_000_000},
        ),
        "Unknown technology (id 2000000000)",
    )
    _refused(
        lambda: manager(
            "retainer.audit.finding",
            "create",
            {"audit_id": audit_id, "name": "Backups never restored"},
        ),
        "A finding needs a severity",
    )
    _refused(
        lambda: manager(
            "retainer.audit.line",
            "create",
            {"audit_id": audit_id, "name": "Mystery box"},
        ),
        "has no technology from the catalogue",
    )
    assets = manager(
        "retainer.audit.line",
        "search_read",
        [("audit_id", "=", audit_id)],
        ["name", "support_status"],
    )
    assert {a["name"]: a["support_status"] for a in assets} == {
        "File server": "supported",
        "Billing system": "not_supported",
    }
    assert not manager(
        "retainer.audit.finding", "search", [("audit_id", "=", audit_id)]
    )
    manager(
        "retainer.audit.finding",
        "create",
        {
            "audit_id": audit_id,
            "severity": "critical",
            "name": "Backups never restored",
            "recommendation": "Test a restore this month",
        },
    )
    # A client cannot mark the audit completed or acknowledged by writing.
    manager("retainer.audit", "write", [audit_id], {"state": "done"})
    [audit] = manager("retainer.audit", "read", [audit_id], ["state"])
    assert audit["state"] == "draft"
    manager("retainer.contract", "action_complete_audit", [contract_id])
    [contract] = manager(
        "retainer.contract", "read", [contract_id], ["state", "audit_state"]
    )
    assert (contract["state"], contract["audit_state"]) == ("audit", "to_acknowledge")

    # The customer reads the audit on the portal and acknowledges it.
    session = logged_in_session(server, *setup["portal"])
    url = f"{server.url}/my/retainers/{contract_id}"
    page = session.get(url, timeout=60)
    assert page.status_code == 200
    text = page_text(page.text)
    assert text.index("Billing system") < text.index("File server")
    assert "we can recommend a specialist" in text
    [form] = [f for f in forms(page.text) if f["action"].endswith("/audit/acknowledge")]
    response = session.post(
        f"{server.url}{form['action']}",
        data={**form["inputs"], "name": "Paula Portal"},
        timeout=60,
    )
    assert response.status_code == 200
    assert "your acknowledgement is recorded" in page_text(response.text)
    [audit] = manager(
        "retainer.audit", "read", [audit_id], ["acknowledged_name", "state"]
    )
    assert audit["acknowledged_name"] == "Paula Portal"
    [contract] = manager("retainer.contract", "read", [contract_id], ["state"])
    assert contract["state"] == "active"
    # Twice: refused with the reason, the first acknowledgement kept.
    response = session.post(
        f"{server.url}{form['action']}",
        data={**form["inputs"], "name": "Someone Else"},
        timeout=60,
    )
    assert "was already acknowledged by Paula Portal" in page_text(response.text)
    [audit] = manager("retainer.audit", "read", [audit_id], ["acknowledged_name"])
    assert audit["acknowledged_name"] == "Paula Portal"
    # The PDF report of the completed audit.
    pdf = session.get(f"{url}/audit/{audit_id}", timeout=120)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
