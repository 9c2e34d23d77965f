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

With ``--ledger-db DB``, it measures instead how the run's reading of one
retainer grows with its ledger: a sold and invoiced retainer topped up by a
dated block a month for two years (each valid three months, its unused
units expired and partly rolled over by the expiry job), whose ledger holds
about 100, 2,000 and 20,000 entries (``--ledger-sizes``) of daily work, one
in twenty corrected, with a checkpoint every so many entries as postings
leave them. Per run (``--repeat``), fresh cache, rolled back, it prints the
wall time, the queries and the Python calls (one cProfiled run) of the
pools of that retainer at the end of last month
(``retainer.revenue.line._retainer_pools``: its invoices, the units of its
blocks used and expired, the value earned; the journal entry a run then
posts does not depend on the ledger). The fixtures are committed in ``DB``
on the first run (created if missing, kept) and found again by name later.

Usage (from the project root, after ``scripts/bootstrap``)::

    .venv/bin/python tests/benchmark/bench_recognition.py [--retainers 2000]
        [--debits 100000] [--repeat 3] [--db EXISTING_DB] [--keep-databases]
    .venv/bin/python tests/benchmark/bench_recognition.py --ledger-db DB
        [--ledger-sizes 100,2000,20000] [--repeat 5]
"""

import argparse
import cProfile
import datetime
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_single_save import BLOCK_MONTHS, build_dated_ledger
from bench_timesheets import drop, install, odoo_args

import odoo
from odoo import SUPERUSER_ID, Command, api, sql_db
from odoo.modules.registry import Registry

LEDGER_PREFIX = "Bench recognition ledger"


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


def build_ledger(env, size):
    """A sold, invoiced and deferred retainer whose ledger holds about
    ``size`` entries (see the module's docstring), its checkpoints written;
    return its sold line."""
    company = env.company
    company._retainer_setup_revenue_accounts()
    company.write(
        {
            "retainer_defer_revenue": True,
            "retainer_credit_trigger": "confirm",
            "retainer_rollover_max_units": 4,
            "retainer_rollover_validity_months": 1,
        }
    )
    start = datetime.date.today() - datetime.timedelta(days=730)
    product = env["product.product"].search(
        [("name", "=", f"{LEDGER_PREFIX} day")], limit=1
    ) or env["product.product"].create(
        {
            "name": f"{LEDGER_PREFIX} day",
            "type": "service",
            "invoice_policy": "order",
            "list_price": 700.0,
            "taxes_id": False,
            "retainer_units": 28,
        }
    )
    partner = env["res.partner"].create({"name": f"{LEDGER_PREFIX} {size}"})
    # Sold as many days as the blocks of build_dated_ledger hold (the last
    # one is ten times the others): every block is of the line.
    debits = max(size - 2 * BLOCK_MONTHS - size // 20, 10)
    per_block = max(debits * 5 // BLOCK_MONTHS, 10)
    order = env["sale.order"].create(
        {
            "partner_id": partner.id,
            "date_order": start,
            "order_line": [
                Command.create(
                    {
                        "product_id": product.id,
                        "product_uom_qty": (BLOCK_MONTHS + 10) * per_block // 28 + 1,
                    }
                )
            ],
        }
    )
    order.action_confirm()
    invoice = order._create_invoices()
    invoice.invoice_date = start
    invoice.action_post()
    contract = order.retainer_id
    contract.overdraft_policy = "warn"
    build_dated_ledger(env, contract, size, sale_line_id=order.order_line.id)
    # A checkpoint every so many entries, as postings leave them (the
    # fixtures insert their entries below the posting path).
    if "retainer.ledger.checkpoint" in env:
        env["retainer.ledger.entry"]._retainer_write_checkpoints(contract.ids)
    return order.order_line


def ledger_fixtures(db, sizes):
    """``[(size, entries, sold line id)]``, built and committed on the
    first run."""
    cases = []
    with Registry(db).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        for size in sizes:
            partner = env["res.partner"].search(
                [("name", "=", f"{LEDGER_PREFIX} {size}")], limit=1
            )
            if partner:
                sale_line = env["sale.order.line"].search(
                    [("order_partner_id", "=", partner.id)], limit=1
                )
            else:
                print(f"building a ledger of {size} entries ...", flush=True)
                sale_line = build_ledger(env, size)
                cr.commit()
            contract = sale_line.order_id.retainer_id
            entries = env["retainer.ledger.entry"].search_count(
                [("contract_id", "=", contract.id)]
            )
            cases.append((size, entries, sale_line.id))
    return cases


def measure_ledger(db, sale_line_id, profile=None):
    """Seconds and queries of the pools of ``sale_line_id`` at the end of
    last month, fresh cache, rolled back; the pool's used and expired
    units."""
    with Registry(db).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        env.invalidate_all()
        sale_line = env["sale.order.line"].browse(sale_line_id)
        before = sql_db.sql_counter
        if profile:
            profile.enable()
        start = time.perf_counter()
        pools = env["retainer.revenue.line"]._retainer_pools(
            last_month_end(), sale_lines=sale_line
        )
        elapsed = time.perf_counter() - start
        if profile:
            profile.disable()
        queries = sql_db.sql_counter - before
        pool = pools[sale_line_id]
        cr.rollback()
    return elapsed, queries, (pool.used_units, pool.expired_units)


def bench_ledgers(db, sizes, repeat):
    if not odoo.service.db.exp_db_exist(db):
        install(db, "defining_retainer")
    cases = ledger_fixtures(db, sizes)
    print(
        f"\nrecognition of one retainer whose ledger grows (pools at the end "
        f"of last month, {repeat} runs, fresh cache):\n"
        f"{'entries':>8}  {'median ms':>9}  {'best ms':>8}  {'queries':>7}  "
        f"{'py calls':>9}  units used, expired",
        flush=True,
    )
    for _size, entries, sale_line_id in cases:
        measure_ledger(db, sale_line_id)  # warm-up
        profile = cProfile.Profile()
        _elapsed, _queries, _units = measure_ledger(db, sale_line_id, profile)
        calls = pstats.Stats(profile).total_calls
        runs = [measure_ledger(db, sale_line_id) for _run in range(repeat)]
        times = sorted(run[0] for run in runs)
        queries = sorted({run[1] for run in runs})
        used, expired = runs[0][2]
        print(
            f"{entries:8,}  {statistics.median(times) * 1000:9.1f}  "
            f"{times[0] * 1000:8.1f}  {'/'.join(map(str, queries)):>7}  "
            f"{calls:9,}  {used}, {expired}",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retainers", type=int, default=2000)
    parser.add_argument("--debits", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", help="a database built by this script before")
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument(
        "--ledger-db", help="measure the ledger growth case in this database"
    )
    parser.add_argument("--ledger-sizes", default="100,2000,20000")
    options = parser.parse_args()

    odoo.tools.config.parse_config(odoo_args())
    if options.ledger_db:
        sizes = [int(size) for size in options.ledger_sizes.split(",")]
        bench_ledgers(options.ledger_db, sizes, options.repeat)
        return
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
