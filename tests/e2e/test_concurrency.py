"""Several XML-RPC clients log time on one retainer at the same moment.

The server is a real Odoo (threaded, one database transaction per request,
REPEATABLE READ). With the ``block`` overdraft policy the retainer must
never go below zero and every accepted entry must be in the ledger: the
requests that lose the race on the contract row get a serialization error,
Odoo retries them against the new balance and they are refused cleanly.
"""

import threading
import xmlrpc.client

from conftest import ADMIN
from odoo_e2e import Rpc

CLIENTS = 4
HOURS_CREDITED = 2  # 8 units: room for exactly 2 one-hour entries


def test_concurrent_clients_never_overspend_a_blocked_retainer(server, admin):
    partner_id = admin(
        "res.partner", "create", {"name": "E2E Race Ltd", "is_company": True}
    )
    [level_id] = admin(
        "retainer.level", "search", [("allow_remote", "=", True)], limit=1
    )
    contract_id = admin(
        "retainer.contract",
        "create",
        {"partner_id": partner_id, "level_id": level_id, "overdraft_policy": "block"},
    )
    wizard_id = admin(
        "retainer.ledger.post",
        "create",
        {
            "contract_id": contract_id,
            "kind": "credit",
            "units": HOURS_CREDITED * 4,
            "reason": "E2E race block",
        },
    )
    admin("retainer.ledger.post", "action_post", [wizard_id])
    project_id = admin(
        "project.project",
        "create",
        {
            "name": "E2E race project",
            "partner_id": partner_id,
            "allow_timesheets": True,
            "retainer_id": contract_id,
        },
    )
    [employee_id] = admin("hr.employee", "search", [("user_id", "=", admin.uid)])

    start = threading.Barrier(CLIENTS, timeout=60)
    accepted, refused, other = [], [], []

    def client(number):
        rpc = Rpc(server.url, server.db, *ADMIN)  # one connection per client
        start.wait()
        try:
            accepted.append(
                rpc(
                    "account.analytic.line",
                    "create",
                    {
                        "name": f"E2E incident {number}",
                        "project_id": project_id,
                        "employee_id": employee_id,
                        "unit_amount": 1.0,
                        "retainer_contact_type": "remote",
                    },
                )
            )
        except xmlrpc.client.Fault as fault:
            (refused if "needs 4 units" in fault.faultString else other).append(
                fault.faultString
            )

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert not other, other
    assert len(accepted) == HOURS_CREDITED
    assert len(refused) == CLIENTS - HOURS_CREDITED

    [contract] = admin(
        "retainer.contract", "read", [contract_id], fields=["balance_units"]
    )
    assert contract["balance_units"] == 0
    debits = admin(
        "retainer.ledger.entry",
        "search_read",
        [("contract_id", "=", contract_id), ("kind", "=", "debit")],
        fields=["timesheet_id", "units"],
    )
    assert sorted(d["timesheet_id"][0] for d in debits) == sorted(accepted)
    assert all(d["units"] == -4 for d in debits)
