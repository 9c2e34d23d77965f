"""Benchmark: the staff reports on a large ledger.

Not a test: it prints figures. It builds, in one transaction, N ledger
entries (default 100,000) on R retainers (default 200, one customer and
project each) by C consultants (default 25) over the last 24 months: one
opening block per retainer, T usage entries from real timesheets (default
10,000, created in batches of 10,000 through ``account.analytic.line``) and
the rest of the usage posted straight on the ledger, as timesheets would
(consultant, project, delivery mode). After ``ANALYZE`` it times, as a
retainer manager (record rules apply), the calls the web client makes to
open each report, and counts their queries:

- usage pivot, customer x month: the four ``read_group`` of a pivot with
  one row and one column group-by (total, rows, columns, cells);
- usage graph by consultant (stacked by delivery mode): ``web_read_group``;
- ledger pivot, retainer x kind, and the balance graph of one retainer
  (units cumulated by week);
- running out: the list of retainers empty or running out within 30 days;
- utilisation pivot, consultant x month (hours logged, units, ratio).

Everything is rolled back at the end.

Usage (from the project root, after ``scripts/bootstrap``)::

    .venv/bin/python tests/benchmark/bench_reports.py [--entries 100000]
        [--retainers 200] [--consultants 25] [--timesheets 10000]
        [--repeat 5] [--db EXISTING_DB] [--keep-databases]

Without ``--db`` a scratch database with the addon (no demo data) is
built and dropped at the end.
"""

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_timesheets import drop, install, odoo_args

import odoo
from odoo import SUPERUSER_ID, Command, api
from odoo.modules.registry import Registry
from odoo.tools import SQL

MONTHS = 24
CONTACT_TYPES = ("phone", "remote", "onsite")
TARGET_SECONDS = 1.0


def build(env, entries, retainers, consultants, timesheets):
    """The dataset described in the module docstring; return the
    retainers."""
    rng = random.Random(42)
    today = datetime.date.today()
    days = MONTHS * 30
    env.company.retainer_low_balance_units = 0  # no alert emails
    level = env["retainer.level"].create(
        {
            "name": "Bench reports",
            "allow_phone": True,
            "allow_remote": True,
            "allow_onsite": True,
        }
    )
    partners = env["res.partner"].create(
        [{"name": f"Bench customer {n:04d}"} for n in range(retainers)]
    )
    contracts = env["retainer.contract"].create(
        [
            {
                "partner_id": partner.id,
                "level_id": level.id,
                "overdraft_policy": "allow",
            }
            for partner in partners
        ]
    )
    projects = env["project.project"].create(
        [
            {
                "name": f"Bench support {n:04d}",
                "partner_id": contract.partner_id.id,
                "allow_timesheets": True,
                "retainer_id": contract.id,
            }
            for n, contract in enumerate(contracts)
        ]
    )
    employees = env["hr.employee"].create(
        [{"name": f"Bench consultant {n:02d}"} for n in range(consultants)]
    )
    Ledger = env["retainer.ledger.entry"]
    Ledger._post(
        [
            {
                "contract_id": contract.id,
                "kind": "credit",
                "units": 28 * 100,
                "reason": "Bench opening block",
                "date": today - datetime.timedelta(days=days + 1),
            }
            for contract in contracts
        ],
        apply_overdraft_policy=False,
    )
    debits = entries - retainers - timesheets
    for start in range(0, timesheets, 10000):
        env["account.analytic.line"].create(
            [
                {
                    "project_id": projects[n % retainers].id,
                    "employee_id": employees[rng.randrange(consultants)].id,
                    "name": f"Bench incident {n}",
                    "unit_amount": rng.choice((0.25, 0.5, 1.0, 1.5, 2.0, 3.62)),
                    "date": today - datetime.timedelta(days=rng.randrange(days)),
                    "retainer_contact_type": rng.choice(CONTACT_TYPES),
                }
                for n in range(start, min(start + 10000, timesheets))
            ]
        )
        env.flush_all()
        env.invalidate_all()
    for start in range(0, debits, 10000):
        vals = []
        for n in range(start, min(start + 10000, debits)):
            units = rng.randint(1, 16)
            vals.append(
                {
                    "contract_id": contracts[n % retainers].id,
                    "kind": "debit",
                    "units": -units,
                    "date": today - datetime.timedelta(days=rng.randrange(days)),
                    "name": f"Bench work {n}",
                    "employee_id": employees[rng.randrange(consultants)].id,
                    "project_id": projects[n % retainers].id,
                    "contact_type": rng.choice(CONTACT_TYPES),
                    "entered_hours": units / 4,
                }
            )
        Ledger._post(vals, apply_overdraft_policy=False)
        env.flush_all()
        env.invalidate_all()
    env.cr.execute(
        SQL(
            "ANALYZE retainer_ledger_entry, retainer_contract, "
            "account_analytic_line, hr_employee"
        )
    )
    return contracts


