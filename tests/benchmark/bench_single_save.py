"""Benchmark: one timesheet saved at a time, and a ledger that grows.

Not a test: it prints figures. It measures what a consultant feels: one
timesheet created and flushed, then the next, with a fresh cache each time
(``--saves`` per round, default 300), in these cases:

1. a retainer project (a block without expiry) vs a plain project, in the
   same database (target: at most 1.10x and at most 2 queries more), for a
   retainer whose rules follow its balance (warned overdraft, low balance
   alert: the company's defaults) and for one without such rules;
2. a plain project with the addon installed vs a database with only stock
   ``sale_timesheet`` (target: at most 1.03x, the same queries);
3. a retainer with dated blocks whose ledger holds 100, 2,000 and 20,000
   entries (target: 20,000 vs 100 at most 1.2x); for these retainers the
   portal page and the statement of last month are also measured.

Each save runs in a transaction of its own, as a request of the web client
does, rolled back after the save (outside the timing); ``--one-transaction``
saves a round's timesheets in one transaction instead (this benchmark's
first way, where every save after the first found the round's earlier
postings in its transaction). Each round runs every case once, in a
rotating order (after one warm-up round), and rolls its work back; the
ratios printed are the medians of the per-round ratios (two cases
measured in the same round), beside the median times. Machine noise
moves wall times; beside them each case prints its Python function calls
(one cProfiled round) and its queries (on every connection: the posting
reads the committed ledger on one of its own) per save, which noise does
not move.

The fixtures (customers, projects, retainers and their ledgers) are
committed in the databases on the first run and found again by name on
later runs: use scratch databases.

Usage (from the project root, after ``scripts/bootstrap``)::

    .venv/bin/python tests/benchmark/bench_single_save.py --addon-db DB
        --stock-db STOCK_DB [--saves 300] [--rounds 7]
        [--sizes 100,2000,20000] [--profile FILE] [--one-transaction]

``--addon-db``: a database with ``defining_retainer`` and
``defining_retainer_portal``; ``--stock-db``: one with ``sale_timesheet``
only. ``--profile FILE`` writes a cProfile of each case's round to
``FILE.<case>`` (then prints the figures as usual).
"""

import argparse
import cProfile
import datetime
import gc
import pstats
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_timesheets import odoo_args, vacuum

import odoo
from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules.registry import Registry

PREFIX = "Bench single save"
BLOCK_MONTHS = 24


def queries():
    """Queries run so far in this process, on every connection."""
    return sql_db.sql_counter


def get_or_create(env, model, name, vals):
    record = env[model].search([("name", "=", name)], limit=1)
    return record or env[model].create({"name": name, **vals})


def build_plain(env):
    """The plain project (and the employee): ``{"project": id,
    "employee": id}``."""
    partner = get_or_create(env, "res.partner", f"{PREFIX} customer", {})
    employee = get_or_create(env, "hr.employee", f"{PREFIX} consultant", {})
    project = get_or_create(
        env,
        "project.project",
        f"{PREFIX} plain",
        {
            "partner_id": partner.id,
            "allow_timesheets": True,
            "company_id": env.company.id,
        },
    )
    return {"project": project.id, "employee": employee.id, "partner": partner.id}


