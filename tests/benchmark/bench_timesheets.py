"""Benchmark: creating timesheets with and without retainers.

Not a test: it prints figures. In one run it measures, on real databases,
the creation of N timesheets in one batch (default 10,000):

1. on retainer projects vs plain projects, with the addon installed
   (target: at most 1.15x),
2. on plain projects with the addon installed vs a database with only
   stock ``sale_timesheet`` (target: at most 1.05x), and
3. on a retainer rounding each incident once, the lines on 1,000 tasks of
   10 lines each for 10,000 lines (figures printed against case 1; its
   queries do not grow with the incidents: no query per incident).

Each repeat runs the three set-ups one after the other (in a rotating
order, after one warm-up run of each), so that machine noise hits every
case alike. Every case's projects belong to the company (a retainer project
is of its retainer's company). After each run the work is rolled back and
the database vacuumed (outside the timing: rolled-back rows would otherwise
bloat the tables, the addon's database twice as fast as the stock one, as
it serves two cases); before each run the garbage of earlier runs is
collected and the surviving objects are frozen (``gc.freeze()``), so that
no case pays for another's garbage. For each case the best, median and
spread (slowest - fastest) of the wall times are printed with each run's
time, the query count and the CPU time of the Odoo process (without
PostgreSQL's share); the ratios are given for the best and median wall
times, the median CPU time and the median of the ratios within a repeat
(two runs made one after the other).

Usage (from the project root, after ``scripts/bootstrap``)::

    .venv/bin/python tests/benchmark/bench_timesheets.py [--lines 10000]
        [--repeat 7] [--keep-databases] [--addon-db DB --stock-db DB]
        [--profile FILE]

``--tickets`` measures instead, on a database with the support desk bridge
(``defining_retainer_helpdesk`` and OCA's helpdesk modules, or
``--helpdesk-db DB``), timesheets logged on helpdesk tickets with only
``ticket_id`` (the server fills project and task) against the same
timesheets logged on the tickets' tasks: the queries per batch must be the
same (target: at most 1.05x the time).

``--addon-db``/``--stock-db`` reuse databases built before (the first with
``defining_retainer``, the second with ``sale_timesheet`` only, both without
demo data); ``--profile FILE`` writes a cProfile of the retainer and of the plain case
(with the addon) to ``FILE.retainer`` and ``FILE.plain`` instead of timing.
"""

import argparse
import cProfile
import gc
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ODOO_PATH = Path(os.environ.get("ODOO_PATH", "/opt/odoo"))
sys.path.insert(0, str(ODOO_PATH))

import psycopg2

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry


def odoo_args():
    args = ["-c", str(ROOT / "odoo.conf"), "--log-level=warn"]
    if str(ODOO_PATH) != "/opt/odoo":
        args.append(f"--addons-path={ODOO_PATH}/addons,{ROOT}/addons")
    for env_name, option in (("PGHOST", "db_host"), ("PGPORT", "db_port")):
        if os.environ.get(env_name):
            args.append(f"--{option}={os.environ[env_name]}")
    return args


def install(db, modules):
    print(f"installing {modules} in {db} ...", flush=True)
    subprocess.run(
        [
            sys.executable,
            str(ODOO_PATH / "odoo-bin"),
            *odoo_args(),
            "-d",
            db,
            "-i",
            modules,
            "--without-demo=all",
            "--stop-after-init",
            "--http-port=0",
        ],
        cwd=ROOT,
        check=True,
    )


def drop(db):
    subprocess.run(["dropdb", "--if-exists", "--force", db], check=False)
    shutil.rmtree(Path(odoo.tools.config.filestore(db)), ignore_errors=True)


