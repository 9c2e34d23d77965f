"""Benchmark: creating timesheets with and without retainers.

Not a test: it prints figures. In one run it measures, on real databases,
the creation of N timesheets in one batch (default 10,000):

1. on retainer projects vs plain projects, with the addon installed
   (target: at most 1.15x), and
2. on plain projects with the addon installed vs a database with only
   stock ``sale_timesheet`` (target: at most 1.05x).

Each measurement is repeated and the best time kept; the work is rolled
back after each run. Query counts are printed next to the times.

Usage (from the project root, after ``scripts/bootstrap``)::

    .venv/bin/python tests/benchmark/bench_timesheets.py [--lines 10000]
        [--repeat 3] [--keep-databases]
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ODOO_PATH = Path(os.environ.get("ODOO_PATH", "/opt/odoo"))
sys.path.insert(0, str(ODOO_PATH))

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


def measure(db, lines, repeat, with_retainer):
    """Best wall time (s) and query count to create ``lines`` timesheets."""
    registry = Registry(db)
    best = None
    for _run in range(repeat):
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            partner = env["res.partner"].create({"name": "Bench customer"})
            project_vals = {
                "name": "Bench",
                "partner_id": partner.id,
                "allow_timesheets": True,
            }
            if with_retainer:
                level = env["retainer.level"].create(
                    {"name": "Bench", "allow_remote": True}
                )
                contract = env["retainer.contract"].create(
                    {"partner_id": partner.id, "level_id": level.id}
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
            env.flush_all()
            env.invalidate_all()
            queries = cr.sql_log_count
            start = time.perf_counter()
            created = env["account.analytic.line"].create(vals)
            env.flush_all()
            elapsed = time.perf_counter() - start
            queries = cr.sql_log_count - queries
            if with_retainer:
                assert contract.used_units == sum(created.mapped("retainer_units"))
            cr.rollback()
        if best is None or elapsed < best[0]:
            best = (elapsed, queries)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep-databases", action="store_true")
    options = parser.parse_args()

    odoo.tools.config.parse_config(odoo_args())
    suffix = os.getpid()
    db_addon, db_stock = f"bench_addon_{suffix}", f"bench_stock_{suffix}"
    try:
        install(db_addon, "defining_retainer")
        install(db_stock, "sale_timesheet")
        results = {}
        # Interleave the runs so that machine noise hits every case alike.
        for _round in range(options.repeat):
            for name, db, with_retainer in (
                ("addon, retainer projects", db_addon, True),
                ("addon, plain projects", db_addon, False),
                ("stock, plain projects", db_stock, False),
            ):
                elapsed, queries = measure(db, options.lines, 1, with_retainer)
                best = results.get(name)
                if best is None or elapsed < best[0]:
                    results[name] = (elapsed, queries)
        print(
            f"\n{options.lines} timesheets in one create(), best of {options.repeat}:"
        )
        for name, (elapsed, queries) in results.items():
            print(f"  {name:<26} {elapsed:7.2f} s  {queries:5d} queries")
        retainer = results["addon, retainer projects"][0]
        plain = results["addon, plain projects"][0]
        stock = results["stock, plain projects"][0]
        print(
            f"retainer / plain (same database): {retainer / plain:.3f}x "
            "(target <= 1.15x)"
        )
        print(
            f"plain with addon / stock Odoo:    {plain / stock:.3f}x (target <= 1.05x)"
        )
    finally:
        if not options.keep_databases:
            Registry.delete_all()
            drop(db_addon)
            drop(db_stock)


if __name__ == "__main__":
    main()
