"""Benchmark: the daily expiry job on many retainers.

Not a test: it prints figures. It builds N retainers (default 2,000) with
3 blocks each: one expired with half of it used (its other half expires),
one expired and used up (nothing to expire), one without expiry; every
other retainer rolls 2 units over. Then it times one run of the job
(``retainer.contract._retainer_expire_blocks``) and counts its queries.
The usage is posted straight on the ledger (debits without timesheets):
the job only reads the ledger. Everything is rolled back after each run.

Usage (from the project root, after ``scripts/bootstrap``)::

    .venv/bin/python tests/benchmark/bench_expiry.py [--retainers 2000]
        [--repeat 3] [--db EXISTING_DB] [--keep-databases]

Without ``--db`` a scratch database with the addon (no demo data) is
built and dropped at the end.
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_timesheets import drop, install, odoo_args

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry


def build(env, count):
    """``count`` retainers with their 3 blocks and usage; return them."""
    today = datetime.date.today()

    def day(n):
        return today - datetime.timedelta(days=n)

    partner = env["res.partner"].create({"name": "Bench expiry customer"})
    level = env["retainer.level"].create({"name": "Bench expiry", "allow_remote": True})
    contracts = env["retainer.contract"].create(
        [
            {
                "partner_id": partner.id,
                "level_id": level.id,
                "overdraft_policy": "allow",
                "rollover_max_units": 2 * (number % 2),
                "rollover_validity_months": 3,
            }
            for number in range(count)
        ]
    )
    Ledger = env["retainer.ledger.entry"]
    credits = []
    debits = []
    for contract in contracts:
        for units, credit_date, expiry in (
            (8, day(120), day(60)),
            (8, day(90), day(30)),
            (8, day(90), False),
        ):
            credits.append(
                {
                    "contract_id": contract.id,
                    "kind": "credit",
                    "units": units,
                    "date": credit_date,
                    "expiry_date": expiry,
                    "reason": "Bench block",
                }
            )
        for units, work_date in ((4, day(70)), (8, day(40))):
            debits.append(
                {
                    "contract_id": contract.id,
                    "kind": "debit",
                    "units": -units,
                    "date": work_date,
                    "name": "Bench work",
                }
            )
    Ledger._post(credits)
    Ledger._post(debits)
    return contracts


def measure(db, count):
    """Seconds and queries of one job run on ``count`` new retainers."""
    registry = Registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        Contract = env["retainer.contract"]
        Contract._retainer_expire_blocks()  # what was due before
        contracts = build(env, count)
        env.flush_all()
        env.invalidate_all()
        queries = cr.sql_log_count
        start = time.perf_counter()
        handled = Contract._retainer_expire_blocks()
        env.flush_all()
        elapsed = time.perf_counter() - start
        queries = cr.sql_log_count - queries
        expiries = env["retainer.ledger.entry"].search_count(
            [("contract_id", "in", contracts.ids), ("kind", "=", "expiry")]
        )
        assert handled == count, (handled, count)
        assert expiries == count, (expiries, count)
        cr.rollback()
    return elapsed, queries


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retainers", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", help="an existing database with the addon")
    parser.add_argument("--keep-databases", action="store_true")
    options = parser.parse_args()

    odoo.tools.config.parse_config(odoo_args())
    db = options.db or f"bench_expiry_{os.getpid()}"
    try:
        if not options.db:
            install(db, "defining_retainer")
        runs = [measure(db, options.retainers) for _run in range(options.repeat)]
        times = sorted(elapsed for elapsed, _queries in runs)
        queries = {q for _elapsed, q in runs}
        print(
            f"\nexpiry job, {options.retainers} retainers x 3 blocks, "
            f"{options.repeat} runs: best {times[0]:.2f} s, median "
            f"{statistics.median(times):.2f} s, spread {times[-1] - times[0]:.2f} s; "
            f"queries {', '.join(map(str, sorted(queries)))} "
            f"({max(queries) / options.retainers:.3f} per retainer)"
        )
    finally:
        if not options.db and not options.keep_databases:
            Registry.delete_all()
            drop(db)


if __name__ == "__main__":
    main()
