"""Two Odoo nodes on one database, as behind a load balancer.

Each node is a prefork server (two HTTP workers, one cron worker); clients
and scheduled jobs hit both at once. The rules hold across processes and
machines only if they hold in the database: a blocked retainer is never
overspent, exactly the units that fit are accepted, a refusal is the
policy's business error (never a raw serialization failure), and a
scheduled job run by both nodes at once does its work once.
"""

import datetime
import re
import threading
import time
import xmlrpc.client

from conftest import ADMIN
from odoo_e2e import Rpc

CLIENTS = 8  # half on each node
ENTRIES = 3  # one-hour entries per client, one after the other
UNITS_PER_ENTRY = 4  # one hour of remote work
CREDITED = 5 * UNITS_PER_ENTRY  # room for exactly 5 of the 24 entries
REFUSAL = re.compile(
    r"^Retainer RET/\d+ has \d+ units? \([^)]+\) left and this time needs "
    r"4 units \(1 h\)\. Ask the customer for a top-up"
)
CRON_LOCKED = "Record cannot be modified right now"
RECURRING_CRON = "defining_retainer.ir_cron_retainer_recurring_topups"
# What odoo.service.model logs when it retries a transaction.
RETRY_LINE = r"[A-Z_]+, \d+ tries left, try again"


def _customer(admin, name):
    return admin("res.partner", "create", {"name": name, "is_company": True})


def _level(admin):
    [level_id] = admin(
        "retainer.level", "search", [("allow_remote", "=", True)], limit=1
    )
    return level_id


