"""Benchmark: the monthly revenue recognition run on many retainers.

Not a test: it prints figures. It builds, in a scratch database with the
addon (no demo data) and deferral on, N customers (default 2,000), each
with a sold and invoiced retainer (2 days, 56 units, deferred), and M debit
entries in last month (default 100,000 in all: 50 per retainer, posted
straight on the ledger: the run only reads it). Then it times one run of
``retainer.revenue.line._retainer_recognize`` up to the last day of last
month and counts its queries; the same for a tenth of the customers, to
show that the number of queries does not grow with them (except the ORM's
writes of the journal items, in batches of 100 rows). It also times stock
Odoo creating and posting the very same journal entry on its own: most of
a run is that, the rest is the run's own reading of the ledgers. Each run
is rolled back.

Usage (from the project root, after ``scripts/bootstrap``)::

    .venv/bin/python tests/benchmark/bench_recognition.py [--retainers 2000]
        [--debits 100000] [--repeat 3] [--db EXISTING_DB] [--keep-databases]
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
from odoo import SUPERUSER_ID, Command, api
from odoo.modules.registry import Registry


def last_month_end():
    return datetime.date.today().replace(day=1) - datetime.timedelta(days=1)


def build(env, count, debits):
    """``count`` customers with a deferred sold retainer and ``debits``
    debit entries in last month; return the retainers."""
    company = env.company
    company._retainer_setup_revenue_accounts()
    company.write(
        {"retainer_defer_revenue": True, "retainer_credit_trigger": "confirm"}
    )
    end = last_month_end()
    start = end.replace(day=1)
    product = env["product.product"].create(
        {
            "name": "Bench retainer day",
            "type": "service",
            "invoice_policy": "order",
            "list_price": 700.0,
            "taxes_id": False,
            "retainer_units": 28,
        }
    )
    partners = env["res.partner"].create(
        [{"name": f"Bench revenue {number}"} for number in range(count)]
    )
    orders = env["sale.order"].create(
        [
            {
                "partner_id": partner.id,
                "order_line": [
                    Command.create({"product_id": product.id, "product_uom_qty": 2})
                ],
            }
            for partner in partners
        ]
    )
    orders.action_confirm()
    invoices = orders._create_invoices()
    invoices.invoice_date = start
    invoices.action_post()
    contracts = orders.retainer_id
    per_contract = max(debits // count, 1)
    days = (end - start).days + 1
    vals = [
        {
            "contract_id": contract.id,
            "kind": "debit",
            "units": -1,
            "date": start + datetime.timedelta(days=number % days),
            "name": "Bench work",
        }
        for contract in contracts
        for number in range(per_contract)
    ]
    env["retainer.ledger.entry"]._post(vals)
    return contracts


def measure(db):
    """Seconds, queries, journal items and value of one run, and the
    seconds stock Odoo takes to create and post the same journal entry
    (same lines, accounts, partners and amounts) by itself; rolled back."""
    registry = Registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        env.invalidate_all()
        RevenueLine = type(env["retainer.revenue.line"])
        post_entry = RevenueLine._retainer_post_entry
        entry_queries = []

        def counted_post_entry(self, *args, **kwargs):
            # The journal entry's own queries: Odoo writing its items.
            before = self.env.cr.sql_log_count
            move = post_entry(self, *args, **kwargs)
            self.env.flush_all()
            entry_queries.append(self.env.cr.sql_log_count - before)
            return move

        RevenueLine._retainer_post_entry = counted_post_entry
        queries = cr.sql_log_count
        start = time.perf_counter()
        try:
            moves = env["retainer.revenue.line"]._retainer_recognize(
                last_month_end(), env.company
            )
            env.flush_all()
        finally:
            RevenueLine._retainer_post_entry = post_entry
        elapsed = time.perf_counter() - start
        queries = cr.sql_log_count - queries
        move_vals = {
            "move_type": "entry",
            "journal_id": moves.journal_id.id,
            "date": moves.date,
            "ref": "Same entry, stock Odoo",
            "line_ids": [
                Command.create(
                    {
                        "name": line.name,
                        "partner_id": line.partner_id.id,
                        "account_id": line.account_id.id,
                        "balance": line.balance,
                    }
                )
                for line in moves.line_ids
            ],
        }
        items = len(moves.line_ids)
        value = -sum(moves.line_ids.filtered(lambda l: l.balance < 0).mapped("balance"))
        cr.rollback()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        env.invalidate_all()
        start = time.perf_counter()
        env["account.move"].create(move_vals)._post(soft=False)
        env.flush_all()
        stock = time.perf_counter() - start
        cr.rollback()
    return elapsed, (queries, sum(entry_queries)), items, value, stock


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retainers", type=int, default=2000)
    parser.add_argument("--debits", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", help="a database built by this script before")
    parser.add_argument("--keep-databases", action="store_true")
    options = parser.parse_args()

    odoo.tools.config.parse_config(odoo_args())
    small = max(options.retainers // 10, 1)
    dbs = {}
    try:
        for label, count, debits in (
            ("small", small, options.debits * small // options.retainers),
            # As many debits on a tenth of the retainers: the queries do not
            # grow with the ledgers.
            ("dense", small, options.debits),
            ("full", options.retainers, options.debits),
        ):
            db = (
                f"{options.db}_{label}"
                if options.db
                else f"bench_rev_{label}_{os.getpid()}"
            )
            dbs[label] = db
            if not options.db:
                install(db, "defining_retainer")
                registry = Registry(db)
                with registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
                    started = time.perf_counter()
                    build(env, count, debits)
                    env.flush_all()
                    print(
                        f"built {count} retainers, {debits} debits in "
                        f"{time.perf_counter() - started:.0f} s",
                        flush=True,
                    )
            runs = [measure(db) for _run in range(options.repeat)]
            times = sorted(run[0] for run in runs)
            stock = sorted(run[4] for run in runs)
            queries = sorted({run[1][0] for run in runs})
            own_queries = sorted({run[1][0] - run[1][1] for run in runs})
            _e, _q, items, value, _s = runs[0]
            print(
                f"\nrecognition run, {count} retainers, {debits} debits, "
                f"{options.repeat} runs: best {times[0]:.2f} s, median "
                f"{statistics.median(times):.2f} s; queries "
                f"{', '.join(map(str, queries))}, of which the run's own (all but "
                f"Odoo writing the journal entry) "
                f"{', '.join(map(str, own_queries))}; {items} journal items, "
                f"{value:.2f} recognised\n"
                f"the same journal entry created and posted by stock Odoo: best "
                f"{stock[0]:.2f} s, median {statistics.median(stock):.2f} s; the "
                f"run's own work (reading {count} retainers' ledgers and "
                f"pools): {times[0] - stock[0]:.2f} s (best - best)",
                flush=True,
            )
    finally:
        if not options.db and not options.keep_databases:
            Registry.delete_all()
            for db in dbs.values():
                drop(db)


if __name__ == "__main__":
    main()
