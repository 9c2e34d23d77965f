"""A database of the previous release upgrades in place to blocks.

The previous release's addons (``PREVIOUS_RELEASE``, taken from git) are
installed into a fresh database without demo data; a script run with them
posts credits, timesheet debits, an edit and reversals. Then the current
addons upgrade the database (``-u``, as an administrator would) and a
script reads it back with the new code: no entry changed, balances are the
same, every credit is a block without expiry, every entry has its
effective kind, debits are paid by the oldest blocks first and the warned
retainer that is overdrawn is marked as notified; the company has a
deferred revenue account, with deferral off.

Both scripts go through ``odoo-bin shell`` (no server to start) and print
their figures as one JSON line.
"""

import ast
import datetime
import json
import os
import subprocess
import time

import pytest
from odoo_e2e import (
    ODOO_PATH,
    ROOT,
    _cursor,
    drop_database,
    error_lines,
    odoo_command,
)

# Release 18.0.1.1.0: credits and debits without blocks.
PREVIOUS_RELEASE = "4f003d174d8dd9c6c5ea9e188237422a7283c27e"
ADDONS = "defining_retainer,defining_retainer_portal"
TIMEOUT = int(os.environ.get("RETAINER_TEST_TIMEOUT", "1800"))
RESULT = "UPGRADE-RESULT:"

# Posted with the previous release. Dates are days before today. Retainer
# "warned" (policy warn): credit 1 is posted first but dated later than
# credit 2, so credit 2 is the older block; credit 3 is taken back (credit
# note); timesheet 2 is edited (reversal + new debit), timesheet 3 deleted
# (reversal), and timesheet 4 overdraws the retainer by 4 units.
# "allowed" (policy allow) is overdrawn too, "covered" (warn) is not.
BEFORE_SCRIPT = """
import datetime
import json

env = env(context=dict(env.context, tracking_disable=True))
today = datetime.date.today()
day = lambda n: today - datetime.timedelta(days=n)
env.company.retainer_audit_required = False
level = env["retainer.level"].create(
    {"name": "Upgrade remote", "allow_remote": True}
)
employee = env["hr.employee"].create({"name": "Upgrade consultant"})


def retainer(name, policy):
    partner = env["res.partner"].create({"name": name, "is_company": True})
    contract = env["retainer.contract"].create(
        {
            "partner_id": partner.id,
            "level_id": level.id,
            "overdraft_policy": policy,
            "user_id": env.ref("base.user_admin").id,
        }
    )
    assert contract.state == "active", contract.state
    project = env["project.project"].create(
        {
            "name": name,
            "partner_id": partner.id,
            "allow_timesheets": True,
            "retainer_id": contract.id,
        }
    )
    return contract, project


def log(project, hours, days_ago):
    return env["account.analytic.line"].create(
        {
            "project_id": project.id,
            "employee_id": employee.id,
            "name": "Upgrade work",
            "unit_amount": hours,
            "retainer_contact_type": "remote",
            "date": day(days_ago),
        }
    )


warned, warned_project = retainer("Upgrade Warned Ltd", "warn")
credit1 = warned._post_manual_entry("credit", 8, "Block 1", date=day(5))
credit2 = warned._post_manual_entry("credit", 8, "Block 2", date=day(20))
credit3 = warned._post_manual_entry("credit", 4, "Block 3", date=day(1))
sheet1 = log(warned_project, 1.0, 3)  # 4 units
sheet2 = log(warned_project, 2.0, 2)  # 8 units
sheet3 = log(warned_project, 1.0, 2)  # 4 units
sheet2.unit_amount = 3.0  # edited: 12 units
sheet3.unlink()
credit3._reverse(reason="Credit note")
sheet4 = log(warned_project, 1.0, 0)  # 4 units, 4 beyond the blocks

allowed, allowed_project = retainer("Upgrade Allowed Ltd", "allow")
allowed._post_manual_entry("credit", 8, "Block", date=day(10))
log(allowed_project, 3.0, 1)  # 12 units

covered, covered_project = retainer("Upgrade Covered Ltd", "warn")
covered._post_manual_entry("credit", 8, "Block", date=day(10))
log(covered_project, 1.0, 1)  # 4 units

Ledger = env["retainer.ledger.entry"]
debit = lambda sheet: Ledger.search(
    [("timesheet_id", "=", sheet.id), ("kind", "=", "debit"),
     ("reversal_entry_ids", "=", False)]
)
contracts = warned | allowed | covered
env.cr.commit()
print("UPGRADE-RESULT:" + json.dumps({
    "contracts": {c.partner_id.name: c.id for c in contracts},
    "balances": {str(c.id): c.balance_units for c in contracts},
    "credits": [credit1.id, credit2.id, credit3.id],
    "debits": [debit(sheet1).id, debit(sheet2).id, debit(sheet4).id],
}))
"""

