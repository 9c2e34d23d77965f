"""Benchmark: the daily statement job on many retainers.

Not a test: it prints figures. It builds N retainers (default 2,000) that
send monthly statements, each with a contact who gets them, a block bought
before last month and two uses in last month; then it times one run of the
job (``retainer.statement._retainer_send_statements``): last month's
statement of every retainer, rendered in batches, attached to an email
queued in the retainer's conversation. It counts the job's queries and
their growth per retainer. Everything is rolled back after each run.

By default the statements are rendered as HTML, as Odoo does in its tests
(``--pdf`` runs wkhtmltopdf: one run per batch with a wkhtmltopdf built on
Odoo's patched Qt, one per retainer otherwise). The query count is the
same either way: wkhtmltopdf reads nothing from the database.

Usage (from the project root, after ``scripts/bootstrap``)::

    .venv/bin/python tests/benchmark/bench_statements.py [--retainers 2000]
        [--repeat 3] [--pdf] [--db EXISTING_DB] [--keep-databases]

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
    """``count`` retainers sending monthly statements since last month, each
    with its billing contact, a block and last month's usage; return them."""
    today = datetime.date.today()
    last_month = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    customer = env["res.partner"].create(
        {"name": "Bench statements customer", "is_company": True}
    )
    contact = env["res.partner"].create(
        {
            "name": "Bench statements billing",
            "parent_id": customer.id,
            "type": "invoice",
            "email": "billing@bench.example.com",
        }
    )
    level = env["retainer.level"].create(
        {"name": "Bench statements", "allow_remote": True}
    )
    contracts = env["retainer.contract"].create(
        [
            {
                "partner_id": customer.id,
                "level_id": level.id,
                "statement_frequency": "monthly",
                "audit_required": False,
            }
            for _number in range(count)
        ]
    )
    contracts.write({"statement_start_date": last_month})
    assert contracts.notify_partner_ids == contact
    entries = []
    for contract in contracts:
        entries.append(
            {
                "contract_id": contract.id,
                "kind": "credit",
                "units": 28,
                "date": last_month - datetime.timedelta(days=10),
                "reason": "Bench block",
            }
        )
        for units, day in ((4, 3), (6, 17)):
            entries.append(
                {
                    "contract_id": contract.id,
                    "kind": "debit",
                    "units": -units,
                    "date": last_month + datetime.timedelta(days=day),
                    "name": "Bench work",
                }
            )
    env["retainer.ledger.entry"]._post(entries)
    return contracts


def measure(db, count, pdf):
    """Seconds and queries of one job run on ``count`` new retainers."""
    registry = Registry(db)
    odoo.tools.config["test_enable"] = not pdf  # HTML rendering, as in tests
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        Statement = env["retainer.statement"]
        Statement._retainer_send_statements()  # what was due before
        contracts = build(env, count)
        env.flush_all()
        env.invalidate_all()
        queries = cr.sql_log_count
        start = time.perf_counter()
        statements = Statement._retainer_send_statements()
        env.flush_all()
        elapsed = time.perf_counter() - start
        queries = cr.sql_log_count - queries
        assert len(statements) == count, (len(statements), count)
        assert statements.contract_id == contracts
        assert all(statements.mapped("sent_date"))
        cr.rollback()
    return elapsed, queries


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retainers", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pdf", action="store_true", help="run wkhtmltopdf")
    parser.add_argument("--db", help="an existing database with the addon")
    parser.add_argument("--keep-databases", action="store_true")
    options = parser.parse_args()

    odoo.tools.config.parse_config(odoo_args())
    db = options.db or f"bench_statements_{os.getpid()}"
    try:
        if not options.db:
            install(db, "defining_retainer")
        runs = [
            measure(db, options.retainers, options.pdf)
            for _run in range(options.repeat)
        ]
        times = sorted(elapsed for elapsed, _queries in runs)
        queries = {q for _elapsed, q in runs}
        print(
            f"\nstatement job, {options.retainers} retainers "
            f"({'PDF' if options.pdf else 'HTML'}), {options.repeat} runs: "
            f"best {times[0]:.2f} s, median {statistics.median(times):.2f} s, "
            f"spread {times[-1] - times[0]:.2f} s; "
            f"queries {', '.join(map(str, sorted(queries)))} "
            f"({max(queries) / options.retainers:.3f} per retainer)"
        )
    finally:
        if not options.db and not options.keep_databases:
            Registry.delete_all()
            drop(db)


if __name__ == "__main__":
    main()
