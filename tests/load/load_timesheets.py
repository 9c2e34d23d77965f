"""Load test: K XML-RPC clients log M timesheets each, at the same time.

Not a test of the suite: it prints figures and checks the ledger's
invariants under concurrency, against a multi-worker Odoo server.

Phases (each on a new customer, retainer and project of its own, all the
clients on the same project, one 15-minute unit per entry):

``block``  the retainer holds half the units asked for: exactly that many
           entries are accepted, the others are refused with the block
           policy's message, the balance ends at 0 (never below);
``warn``   the retainer holds a few units: every entry is accepted, the
           balance is exactly the credit minus the entries;
``plain``  (``--plain``) a project without retainer, for comparison.

For each phase: entries per second, p50/p95 latency of one entry, and the
failures by kind (a failure is any error other than the block refusal).
With a server it started itself (``--workers``), it also counts the
transactions Odoo retried after a serialization failure (its log lines
"SerializationFailure, N tries left") and those that ran out of retries.

Bounded: at most 64 clients x 500 entries, ``--timeout`` seconds in all,
127.0.0.1 only. Exit code 1 when an invariant is broken or an entry failed.

Usage (from the project root; the database needs both addons, e.g. a copy
of the one ``scripts/run`` serves)::

    .venv/bin/python tests/load/load_timesheets.py --db retainer \\
        [--workers 4] [--clients 8] [--entries 10] [--phase block --phase warn]
        [--plain] [--task] [--runs 1]
    # or against a server already running (on 127.0.0.1):
    .venv/bin/python tests/load/load_timesheets.py --db retainer \\
        --url http://127.0.0.1:8069
"""

import argparse
import re
import statistics
import sys
import threading
import time
import xmlrpc.client
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from odoo_e2e import OdooServer, Rpc

MAX_CLIENTS = 64
MAX_ENTRIES = 500
UNIT_HOURS = 0.25
REFUSAL = re.compile(r"^Retainer RET/\d+ has .* left and this time needs 1 unit")
# odoo.service.model logs each retry of a transaction that hit a
# serialization failure (or deadlock...), and when it gives up.
RETRY_LINE = re.compile(r"[A-Z_]+, \d+ tries left, try again")
EXHAUSTED_LINE = re.compile(r"[A-Z_]+, maximum number of tries reached")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="database with both addons")
    parser.add_argument(
        "--url", help="a running server on 127.0.0.1 (default: start one)"
    )
    parser.add_argument("--workers", type=int, default=4, help="of the server started")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--entries", type=int, default=10, help="per client")
    parser.add_argument(
        "--phase",
        action="append",
        choices=("block", "warn"),
        help="retainer phases to run (default: both)",
    )
    parser.add_argument(
        "--plain", action="store_true", help="also a project without retainer"
    )
    parser.add_argument(
        "--task", action="store_true", help="every entry on one shared task"
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat every phase")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--timeout", type=int, default=900, help="seconds in all")
    parser.add_argument("--log", default="load-server.log", help="started server's log")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS or not 1 <= args.entries <= MAX_ENTRIES:
        parser.error(f"1-{MAX_CLIENTS} clients and 1-{MAX_ENTRIES} entries per client")
    if args.url and urlparse(args.url).hostname != "127.0.0.1":
        parser.error("--url must be on 127.0.0.1")
    if not 1 <= args.workers <= 16:
        parser.error("1-16 workers")
    args.phases = (args.phase or ["block", "warn"]) + (["plain"] * args.plain)
    return args


def prepare(admin, phase, total, task):
    """A customer, its retainer (unless ``plain``) and a project; return
    ``(contract id or None, credited units, project id, task id or False)``."""
    stamp = f"{phase} {time.strftime('%H:%M:%S')}"
    partner_id = admin(
        "res.partner", "create", {"name": f"Load {stamp}", "is_company": True}
    )
    contract_id, credited = None, 0
    if phase != "plain":
        [level_id] = admin(
            "retainer.level", "search", [("allow_remote", "=", True)], limit=1
        )
        contract_id = admin(
            "retainer.contract",
            "create",
            {"partner_id": partner_id, "level_id": level_id, "overdraft_policy": phase},
        )
        credited = total // 2 if phase == "block" else 4
        wizard_id = admin(
            "retainer.ledger.post",
            "create",
            {
                "contract_id": contract_id,
                "kind": "credit",
                "units": credited,
                "reason": f"Load test {stamp}",
            },
        )
        admin("retainer.ledger.post", "action_post", [wizard_id])
    project_id = admin(
        "project.project",
        "create",
        {
            "name": f"Load {stamp}",
            "partner_id": partner_id,
            "allow_timesheets": True,
            **({"retainer_id": contract_id} if contract_id else {}),
        },
    )
    task_id = task and admin(
        "project.task", "create", {"name": f"Load {stamp}", "project_id": project_id}
    )
    return contract_id, credited, project_id, task_id


