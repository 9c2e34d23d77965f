"""The expiry job runs while consultants log time on the same retainer.

Through XML-RPC on a real Odoo server (threaded, one transaction per
request): one client triggers the daily expiry job (the scheduled action,
as an administrator's "Run manually" does) twice while others log time on
a retainer whose dated block has just expired, dated before its expiry
(that work may still use the block) and after it (it may not). Whatever
the interleaving: no unit expires twice, no debit is paid by the expired
part of the block, and the figures add up exactly.

The job handles every retainer of the database, as the daily job does (the
e2e server runs no scheduled job by itself).
"""

import datetime
import threading
import xmlrpc.client

from conftest import ADMIN
from odoo_e2e import Rpc

CLIENTS = 4
EARLY_PER_CLIENT = 2  # timesheets dated before the block's expiry
LATE_PER_CLIENT = 1  # timesheets dated after it
BLOCK_UNITS = 40


def _day(days_ago):
    return (datetime.date.today() - datetime.timedelta(days=days_ago)).isoformat()


def _credit(admin, contract_id, units, expiry_date=False):
    wizard_id = admin(
        "retainer.ledger.post",
        "create",
        {
            "contract_id": contract_id,
            "kind": "credit",
            "units": units,
            "date": _day(60),
            "expiry_date": expiry_date,
            "reason": "E2E block",
        },
    )
    admin("retainer.ledger.post", "action_post", [wizard_id])
    [block_id] = admin(
        "retainer.ledger.entry",
        "search",
        [("contract_id", "=", contract_id), ("kind", "=", "credit")],
        order="id desc",
        limit=1,
    )
    return block_id


def _ledger(admin, contract_id):
    return admin(
        "retainer.ledger.entry",
        "search_read",
        [("contract_id", "=", contract_id)],
        fields=[
            "kind",
            "units",
            "date",
            "timesheet_id",
            "block_entry_id",
            "reversal_entry_ids",
            "paid_by_block_ids",
        ],
        order="id",
    )


def _figures(admin, block_id):
    [block] = admin(
        "retainer.ledger.entry",
        "read",
        [block_id],
        fields=["units", "consumed_units", "expired_units", "remaining_units"],
    )
    return block


def test_expiry_job_while_time_is_logged(server, admin):
    partner_id = admin(
        "res.partner", "create", {"name": "E2E Expiry Race Ltd", "is_company": True}
    )
    [level_id] = admin(
        "retainer.level", "search", [("allow_remote", "=", True)], limit=1
    )
    contract_id = admin(
        "retainer.contract",
        "create",
        {"partner_id": partner_id, "level_id": level_id, "overdraft_policy": "allow"},
    )
    expiry = _day(10)
    dated_id = _credit(admin, contract_id, BLOCK_UNITS, expiry_date=expiry)
    undated_id = _credit(admin, contract_id, BLOCK_UNITS)
    project_id = admin(
        "project.project",
        "create",
        {
            "name": "E2E expiry race project",
            "partner_id": partner_id,
            "allow_timesheets": True,
            "retainer_id": contract_id,
        },
    )
    [employee_id] = admin("hr.employee", "search", [("user_id", "=", admin.uid)])
    cron_id = admin(
        "ir.model.data",
        "check_object_reference",
        "defining_retainer",
        "ir_cron_retainer_expire_blocks",
    )[1]

    start = threading.Barrier(CLIENTS + 1, timeout=60)
    logged, faults = [], []

    def consultant(number):
        rpc = Rpc(server.url, server.db, *ADMIN)  # one connection per client
        dates = [_day(20)] * EARLY_PER_CLIENT + [_day(0)] * LATE_PER_CLIENT
        if number % 2:  # half of them log the late time first
            dates.reverse()
        start.wait()
        for work_date in dates:
            try:
                logged.append(
                    rpc(
                        "account.analytic.line",
                        "create",
                        {
                            "name": f"E2E expiry race {number}",
                            "project_id": project_id,
                            "employee_id": employee_id,
                            "unit_amount": 1.0,
                            "retainer_contact_type": "remote",
                            "date": work_date,
                        },
                    )
                )
            except xmlrpc.client.Fault as fault:
                faults.append(fault.faultString)

    def job():
        rpc = Rpc(server.url, server.db, *ADMIN)
        start.wait()
        for _run in range(2):
            try:
                rpc("ir.cron", "method_direct_trigger", [cron_id])
            except xmlrpc.client.Fault as fault:
                faults.append(fault.faultString)

    threads = [threading.Thread(target=consultant, args=(n,)) for n in range(CLIENTS)]
    threads.append(threading.Thread(target=job))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert not faults, faults
    assert len(logged) == CLIENTS * (EARLY_PER_CLIENT + LATE_PER_CLIENT)
    # Once more, after everything is committed: nothing is left to expire.
    entries_before = _ledger(admin, contract_id)
    admin("ir.cron", "method_direct_trigger", [cron_id])
    entries = _ledger(admin, contract_id)
    assert [e["id"] for e in entries] == [e["id"] for e in entries_before]

    live = [e for e in entries if not e["reversal_entry_ids"]]
    debits = [e for e in live if e["kind"] == "debit"]
    assert sorted(d["timesheet_id"][0] for d in debits) == sorted(logged)
    early = [d for d in debits if d["date"] <= expiry]
    late = [d for d in debits if d["date"] > expiry]
    assert len(early) == CLIENTS * EARLY_PER_CLIENT
    assert len(late) == CLIENTS * LATE_PER_CLIENT
    early_units = -sum(d["units"] for d in early)
    late_units = -sum(d["units"] for d in late)
    assert early_units <= BLOCK_UNITS, "the test's early work must fit the block"

    # No debit is paid by the expired block unless dated before its expiry.
    for debit in early:
        assert debit["paid_by_block_ids"] == [dated_id], debit
    for debit in late:
        assert debit["paid_by_block_ids"] == [undated_id], debit

    # The block's unused units expired exactly once.
    expired = BLOCK_UNITS - early_units
    live_expiries = [
        e
        for e in live
        if e["kind"] == "expiry"
        and e["block_entry_id"]
        and e["block_entry_id"][0] == dated_id
    ]
    assert sum(e["units"] for e in live_expiries) == -expired, live_expiries
    assert not any(
        e["kind"] == "expiry" and e["block_entry_id"][0] == undated_id for e in live
    )
    dated = _figures(admin, dated_id)
    assert (
        dated["consumed_units"],
        dated["expired_units"],
        dated["remaining_units"],
    ) == (early_units, expired, 0)
    undated = _figures(admin, undated_id)
    assert (
        undated["consumed_units"],
        undated["expired_units"],
        undated["remaining_units"],
    ) == (late_units, 0, BLOCK_UNITS - late_units)
    for block in (dated, undated):
        assert (
            block["consumed_units"] + block["expired_units"] + block["remaining_units"]
            == block["units"]
        )

    # The balance is the sum of the ledger, and what the blocks say.
    [contract] = admin(
        "retainer.contract", "read", [contract_id], fields=["balance_units"]
    )
    assert contract["balance_units"] == sum(e["units"] for e in entries)
    assert (
        contract["balance_units"]
        == 2 * BLOCK_UNITS - early_units - late_units - expired
    )