def measure(db, lines, with_retainer, profile=None):
    """Wall time (s), CPU time of this process (s) and query count to
    create ``lines`` timesheets in one batch (rolled back); with
    ``profile``, a cProfile of that create. ``with_retainer``: False (plain
    projects), True (a retainer rounding each entry) or ``"incident"`` (a
    retainer rounding each incident once, 10 lines per task)."""
    registry = Registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        partner = env["res.partner"].create({"name": "Bench customer"})
        # Every case's projects are of the company: a retainer project is of
        # its retainer's, and a project without company takes another path
        # through stock timesheet code (no company-specific analytic plans).
        project_vals = {
            "name": "Bench",
            "partner_id": partner.id,
            "allow_timesheets": True,
            "company_id": env.company.id,
        }
        if with_retainer:
            level = env["retainer.level"].create(
                {"name": "Bench", "allow_remote": True}
            )
            contract = env["retainer.contract"].create(
                {
                    "partner_id": partner.id,
                    "level_id": level.id,
                    "rounding_scope": (
                        "incident" if with_retainer == "incident" else "entry"
                    ),
                }
            )
            contract._post_manual_entry("credit", 10 * lines, "Bench block")
            project_vals["retainer_id"] = contract.id
        projects = env["project.project"].create([project_vals] * 10)
        employee = env["hr.employee"].create({"name": "Bench consultant"})
        vals = [
            {
                "project_id": projects[i % 10].id,
                "employee_id": employee.id,
                "name": f"Incident {i}",
                "unit_amount": 0.25 + (i % 13) / 60,
            }
            for i in range(lines)
        ]
        if with_retainer == "incident":
            # Ten lines per task, each task on one project.
            tasks = env["project.task"].create(
                [
                    {"name": f"Incident {t}", "project_id": projects[t % 10].id}
                    for t in range(-(-lines // 10))
                ]
            )
            for i, line_vals in enumerate(vals):
                task = tasks[i // 10]
                line_vals.update(project_id=task.project_id.id, task_id=task.id)
        env.flush_all()
        env.invalidate_all()
        queries = cr.sql_log_count
        # Garbage of earlier runs is collected now, and what survives (both
        # registries, caches) is set aside: the collector then walks only
        # what this run makes, instead of striking one case at random.
        gc.collect()
        gc.freeze()
        if profile:
            profile.enable()
        start, start_cpu = time.perf_counter(), time.process_time()
        created = env["account.analytic.line"].create(vals)
        env.flush_all()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
        if profile:
            profile.disable()
        gc.unfreeze()
        queries = cr.sql_log_count - queries
        if with_retainer == "incident":
            count = contract._retainer_incident_counter()
            expected = sum(
                count(
                    zip(
                        group.mapped("unit_amount"),
                        group.mapped("retainer_contact_type"),
                        strict=True,
                    )
                )
                for group in created.grouped("task_id").values()
            )
            assert contract.used_units == expected
        elif with_retainer:
            assert contract.used_units == sum(created.mapped("retainer_units"))
        cr.rollback()
    vacuum(db)
    return elapsed, cpu, queries


def measure_tickets(db, lines, on_tickets):
    """Wall time (s), CPU time (s) and query count to create ``lines``
    retainer timesheets in one batch (rolled back) on 10 tickets with only
    ``ticket_id`` (``on_tickets``), or on the tasks of those tickets."""
    registry = Registry(db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        partner = env["res.partner"].create({"name": "Bench customer"})
        level = env["retainer.level"].create({"name": "Bench", "allow_remote": True})
        contract = env["retainer.contract"].create(
            {"partner_id": partner.id, "level_id": level.id}
        )
        contract._post_manual_entry("credit", 10 * lines, "Bench block")
        project = env["project.project"].create(
            {
                "name": "Bench",
                "partner_id": partner.id,
                "allow_timesheets": True,
                "company_id": env.company.id,
                "retainer_id": contract.id,
            }
        )
        tasks = env["project.task"].create(
            [{"name": f"Task {i}", "project_id": project.id} for i in range(10)]
        )
        team = env["helpdesk.ticket.team"].create(
            {"name": "Bench desk", "allow_timesheet": True}
        )
        tickets = env["helpdesk.ticket"].create(
            [
                {
                    "name": f"Ticket {i}",
                    "description": "Bench",
                    "partner_id": partner.id,
                    "team_id": team.id,
                    "task_id": task.id,
                }
                for i, task in enumerate(tasks)
            ]
        )
        assert tickets.project_id == project
        employee = env["hr.employee"].create({"name": "Bench consultant"})
        target = (
            [{"ticket_id": ticket.id} for ticket in tickets]
            if on_tickets
            else [{"project_id": project.id, "task_id": task.id} for task in tasks]
        )
        vals = [
            target[i % 10]
            | {
                "employee_id": employee.id,
                "name": f"Incident {i}",
                "unit_amount": 0.25 + (i % 13) / 60,
            }
            for i in range(lines)
        ]
        env.flush_all()
        env.invalidate_all()
        queries = cr.sql_log_count
        gc.collect()
        gc.freeze()
        start, start_cpu = time.perf_counter(), time.process_time()
        created = env["account.analytic.line"].create(vals)
        env.flush_all()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
        gc.unfreeze()
        queries = cr.sql_log_count - queries
        assert created.task_id == tasks
        assert contract.used_units == sum(created.mapped("retainer_units"))
        cr.rollback()
    vacuum(db)
    return elapsed, cpu, queries


def bench_tickets(options):
    """Ticket timesheets against task timesheets, on one database."""
    db = options.helpdesk_db or f"bench_helpdesk_{os.getpid()}"
    built = not options.helpdesk_db
    try:
        if built:
            install(db, "defining_retainer_helpdesk")
        vacuum(db, full=True)
        cases = [("task timesheets", False), ("ticket timesheets", True)]
        for _name, on_tickets in cases:  # warm-up, not counted
            measure_tickets(db, options.lines, on_tickets)
        times = {name: [] for name, _tickets in cases}
        queries = {}
        for repeat in range(options.repeat):
            shift = repeat % len(cases)
            for name, on_tickets in cases[shift:] + cases[:shift]:
                elapsed, _cpu, count = measure_tickets(db, options.lines, on_tickets)
                times[name].append(elapsed)
                queries[name] = count
        print(
            f"\n{options.lines} timesheets in one create(), {options.repeat} "
            "interleaved runs:"
        )
        for name, values in times.items():
            best, median, spread = summary(values)
            print(
                f"  {name:<20} best {best:6.2f}s median {median:6.2f}s spread "
                f"{spread:6.2f}s  queries {queries[name]}"
            )
        ratio = statistics.median(times["ticket timesheets"]) / statistics.median(
            times["task timesheets"]
        )
        print(
            f"tickets / tasks: queries {queries['ticket timesheets']} vs "
            f"{queries['task timesheets']}, median time {ratio:.3f}x "
            "(target <= 1.05x)"
        )
    finally:
        if built and not options.keep_databases:
            Registry.delete_all()
            drop(db)


def vacuum(db, full=False):
    """VACUUM ``db`` (outside any timing). A run's rolled-back rows stay in
    the tables as dead rows until a vacuum: without one (autovacuum off or
    late), every later run on that database inserts into bigger tables and
    indexes, and the addon's database, which serves two cases, bloats twice
    as fast as the stock one."""
    _name, info = odoo.sql_db.connection_info_for(db)
    with closing(psycopg2.connect(**info)) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM FULL ANALYZE" if full else "VACUUM ANALYZE")


def summary(times):
    """Best, median and spread (slowest - fastest) of ``times``."""
    return min(times), statistics.median(times), max(times) - min(times)


def print_call_counts(cases, lines):
    """Print the Python function calls each case makes (after a warm-up run)
    and their ratios: a measure of the work per line that machine noise
    does not move."""
    calls = {}
    for name, db, with_retainer in cases:
        measure(db, lines, with_retainer)  # warm-up
        profile = cProfile.Profile()
        measure(db, lines, with_retainer, profile=profile)
        calls[name] = pstats.Stats(profile).total_calls
    print(f"\n{lines} timesheets in one create(), Python function calls:")
    for name, count in calls.items():
        print(f"  {name:<26} {count:>12,}")
    retainer, plain, stock, incident = (calls[name] for name, _db, _retainer in cases)
    print(f"retainer / plain (same database): {retainer / plain:.3f}x")
    print(f"plain with addon / stock Odoo:    {plain / stock:.3f}x")
    print(f"incident scope / entry scope:     {incident / retainer:.3f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument("--addon-db", help="existing database with the addon")
    parser.add_argument("--stock-db", help="existing database, sale_timesheet only")
    parser.add_argument(
        "--profile", help="write cProfiles of both addon cases to FILE.<case>"
    )
    parser.add_argument(
        "--calls",
        action="store_true",
        help="count the Python function calls of each case (the same on a "
        "busy or a quiet machine) instead of timing",
    )
    parser.add_argument(
        "--tickets",
        action="store_true",
        help="ticket timesheets against task timesheets (support desk bridge)",
    )
    parser.add_argument(
        "--helpdesk-db", help="existing database with defining_retainer_helpdesk"
    )
    options = parser.parse_args()

    odoo.tools.config.parse_config(odoo_args())
    if options.tickets:
        bench_tickets(options)
        return
    suffix = os.getpid()
    db_addon = options.addon_db or f"bench_addon_{suffix}"
    db_stock = options.stock_db or f"bench_stock_{suffix}"
    built = []
    try:
        if not options.addon_db:
            built.append(db_addon)
            install(db_addon, "defining_retainer")
        if options.profile:
            for case, with_retainer in (("retainer", True), ("plain", False)):
                measure(db_addon, options.lines, with_retainer)  # warm-up
                profile = cProfile.Profile()
                measure(db_addon, options.lines, with_retainer, profile=profile)
                path = f"{options.profile}.{case}"
                profile.dump_stats(path)
                print(f"profile of the {case} case (with the addon) in {path}")
            return
        if not options.stock_db:
            built.append(db_stock)
            install(db_stock, "sale_timesheet")
        for db in (db_addon, db_stock):  # a reused database may be bloated
            vacuum(db, full=True)
        cases = [
            ("addon, retainer projects", db_addon, True),
            ("addon, plain projects", db_addon, False),
            ("stock, plain projects", db_stock, False),
            ("addon, incident scope", db_addon, "incident"),
        ]
        if options.calls:
            print_call_counts(cases, options.lines)
            return
        for _name, db, with_retainer in cases:  # warm-up, not counted
            measure(db, options.lines, with_retainer)
        times = {name: [] for name, _db, _retainer in cases}
        cpu_times = {name: [] for name, _db, _retainer in cases}
        queries = {}
        for repeat in range(options.repeat):
            # Interleaved, in a rotating order: noise hits every case alike.
            shift = repeat % len(cases)
            for name, db, with_retainer in cases[shift:] + cases[:shift]:
                elapsed, cpu, count = measure(db, options.lines, with_retainer)
                times[name].append(elapsed)
                cpu_times[name].append(cpu)
                queries[name] = count
        print(
            f"\n{options.lines} timesheets in one create(), {options.repeat} "
            "interleaved runs:"
        )
        print(
            f"  {'case':<26} {'best':>7} {'median':>7} {'spread':>7}  queries  "
            "Odoo CPU: best median spread"
        )
        for name, values in times.items():
            best, median, spread = summary(values)
            cpu_best, cpu_median, cpu_spread = summary(cpu_times[name])
            print(
                f"  {name:<26} {best:6.2f}s {median:6.2f}s {spread:6.2f}s  "
                f"{queries[name]:5d}    {cpu_best:6.2f}s {cpu_median:6.2f}s "
                f"{cpu_spread:6.2f}s"
            )
            print(f"  {'':<26} runs: " + " ".join(f"{t:.2f}" for t in values))
        for label, (top, bottom), target in (
            (
                "retainer / plain (same database):",
                ("addon, retainer projects", "addon, plain projects"),
                1.15,
            ),
            (
                "plain with addon / stock Odoo:   ",
                ("addon, plain projects", "stock, plain projects"),
                1.05,
            ),
            (
                "incident scope / entry scope:    ",
                ("addon, incident scope", "addon, retainer projects"),
                None,
            ),
        ):
            best = min(times[top]) / min(times[bottom])
            median = statistics.median(times[top]) / statistics.median(times[bottom])
            cpu = statistics.median(cpu_times[top]) / statistics.median(
                cpu_times[bottom]
            )
            # Each repeat's two runs ran one after the other: their ratio
            # is the least touched by slow drifts of the machine.
            paired = sorted(
                top_time / bottom_time
                for top_time, bottom_time in zip(times[top], times[bottom], strict=True)
            )
            print(
                f"{label} best {best:.3f}x, median {median:.3f}x, "
                f"median Odoo CPU {cpu:.3f}x, same-repeat ratios median "
                f"{statistics.median(paired):.3f}x ({paired[0]:.3f}x to "
                f"{paired[-1]:.3f}x)"
                + (f" (target <= {target:.2f}x)" if target else "")
            )
    finally:
        if not options.keep_databases and built:
            Registry.delete_all()
            for db in built:
                drop(db)


if __name__ == "__main__":
    main()