def run_clients(args, url, project_id, task_id, employee_id, deadline):
    """Every client logs its entries; return ``[(seconds, result)]`` where
    result is the new id or the error text, and the wall time."""
    results = []
    lock = threading.Lock()
    start = threading.Barrier(args.clients, timeout=120)

    def client(number):
        rpc = Rpc(url, args.db, args.login, args.password)
        start.wait()
        for entry in range(args.entries):
            if time.monotonic() > deadline:
                return
            began = time.perf_counter()
            try:
                result = rpc(
                    "account.analytic.line",
                    "create",
                    {
                        "name": f"Load {number}.{entry}",
                        "project_id": project_id,
                        "task_id": task_id,
                        "employee_id": employee_id,
                        "unit_amount": UNIT_HOURS,
                        "retainer_contact_type": "remote",
                    },
                )
            except xmlrpc.client.Fault as fault:
                result = fault.faultString
            except (OSError, xmlrpc.client.ProtocolError) as error:
                result = f"transport error: {error}"
            with lock:
                results.append((time.perf_counter() - began, result))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 1))
    return results, time.perf_counter() - began


def failure_kind(text):
    """A short name for an error returned to a client."""
    last = [line for line in text.strip().splitlines() if line.strip()]
    for pattern in ("SerializationFailure", "DeadlockDetected", "LockNotAvailable"):
        if pattern in text:
            return pattern
    return (last[-1] if last else text)[:120]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_phase(args, admin, url, phase, employee_id, server, deadline):
    total = args.clients * args.entries
    contract_id, credited, project_id, task_id = prepare(admin, phase, total, args.task)
    retries_before = server.log_count(RETRY_LINE.pattern) if server else 0
    exhausted_before = server.log_count(EXHAUSTED_LINE.pattern) if server else 0
    results, wall = run_clients(args, url, project_id, task_id, employee_id, deadline)
    accepted = [r for _s, r in results if isinstance(r, int)]
    refused = [r for _s, r in results if isinstance(r, str) and REFUSAL.search(r)]
    failures = Counter(
        failure_kind(r)
        for _s, r in results
        if not isinstance(r, int) and not (phase == "block" and REFUSAL.search(r))
    )
    latencies = [seconds for seconds, _r in results]
    problems = []
    if len(results) != total:
        problems.append(f"{total - len(results)} entries not sent (time limit)")
    if failures:
        problems.append(f"{sum(failures.values())} entries failed")
    if contract_id:
        [contract] = admin(
            "retainer.contract", "read", [contract_id], fields=["balance_units"]
        )
        balance = contract["balance_units"]
        expected = credited - len(accepted)
        if balance != expected:
            problems.append(f"balance {balance}, expected {expected}")
        if phase == "block":
            if balance < 0:
                problems.append(f"blocked retainer overspent: {balance}")
            if not failures and len(accepted) != credited:
                problems.append(f"{len(accepted)} accepted, {credited} fitted")
        if phase == "warn" and refused:
            problems.append(f"{len(refused)} refused on a warned retainer")
    line = (
        f"{phase:5} {len(results):4} entries in {wall:6.1f} s: "
        f"{len(results) / wall:6.1f} entries/s, "
        f"p50 {percentile(latencies, 0.5) * 1000:5.0f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:5.0f} ms, "
        f"{len(accepted)} accepted, {len(refused)} refused"
    )
    if server:
        retries = server.log_count(RETRY_LINE.pattern) - retries_before
        exhausted = server.log_count(EXHAUSTED_LINE.pattern) - exhausted_before
        line += f", {retries} retried, {exhausted} out of retries"
    if contract_id:
        line += f", balance {balance}"
    print(line, flush=True)
    for kind, count in failures.most_common():
        print(f"      {count} x {kind}", flush=True)
    for problem in problems:
        print(f"      PROBLEM: {problem}", flush=True)
    return {
        "phase": phase,
        "rate": len(results) / wall,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "problems": problems,
    }


def warm_up(args, url, server):
    """Requests on every worker first: each loads the registry on its first
    request, which is not what the phases measure."""
    count = 4 * (args.workers if server else 4)

    def ping():
        Rpc(url, args.db, args.login, args.password)(
            "retainer.contract", "search_count", []
        )

    threads = [threading.Thread(target=ping) for _n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)


def main(argv=None):
    args = parse_args(argv)
    deadline = time.monotonic() + args.timeout
    server = None
    url = args.url
    if not url:
        server = OdooServer.start(
            args.db,
            Path(args.log).resolve(),
            180,
            options=(f"--workers={args.workers}", "--max-cron-threads=0"),
        )
        url = server.url
        print(f"Odoo with {args.workers} workers on {url}, log {args.log}", flush=True)
    try:
        admin = Rpc(url, args.db, args.login, args.password)
        [employee_id] = admin("hr.employee", "search", [("user_id", "=", admin.uid)])
        print(
            f"{args.clients} clients x {args.entries} entries of {UNIT_HOURS} h"
            f"{' on one task' if args.task else ''}",
            flush=True,
        )
        warm_up(args, url, server)
        results = []
        for _run in range(args.runs):
            for phase in args.phases:
                if time.monotonic() > deadline:
                    print("time limit reached", flush=True)
                    break
                results.append(
                    run_phase(args, admin, url, phase, employee_id, server, deadline)
                )
    finally:
        if server:
            server.stop()
    failed_runs = [r for r in results if r["problems"]]
    print(f"{len(results) - len(failed_runs)} of {len(results)} phase runs clean")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