def report_calls(env, contract):
    """``{name: f()}``: each report as the web client opens it."""
    usage = env["retainer.usage.report"]
    ledger = env["retainer.ledger.entry"]
    forecast = env["retainer.forecast.report"]
    utilisation = env["retainer.utilisation.report"]
    graph_context = {"fill_temporal": True}

    def pivot(model, measures, row, col):
        def run():
            for groupby in ([], [row], [col], [row, col]):
                model.read_group([], measures, groupby, lazy=False)

        return run

    running_out = [
        "&",
        ("state", "=", "active"),
        "|",
        ("status", "in", ("overdrawn", "exhausted")),
        "&",
        ("status", "=", "forecast"),
        ("days_left", "<=", 30),
    ]
    return {
        "usage pivot, customer x month": pivot(
            usage, ["units:sum"], "partner_id", "date:month"
        ),
        "usage graph by consultant": lambda: usage.with_context(
            **graph_context
        ).web_read_group(
            [], ["__count", "units:sum"], ["employee_id", "contact_type"], lazy=False
        ),
        "ledger pivot, retainer x kind": pivot(
            ledger, ["units:sum"], "contract_id", "effective_kind"
        ),
        "balance graph of a retainer": lambda: ledger.with_context(
            **graph_context
        ).web_read_group(
            [("contract_id", "=", contract.id)],
            ["__count", "units:sum"],
            ["date:week"],
            lazy=False,
        ),
        "running out (list)": lambda: forecast.web_search_read(
            running_out,
            {
                name: {}
                for name in (
                    "contract_id",
                    "partner_id",
                    "user_id",
                    "balance_units",
                    "status",
                    "days_left",
                    "depletion_date",
                )
            },
            limit=80,
        ),
        "utilisation pivot, consultant x month": pivot(
            utilisation,
            ["logged_hours:sum", "units:sum", "utilisation:avg"],
            "employee_id",
            "date:month",
        ),
    }


def measure(db, options):
    """``{name: ([seconds of each run], queries)}`` on a dataset built and
    rolled back in one transaction."""
    registry = Registry(db)
    results = {}
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        start = time.perf_counter()
        contracts = build(
            env,
            options.entries,
            options.retainers,
            options.consultants,
            options.timesheets,
        )
        count = env["retainer.ledger.entry"].search_count(
            [("contract_id", "in", contracts.ids)]
        )
        print(
            f"built {count} ledger entries on {len(contracts)} retainers in "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
        manager = env["res.users"].create(
            {
                "name": "Bench reports manager",
                "login": "bench_reports_manager",
                "groups_id": [
                    Command.link(
                        env.ref("defining_retainer.group_retainer_manager").id
                    ),
                    Command.link(
                        env.ref("hr_timesheet.group_hr_timesheet_approver").id
                    ),
                ],
            }
        )
        user_env = env(user=manager.id, su=False)
        calls = report_calls(user_env, contracts[0].with_env(user_env))
        for name, call in calls.items():
            call()  # warm-up: caches of the registry and of PostgreSQL
            times = []
            for _run in range(options.repeat):
                user_env.invalidate_all()
                queries = cr.sql_log_count
                begin = time.perf_counter()
                call()
                times.append(time.perf_counter() - begin)
                queries = cr.sql_log_count - queries
            results[name] = (times, queries)
        cr.rollback()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100000)
    parser.add_argument("--retainers", type=int, default=200)
    parser.add_argument("--consultants", type=int, default=25)
    parser.add_argument("--timesheets", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", help="an existing database with the addon")
    parser.add_argument("--keep-databases", action="store_true")
    options = parser.parse_args()
    if options.timesheets + options.retainers > options.entries:
        parser.error("--entries must cover the timesheets and one block a retainer")

    odoo.tools.config.parse_config(odoo_args())
    db = options.db or f"bench_reports_{os.getpid()}"
    try:
        if not options.db:
            install(db, "defining_retainer")
        results = measure(db, options)
        print(
            f"\nreports on {options.entries} ledger entries, {options.retainers} "
            f"retainers, {options.consultants} consultants, {options.timesheets} "
            f"timesheets; {options.repeat} runs each (target: under "
            f"{TARGET_SECONDS:.0f} s):"
        )
        print(f"  {'report':<40} {'best':>7} {'median':>7} {'spread':>7} queries")
        for name, (times, queries) in results.items():
            print(
                f"  {name:<40} {min(times):6.3f}s {statistics.median(times):6.3f}s "
                f"{max(times) - min(times):6.3f}s {queries:5d}"
                + ("" if max(times) < TARGET_SECONDS else "  over target")
            )
    finally:
        if not options.db and not options.keep_databases:
            Registry.delete_all()
            drop(db)


if __name__ == "__main__":
    main()