def _run_at_once(targets):
    """Run every callable of ``targets`` in its own thread, started together;
    return their results (a value or the Fault raised) in order."""
    start = threading.Barrier(len(targets), timeout=60)
    results = [None] * len(targets)

    def run(index):
        start.wait()
        try:
            results[index] = targets[index]()
        except xmlrpc.client.Fault as fault:
            results[index] = fault

    threads = [
        threading.Thread(target=run, args=(index,)) for index in range(len(targets))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    return results


def test_two_nodes_never_overspend_a_blocked_retainer(nodes, admin):
    partner_id = _customer(admin, "E2E Two Nodes Ltd")
    contract_id = admin(
        "retainer.contract",
        "create",
        {
            "partner_id": partner_id,
            "level_id": _level(admin),
            "overdraft_policy": "block",
        },
    )
    wizard_id = admin(
        "retainer.ledger.post",
        "create",
        {
            "contract_id": contract_id,
            "kind": "credit",
            "units": CREDITED,
            "reason": "E2E two nodes",
        },
    )
    admin("retainer.ledger.post", "action_post", [wizard_id])
    project_id = admin(
        "project.project",
        "create",
        {
            "name": "E2E two nodes project",
            "partner_id": partner_id,
            "allow_timesheets": True,
            "retainer_id": contract_id,
        },
    )
    [employee_id] = admin("hr.employee", "search", [("user_id", "=", admin.uid)])
    retries_before = sum(node.log_count(RETRY_LINE) for node in nodes)

    def client(number):
        node = nodes[number % 2]
        rpc = Rpc(node.url, node.db, *ADMIN)  # one connection per client

        def log_time():
            outcomes = []
            for entry in range(ENTRIES):
                try:
                    outcomes.append(
                        rpc(
                            "account.analytic.line",
                            "create",
                            {
                                "name": f"E2E two nodes {number}.{entry}",
                                "project_id": project_id,
                                "employee_id": employee_id,
                                "unit_amount": UNITS_PER_ENTRY / 4,
                                "retainer_contact_type": "remote",
                            },
                        )
                    )
                except xmlrpc.client.Fault as fault:
                    outcomes.append(fault.faultString)
            return outcomes

        return log_time

    outcomes = [
        outcome
        for outcomes in _run_at_once([client(n) for n in range(CLIENTS)])
        for outcome in outcomes
    ]
    accepted = [outcome for outcome in outcomes if isinstance(outcome, int)]
    refused = [o for o in outcomes if isinstance(o, str) and REFUSAL.search(o)]
    other = [o for o in outcomes if not isinstance(o, int) and o not in refused]
    # Not one raw error (a serialization failure after Odoo's retries, a
    # deadlock...) reaches a client: every refusal is the policy's message.
    assert not other, other[0]
    assert len(accepted) == CREDITED // UNITS_PER_ENTRY
    assert len(refused) == CLIENTS * ENTRIES - len(accepted)

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
    assert all(d["units"] == -UNITS_PER_ENTRY for d in debits)
    # Refused entries left no timesheet behind.
    assert admin(
        "account.analytic.line", "search_count", [("project_id", "=", project_id)]
    ) == len(accepted)
    retries = sum(node.log_count(RETRY_LINE) for node in nodes) - retries_before
    print(
        f"two nodes, block: {len(accepted)} accepted, {len(refused)} refused, "
        f"{retries} transaction(s) retried by Odoo"
    )


def _recurring_contract(admin, name, today):
    """An active retainer with a monthly top-up plan due ``today``; the
    plan's document is a quotation, so the balance never changes."""
    contract_id = admin(
        "retainer.contract",
        "create",
        {
            "partner_id": _customer(admin, name),
            "level_id": _level(admin),
            "recurring_quantity": 1,
            "recurring_interval": "month",
            "recurring_start_date": today.isoformat(),
            "recurring_document": "quotation",
            "recurring_auto_confirm": False,
        },
    )
    [contract] = admin("retainer.contract", "read", [contract_id], fields=["state"])
    if contract["state"] == "draft":
        admin("retainer.contract", "action_activate", [contract_id])
    return contract_id


def _orders_of(admin, contract_id):
    return admin(
        "sale.order",
        "search_read",
        [("retainer_id", "=", contract_id)],
        fields=["retainer_recurring_period_start", "state"],
    )


def _module_crons(admin):
    """``{xml id: cron id}`` of every scheduled job of the addons."""
    data = admin(
        "ir.model.data",
        "search_read",
        [
            ("module", "in", ["defining_retainer", "defining_retainer_portal"]),
            ("model", "=", "ir.cron"),
        ],
        fields=["module", "name", "res_id"],
    )
    return {f"{d['module']}.{d['name']}": d["res_id"] for d in data}


def _document_counts(admin):
    return {
        model: admin(model, "search_count", [])
        for model in (
            "sale.order",
            "account.move",
            "retainer.ledger.entry",
            "retainer.contract",
            "mail.activity",
        )
    }


def test_scheduled_jobs_triggered_on_both_nodes_at_once_run_once(nodes, admin):
    crons = _module_crons(admin)
    assert RECURRING_CRON in crons, crons
    today = datetime.date.today()
    contract_id = _recurring_contract(admin, "E2E Cron Manual Ltd", today)
    balances = {
        c["id"]: c["balance_units"]
        for c in admin("retainer.contract", "search_read", [], fields=["balance_units"])
    }
    rpcs = [Rpc(node.url, node.db, *ADMIN) for node in nodes for _ in range(2)]

    for cron_xmlid, cron_id in sorted(crons.items()):
        for round_ in (1, 2):
            before = _document_counts(admin)
            results = _run_at_once(
                [
                    lambda rpc=rpc, cron_id=cron_id: rpc(
                        "ir.cron", "method_direct_trigger", [cron_id]
                    )
                    for rpc in rpcs
                ]
            )
            # Each run either did the job or was told, cleanly, that the
            # other node is doing it right now.
            for result in results:
                assert result is True or (
                    isinstance(result, xmlrpc.client.Fault)
                    and CRON_LOCKED in result.faultString
                ), f"{cron_xmlid}: {result}"
            assert any(result is True for result in results), cron_xmlid
            if round_ == 2:
                # Everything was done in round 1: a second simultaneous run
                # by both nodes creates nothing.
                assert _document_counts(admin) == before, cron_xmlid

    orders = _orders_of(admin, contract_id)
    assert [o["retainer_recurring_period_start"] for o in orders] == [
        today.isoformat()
    ], orders
    # Quotations only: no balance moved, on any retainer.
    assert balances == {
        c["id"]: c["balance_units"]
        for c in admin("retainer.contract", "search_read", [], fields=["balance_units"])
        if c["id"] in balances
    }


def test_scheduler_of_both_nodes_runs_a_due_job_once(nodes, admin):
    """The cron workers of both nodes are woken at the same moment (the
    job's next call is written, ODOO_NOTIFY_CRON_CHANGES); one of them runs
    it, the other skips it, and the job does its work once."""
    cron_id = _module_crons(admin)[RECURRING_CRON]
    today = datetime.date.today()
    contract_id = _recurring_contract(admin, "E2E Cron Scheduled Ltd", today)
    [cron] = admin("ir.cron", "read", [cron_id], fields=["nextcall", "lastcall"])
    done_line = rf"Job 'Retainers: recurring top-ups' \({cron_id}\) done"
    done_before = sum(node.log_count(done_line) for node in nodes)

    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    # Written through a node: its postcommit hook notifies the cron workers.
    Rpc(nodes[0].url, nodes[0].db, *ADMIN)(
        "ir.cron",
        "write",
        [cron_id],
        {
            "nextcall": (now - datetime.timedelta(seconds=1)).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
        },
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        [state] = admin("ir.cron", "read", [cron_id], fields=["nextcall", "lastcall"])
        if state["lastcall"] and state["lastcall"] != cron["lastcall"]:
            break
        time.sleep(1)
    else:
        raise AssertionError("no node ran the due job within 120 s")
    # Give the other node's cron worker every chance to run it a second time.
    time.sleep(5)
    assert state["nextcall"] > now.strftime("%Y-%m-%d %H:%M:%S"), state
    runs = [node.log_count(done_line) for node in nodes]
    assert sum(runs) - done_before == 1, runs
    orders = _orders_of(admin, contract_id)
    assert [o["retainer_recurring_period_start"] for o in orders] == [
        today.isoformat()
    ], orders