AFTER_SCRIPT = """
import json

contracts = env["retainer.contract"].browse(IDS)
entries = env["retainer.ledger.entry"].search(
    [("contract_id", "in", contracts.ids)], order="id"
)
print("UPGRADE-RESULT:" + json.dumps({
    "version": env["ir.module.module"].search(
        [("name", "=", "defining_retainer")]
    ).latest_version,
    "company": {
        "chart": env.company.chart_template,
        "defer": env.company.retainer_defer_revenue,
        "deferred_type": env.company.retainer_deferred_account_id.account_type,
        "journal_type": env.company.retainer_revenue_journal_id.type,
        "rounding_scope": env.company.retainer_rounding_scope,
    },
    "contracts": {
        str(c.id): {
            "balance": c.balance_units,
            "notified": c.overdraft_notified,
            "blocks": sorted(c.block_ids.ids),
            "contacts": c.notify_partner_ids.ids == c.partner_id.ids,
            "followed": c.partner_id in c.message_partner_ids,
            "rounding_scope": c.rounding_scope,
        }
        for c in contracts
    },
    "entries": {
        str(e.id): {
            "kind": e.kind,
            "units": e.units,
            "effective_kind": e.effective_kind,
            "reversed_kind": e.reversed_entry_id.kind or None,
            "expiry_date": bool(e.expiry_date),
            "consumed": e.consumed_units,
            "expired": e.expired_units,
            "remaining": e.remaining_units,
            "paid_by": e.paid_by_block_ids.ids,
        }
        for e in entries
    },
}))
"""