def build_dated_ledger(env, contract, size, **block_vals):
    """Fill the ledger of ``contract`` to about ``size`` entries: a block a
    month for two years, each valid three months, work every day in between
    (some of it corrected), the expiry job's entries; the last blocks cover
    today's work. ``block_vals``: more values of the blocks (their sold
    line)."""
    Ledger = env["retainer.ledger.entry"]
    today = datetime.date.today()
    start = today - datetime.timedelta(days=730)
    debits = max(size - 2 * BLOCK_MONTHS - size // 20, 10)
    per_block = max(debits * 5 // BLOCK_MONTHS, 10)
    vals_list = []
    for month in range(BLOCK_MONTHS + 1):
        date = start + datetime.timedelta(days=30 * month)
        vals_list.append(
            {
                "contract_id": contract.id,
                "kind": "credit",
                "units": per_block if month < BLOCK_MONTHS else 10 * per_block,
                "date": date,
                "expiry_date": date + datetime.timedelta(days=91 + 365 * (month // 24)),
                "reason": f"Block {month}",
                **block_vals,
            }
        )
    blocks = Ledger._insert_entries(vals_list)
    # Work in posting order, dated from the first block to today.
    vals_list = [
        {
            "contract_id": contract.id,
            "kind": "debit",
            "units": -(1 + index % 8),
            "date": start + datetime.timedelta(days=index * 730 // debits),
            "name": f"Work {index}",
        }
        for index in range(debits)
    ]
    step = 500
    for offset in range(0, len(vals_list), step):
        entries = Ledger._insert_entries(vals_list[offset : offset + step])
        # Corrections: one debit in twenty is reversed.
        entries.filtered(lambda e: e.id % 20 == 0)._reverse(reason="Corrected")
    env["retainer.contract"]._retainer_expire_blocks()
    return blocks


def build_retainers(env, sizes, plain):
    """The retainer cases: ``{name: {"project": id, "contract": id}}``."""
    level = get_or_create(env, "retainer.level", PREFIX, {"allow_remote": True})
    cases = {}
    contract = env["retainer.contract"].search(
        [("name", "=", f"{PREFIX} undated")], limit=1
    )
    if not contract:
        contract = env["retainer.contract"].create(
            {"partner_id": plain["partner"], "level_id": level.id}
        )
        contract.name = f"{PREFIX} undated"
        if contract.state == "draft":
            contract.action_activate()
        contract._post_manual_entry("credit", 10**7, "Bench block")
    cases["retainer"] = contract
    # No rule follows its balance (overdraft allowed, no alert, no automatic
    # top-up): a save reads no committed balance.
    contract = env["retainer.contract"].search(
        [("name", "=", f"{PREFIX} no balance rules")], limit=1
    )
    if not contract:
        contract = env["retainer.contract"].create(
            {
                "partner_id": plain["partner"],
                "level_id": level.id,
                "overdraft_policy": "allow",
                "low_balance_units": 0,
            }
        )
        contract.name = f"{PREFIX} no balance rules"
        if contract.state == "draft":
            contract.action_activate()
        contract._post_manual_entry("credit", 10**7, "Bench block")
    cases["retainer, no balance rules"] = contract
    for size in sizes:
        name = f"{PREFIX} dated {size}"
        contract = env["retainer.contract"].search([("name", "=", name)], limit=1)
        if not contract:
            print(f"building a ledger of {size} entries ...", flush=True)
            contract = env["retainer.contract"].create(
                {
                    "partner_id": plain["partner"],
                    "level_id": level.id,
                    "overdraft_policy": "warn",
                }
            )
            contract.name = name
            if contract.state == "draft":
                contract.action_activate()
            build_dated_ledger(env, contract, size)
        cases[f"dated {size}"] = contract
    result = {}
    for case, contract in cases.items():
        project = get_or_create(
            env,
            "project.project",
            f"{PREFIX} {case}",
            {
                "partner_id": plain["partner"],
                "allow_timesheets": True,
                "company_id": env.company.id,
                "retainer_id": contract.id,
            },
        )
        result[case] = {"project": project.id, "contract": contract.id}
    return result


def fixtures(addon_db, stock_db, sizes):
    """Build (or find) the fixtures, committed; return the cases:
    ``[(name, db, project id, employee id, contract id or None)]``."""
    cases = []
    with Registry(addon_db).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        plain = build_plain(env)
        retainers = build_retainers(env, sizes, plain)
        counts = dict(
            env["retainer.ledger.entry"]._read_group(
                [("contract_id", "in", [r["contract"] for r in retainers.values()])],
                ["contract_id"],
                ["__count"],
            )
        )
        if "retainer.ledger.checkpoint" in env:
            # The ledgers' newest checkpoints, committed (one replay each,
            # under the lock a posting takes; nothing when already there).
            for values in retainers.values():
                contract = env["retainer.contract"].browse(values["contract"])
                # A checkpoint every so many entries, as postings leave them
                # (the fixtures insert their entries below the posting path).
                cr.execute(
                    "DELETE FROM retainer_ledger_checkpoint WHERE contract_id = %s",
                    [contract.id],
                )
                env["retainer.ledger.entry"]._retainer_write_checkpoints(contract.ids)
            # Committed first: the posting's replay reads committed ones.
            cr.commit()
            for values in retainers.values():
                contract = env["retainer.contract"].browse(values["contract"])
                contract._lock_for_posting()
                env["retainer.ledger.entry"]._retainer_current_replay(contract.ids)
        cr.commit()
        for name, values in retainers.items():
            contract = env["retainer.contract"].browse(values["contract"])
            label = f"addon, {name}"
            if name.startswith("dated"):
                label += f" ({counts[contract]:,} entries)"
            cases.append(
                (label, addon_db, values["project"], plain["employee"], values)
            )
        cases.insert(
            1, ("addon, plain", addon_db, plain["project"], plain["employee"], None)
        )
    with Registry(stock_db).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        stock = build_plain(env)
        cr.commit()
        cases.insert(
            2, ("stock, plain", stock_db, stock["project"], stock["employee"], None)
        )
    return cases


def run_saves(db, project_id, employee_id, saves, profile=None, one_transaction=False):
    """Wall time (s) and queries of ``saves`` timesheets saved one at a
    time, each with a fresh cache and in a transaction of its own, as a
    request of the web client runs (rolled back after each save, outside the
    timing); with ``one_transaction``, all in one transaction (rolled back
    at the end)."""
    registry = Registry(db)
    elapsed = 0.0
    count = 0
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        Line = env["account.analytic.line"]
        gc.collect()
        gc.freeze()
        for index in range(saves):
            env.invalidate_all()
            vals = {
                "project_id": project_id,
                "employee_id": employee_id,
                "name": f"Incident {index}",
                "unit_amount": 0.25 + (index % 13) / 60,
            }
            before = queries()
            if profile:
                profile.enable()
            start = time.perf_counter()
            Line.create(vals)
            env.flush_all()
            elapsed += time.perf_counter() - start
            if profile:
                profile.disable()
            count += queries() - before
            if not one_transaction:
                cr.rollback()
        gc.unfreeze()
        cr.rollback()
    return elapsed, count


def run_reads(db, contract_id, profile=None):
    """Wall time (s) and queries of the portal page's values and of last
    month's statement of ``contract_id``, fresh cache."""
    registry = Registry(db)
    today = datetime.date.today()
    last_month_end = today.replace(day=1) - datetime.timedelta(days=1)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        contract = env["retainer.contract"].browse(contract_id)
        figures = []
        for read in (
            lambda: contract._portal_detail_values(),
            lambda: contract._statement_data(
                last_month_end.replace(day=1), last_month_end
            ),
        ):
            env.invalidate_all()
            before = queries()
            if profile:
                profile.enable()
            start = time.perf_counter()
            read()
            env.flush_all()
            elapsed = time.perf_counter() - start
            if profile:
                profile.disable()
            figures.append((elapsed, queries() - before))
        cr.rollback()
    return figures


def calls_of(function, *args, **kwargs):
    profile = cProfile.Profile()
    function(*args, profile=profile, **kwargs)
    return pstats.Stats(profile).total_calls, profile


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addon-db", required=True)
    parser.add_argument("--stock-db", required=True)
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sizes", default="100,2000,20000")
    parser.add_argument("--profile", help="write cProfiles to FILE.<case>")
    parser.add_argument(
        "--one-transaction",
        action="store_true",
        help="save a round's timesheets in one transaction (as before this "
        "option existed) instead of one transaction per save",
    )
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]

    odoo.tools.config.parse_config(odoo_args())
    cases = fixtures(options.addon_db, options.stock_db, sizes)
    for db in {options.addon_db, options.stock_db}:
        vacuum(db)
    saves = options.saves
    one = options.one_transaction
    # Python calls (deterministic), one cProfiled round per case.
    calls = {}
    for name, db, project_id, employee_id, _values in cases:
        run_saves(db, project_id, employee_id, saves, None, one)  # warm-up
        calls[name], profile = calls_of(
            run_saves, db, project_id, employee_id, saves, one_transaction=one
        )
        if options.profile:
            profile.dump_stats(f"{options.profile}.{name.split(' (')[0]}")
    times = {name: [] for name, *_rest in cases}
    counts = {}
    for round_ in range(options.rounds):
        shift = round_ % len(cases)
        for name, db, project_id, employee_id, _values in cases[shift:] + cases[:shift]:
            elapsed, count = run_saves(db, project_id, employee_id, saves, None, one)
            times[name].append(elapsed / saves)
            counts[name] = count / saves
    print(
        f"\nOne timesheet saved at a time ({saves} saves a round, fresh cache, "
        f"{'one transaction a round' if one else 'one transaction a save'}), "
        f"{options.rounds} interleaved rounds:"
    )
    print(
        f"  {'case':<40} {'median':>8} {'spread':>8} {'queries':>8} "
        f"{'py calls':>9}  (per save)"
    )
    for name, values in times.items():
        print(
            f"  {name:<40} {statistics.median(values) * 1000:6.2f}ms "
            f"{(max(values) - min(values)) * 1000:6.2f}ms {counts[name]:8.1f} "
            f"{calls[name] / saves:9.0f}"
        )
        print(f"  {'':<40} rounds (ms): " + " ".join(f"{t * 1000:.2f}" for t in values))

    def ratio(top, bottom, target, query_target):
        paired = sorted(a / b for a, b in zip(times[top], times[bottom], strict=True))
        print(
            f"  {top} / {bottom}: median of round ratios "
            f"{statistics.median(paired):.3f}x ({paired[0]:.3f}x to "
            f"{paired[-1]:.3f}x), Python calls {calls[top] / calls[bottom]:.3f}x, "
            f"queries {counts[top]:.1f} vs {counts[bottom]:.1f} "
            f"(target <= {target:.2f}x, {query_target})"
        )

    names = [name for name, *_rest in cases]
    dated = [name for name in names if "dated" in name]
    print("Ratios:")
    ratio("addon, retainer", "addon, plain", 1.10, "<= 2 queries more")
    ratio(
        "addon, retainer, no balance rules", "addon, plain", 1.10, "<= 2 queries more"
    )
    ratio("addon, plain", "stock, plain", 1.03, "same queries")
    for name in dated[1:]:
        ratio(name, dated[0], 1.2, "same queries")

    bench_reads(cases, dated, options.rounds)


def bench_reads(cases, dated, rounds):
    """Time the portal page and the statement of the dated retainers."""
    # Reads of the dated retainers: the portal page and last month's
    # statement, interleaved as well.
    read_cases = [
        (name, db, values["contract"])
        for name, db, _project, _employee, values in cases
        if name in dated
    ]
    read_calls = {}
    for name, db, contract_id in read_cases:
        run_reads(db, contract_id)  # warm-up
        for kind in ("portal", "statement"):
            read_calls.setdefault(kind, {})
        run_reads_split(db, contract_id, read_calls, name)
    read_times = {kind: {name: [] for name, *_r in read_cases} for kind in read_calls}
    read_counts = {kind: {} for kind in read_calls}
    for round_ in range(rounds):
        shift = round_ % len(read_cases)
        for name, db, contract_id in read_cases[shift:] + read_cases[:shift]:
            for kind, (elapsed, count) in zip(
                ("portal", "statement"), run_reads(db, contract_id), strict=True
            ):
                read_times[kind][name].append(elapsed)
                read_counts[kind][name] = count
    print(f"\nReads of the dated retainers, {rounds} interleaved rounds:")
    for kind in ("portal", "statement"):
        for name, *_rest in read_cases:
            values = read_times[kind][name]
            print(
                f"  {kind:<9} {name:<40} {statistics.median(values) * 1000:7.2f}ms "
                f"spread {(max(values) - min(values)) * 1000:6.2f}ms "
                f"queries {read_counts[kind][name]:3d} "
                f"py calls {read_calls[kind][name]:8,}"
            )
        first = read_cases[0][0]
        for name, *_rest in read_cases[1:]:
            paired = sorted(
                a / b
                for a, b in zip(
                    read_times[kind][name], read_times[kind][first], strict=True
                )
            )
            print(
                f"  {kind} {name} / {first}: median of round ratios "
                f"{statistics.median(paired):.3f}x, Python calls "
                f"{read_calls[kind][name] / read_calls[kind][first]:.3f}x"
            )


def run_reads_split(db, contract_id, read_calls, name):
    """Python calls of the portal page and of the statement, separately."""
    today = datetime.date.today()
    last_month_end = today.replace(day=1) - datetime.timedelta(days=1)
    with Registry(db).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        contract = env["retainer.contract"].browse(contract_id)
        for kind, read in (
            ("portal", lambda: contract._portal_detail_values()),
            (
                "statement",
                lambda: contract._statement_data(
                    last_month_end.replace(day=1), last_month_end
                ),
            ),
        ):
            env.invalidate_all()
            profile = cProfile.Profile()
            profile.enable()
            read()
            env.flush_all()
            profile.disable()
            read_calls[kind][name] = pstats.Stats(profile).total_calls
        cr.rollback()


if __name__ == "__main__":
    main()