def _run(args, log_path, stdin=None, subcommand=None):
    """Run an odoo-bin command from the project root; return its stdout."""
    command = odoo_command(*args)
    if subcommand:  # right after odoo-bin, before its options
        command.insert(2, subcommand)
    with open(log_path, "w") as log:
        result = subprocess.run(
            command,
            cwd=ROOT,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    errors = error_lines(log_path)
    assert result.returncode == 0 and not errors, (
        f"odoo-bin {' '.join(args[:4])} failed (exit code {result.returncode}, "
        f"log {log_path}):\n{errors}"
    )
    return result.stdout


def _shell(db, addons_path, script, log_path):
    """Run ``script`` in ``odoo-bin shell`` and return its JSON result."""
    out = _run(
        ["-d", db, f"--addons-path={addons_path}", "--log-level=warn"],
        log_path,
        stdin=script,
        subcommand="shell",
    )
    lines = [line for line in out.splitlines() if line.startswith(RESULT)]
    assert len(lines) == 1, f"no result from the script (log {log_path}):\n{out}"
    return json.loads(lines[0][len(RESULT) :])


def _ledger_rows(db, contract_ids):
    """Every ledger row of ``contract_ids`` as stored, by id."""
    with _cursor(db) as cr:
        cr.execute(
            "SELECT * FROM retainer_ledger_entry WHERE contract_id = ANY(%s) "
            "ORDER BY id",
            [list(contract_ids)],
        )
        names = [column.name for column in cr.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cr.fetchall()}


@pytest.fixture
def previous_addons(tmp_path):
    """The previous release's addons, extracted from git."""
    archive = subprocess.run(
        ["git", "archive", PREVIOUS_RELEASE, "addons"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
    return tmp_path / "addons"


@pytest.fixture
def upgrade_db():
    prefix = os.environ.get("RETAINER_TEST_DB_PREFIX", "retainer_test")
    name = f"{prefix}_upgrade_{datetime.date.today():%Y%m%d}_{os.getpid()}"
    drop_database(name)
    try:
        yield name
    finally:
        drop_database(name)


def test_previous_release_upgrades_in_place(previous_addons, upgrade_db, work_dir):
    db = upgrade_db
    old_path = f"{ODOO_PATH / 'addons'},{previous_addons}"
    timings = {}

    start = time.monotonic()
    _run(
        [
            "-d",
            db,
            f"--addons-path={old_path}",
            "-i",
            ADDONS,
            "--without-demo=all",
            "--stop-after-init",
            "--http-port=0",
        ],
        work_dir / "upgrade-install.log",
    )
    timings["install previous"] = time.monotonic() - start

    start = time.monotonic()
    before = _shell(db, old_path, BEFORE_SCRIPT, work_dir / "upgrade-before.log")
    timings["post with previous"] = time.monotonic() - start
    ids = before["contracts"]
    rows_before = _ledger_rows(db, ids.values())

    start = time.monotonic()
    _run(
        ["-d", db, "-u", ADDONS, "--stop-after-init", "--http-port=0"],
        work_dir / "upgrade-update.log",
    )
    timings["upgrade"] = time.monotonic() - start

    start = time.monotonic()
    after = _shell(
        db,
        f"{ODOO_PATH / 'addons'},{ROOT / 'addons'}",
        AFTER_SCRIPT.replace("IDS", json.dumps(sorted(ids.values()))),
        work_dir / "upgrade-after.log",
    )
    timings["read with current"] = time.monotonic() - start
    print(", ".join(f"{step}: {seconds:.1f} s" for step, seconds in timings.items()))

    manifest = ast.literal_eval(
        (ROOT / "addons/defining_retainer/__manifest__.py").read_text()
    )
    assert after["version"] == manifest["version"]
    # Revenue recognition (18.0.3.0.0): the company's chart got a deferred
    # revenue account and a journal; deferral stays off, so invoices posted
    # before are never deferred.
    assert after["company"] == {
        "chart": "generic_coa",
        "defer": False,
        "deferred_type": "liability_current",
        "journal_type": "general",
        # Rounding per incident (18.0.7.0.0): the company default and every
        # retainer keep rounding each entry.
        "rounding_scope": "entry",
    }
    assert {c["rounding_scope"] for c in after["contracts"].values()} == {"entry"}
    # Customer emails (18.0.4.0.0): each retainer emails its customer (no
    # invoice address here), who follows its conversation.
    assert {(c["contacts"], c["followed"]) for c in after["contracts"].values()} == {
        (True, True)
    }
    # No entry changed, none was added or removed, except what 18.0.5.0.0
    # and 18.0.7.0.0 fill in: a description on entries without one (a
    # manual credit: the first line of its reason), the top-up origin of
    # credits (here all manual) and of their reversals, and the incident of
    # usage (below).
    rows_after = _ledger_rows(db, ids.values())
    assert rows_after.keys() == rows_before.keys()
    for entry_id, row in rows_before.items():
        after_row = rows_after[entry_id]
        if row["name"] is None:
            assert after_row["name"], entry_id
            if row["kind"] == "credit":
                assert after_row["name"] == row["reason"].splitlines()[0]
            row = row | {"name": after_row["name"]}
        assert {name: after_row[name] for name in row} == row, entry_id
        effective_kind = row["reversed_kind"] or row["kind"]
        assert after_row["topup_origin"] == (
            "manual" if effective_kind == "credit" else None
        ), entry_id
        # 18.0.7.0.0: usage of a timesheet still there names its incident
        # (the timesheet itself: no task) and was rounded entry by entry.
        if effective_kind == "debit" and row["timesheet_id"]:
            assert after_row["rounding_scope"] == "entry", entry_id
            assert after_row["incident_ref"] == (
                f"account.analytic.line,{row['timesheet_id']}"
            ), entry_id
        else:
            assert after_row["incident_ref"] is None, entry_id
        # 18.0.7.1.0: only the debits of incidents rounded once name the
        # rounding policy they keep; usage rounded entry by entry names none.
        assert after_row["rounding_policy"] is None, entry_id

    contracts, entries = after["contracts"], after["entries"]
    # Balances unchanged, and the sum of the ledger.
    for contract_id, balance in before["balances"].items():
        assert contracts[contract_id]["balance"] == balance
        assert balance == sum(
            row["units"]
            for row in rows_after.values()
            if row["contract_id"] == int(contract_id)
        )
    assert before["balances"] == {
        str(ids["Upgrade Warned Ltd"]): -4,
        str(ids["Upgrade Allowed Ltd"]): -4,
        str(ids["Upgrade Covered Ltd"]): 4,
    }

    # Every credit is a block without expiry; every entry has its
    # effective kind, a reversal the kind of the entry it reverses.
    credits = {i for i, e in entries.items() if e["kind"] == "credit"}
    assert credits == {str(b) for c in contracts.values() for b in c["blocks"]}
    for entry_id, entry in entries.items():
        assert entry["effective_kind"] == (entry["reversed_kind"] or entry["kind"]), (
            entry_id
        )
        if entry["kind"] == "credit":
            assert not entry["expiry_date"], entry_id
            assert entry["expired"] == 0
    assert {e["effective_kind"] for e in entries.values()} == {"credit", "debit"}

    # Debits paid in the documented order: the oldest block (credit 2)
    # first, then credit 1; the credit taken back pays for nothing; what
    # is beyond the blocks (timesheet 4) is an overdraft.
    credit1, credit2, credit3 = (str(i) for i in before["credits"])
    debit1, debit2, debit4 = (str(i) for i in before["debits"])
    assert entries[debit1]["paid_by"] == [int(credit2)]
    assert entries[debit2]["paid_by"] == [int(credit2), int(credit1)]
    assert entries[debit4]["paid_by"] == []

    def used(entry_id):
        return entries[entry_id]["consumed"], entries[entry_id]["remaining"]

    assert used(credit2) == (8, 0)
    assert used(credit1) == (8, 0)
    assert used(credit3) == (0, 0)
    assert used(str(contracts[str(ids["Upgrade Covered Ltd"])]["blocks"][0])) == (4, 4)

    # Only the overdrawn warned retainer is marked as notified.
    notified = {cid for cid, c in contracts.items() if c["notified"]}
    assert notified == {str(ids["Upgrade Warned Ltd"])}
