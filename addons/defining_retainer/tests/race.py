import sys
import threading
import traceback
from contextlib import contextmanager
from unittest.mock import patch

from psycopg2.errors import SerializationFailure

from odoo import SUPERUSER_ID, api
from odoo.service.model import retrying
from odoo.tools import SQL, mute_logger


class ConcurrentClientsMixin:
    """Clients in real, separate transactions (REPEATABLE READ, as Odoo runs
    requests and scheduled jobs), all holding their snapshot before any of
    them writes. For TransactionCase tests whose fixtures are committed."""

    # === Committed fixtures: a retainer, its project and consultants === #

    @contextmanager
    def _committed_env(self):
        """An environment on a connection of its own, committed on exit: the
        clients see what it writes, and the test reads what they wrote."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def _commit_retainer(
        self,
        name,
        units,
        reason,
        contract_vals=None,
        credit_vals=None,
        task_names=(),
        employee_names=None,
    ):
        """Create and commit ``name`` Ltd's retainer (``contract_vals``)
        with a credit of ``units`` (``reason``, ``credit_vals``), a project
        on it with the tasks ``task_names`` and the consultants
        ``employee_names`` (default: one); set ``self.ids`` (``partner``,
        ``level``, ``contract``, ``block``, ``project``, ``tasks``,
        ``employees`` and the first one as ``employee``) and drop it all
        after the test."""
        with self._committed_env() as env:
            partner = env["res.partner"].create(
                {"name": f"{name} Ltd", "is_company": True}
            )
            level = env["retainer.level"].create({"name": f"{name} level"})
            contract = env["retainer.contract"].create(
                {"partner_id": partner.id, "level_id": level.id} | (contract_vals or {})
            )
            block = contract._post_manual_entry(
                "credit", units, reason, **(credit_vals or {})
            )
            project = env["project.project"].create(
                {
                    "name": f"{name} project",
                    "partner_id": partner.id,
                    "allow_timesheets": True,
                    "retainer_id": contract.id,
                }
            )
            tasks = env["project.task"].create(
                [{"name": task, "project_id": project.id} for task in task_names]
            )
            employees = env["hr.employee"].create(
                [
                    {"name": employee}
                    for employee in employee_names or [f"{name} consultant"]
                ]
            )
            self.ids = {
                "partner": partner.id,
                "level": level.id,
                "contract": contract.id,
                "block": block.id,
                "project": project.id,
                "tasks": tasks.ids,
                "employees": employees.ids,
                "employee": employees.ids[0],
            }
        self.addCleanup(self._drop_retainer)

    def _drop_retainer(self):
        """Drop what :meth:`_commit_retainer` committed, and the ledger and
        timesheets the clients added to it."""
        ids = self.ids
        with self._committed_env() as env:
            # The ledger refuses deletion through the ORM by design.
            env.cr.execute(
                SQL(
                    "DELETE FROM retainer_ledger_entry WHERE contract_id = %s",
                    ids["contract"],
                )
            )
            env.cr.execute(
                SQL(
                    "DELETE FROM account_analytic_line WHERE project_id = %s",
                    ids["project"],
                )
            )
            env["project.task"].browse(ids["tasks"]).unlink()
            env["project.project"].browse(ids["project"]).unlink()
            env["retainer.contract"].browse(ids["contract"]).unlink()
            env["retainer.level"].browse(ids["level"]).unlink()
            env["hr.employee"].browse(ids["employees"]).unlink()
            env["res.partner"].browse(ids["partner"]).unlink()

    # Jobs on the fixtures' ``self.ids`` (contract, project, employee).

    def _read_balance(self, env):
        """Read the retainer's balance: a client's snapshot."""
        return env["retainer.contract"].browse(self.ids["contract"]).balance_units

    def _expire(self, env):
        env["retainer.contract"]._retainer_expire_blocks()

    def _log_job(self, name, hours=1.0, **vals):
        """A job logging ``hours`` on the project as ``name`` (``vals``:
        the line's other values, e.g. its task or consultant); it returns
        the line's id."""

        def log(env):
            return (
                env["account.analytic.line"]
                .create(
                    {
                        "project_id": self.ids["project"],
                        "employee_id": self.ids["employee"],
                        "name": name,
                        "unit_amount": hours,
                    }
                    | vals
                )
                .id
            )

        return log

    def _log_on(self, work_date):
        """A job logging an hour dated ``work_date`` on the project."""
        return self._log_job(f"Work of {work_date}", date=work_date)

    def _snapshot(self, env):
        """Read something, so that the transaction takes its snapshot."""
        raise NotImplementedError

    def _concurrently(self, *jobs):
        """Run each ``job(env)`` in its own transaction, all having taken
        their snapshot (:meth:`_snapshot`) before any of them writes;
        retried on serialization failures as a request or a scheduled job
        would be. Return the errors."""
        _outcomes, _failures, errors = self._run_clients(
            dict(enumerate(jobs)), self._snapshot
        )
        return errors

    def _run_clients(self, jobs, snapshot, refused=(), timeout=60):
        """The one harness of the concurrency tests: run each
        ``jobs[name](env)`` in its own transaction and thread, every client
        having run ``snapshot(env)`` (which takes the transaction's
        snapshot) before any of them goes on; retried on serialization
        failures by Odoo's own loop, as a request or a scheduled job would
        be, then committed.

        :param dict jobs: client name -> ``job(env)``.
        :param snapshot: ``snapshot(env)``, run on every try.
        :param tuple refused: exception classes that are a client's expected
            refusal (rolled back, as the request would be).
        :returns: ``(outcomes, serialization_failures, errors)``:
            ``outcomes[name]`` is ``("ok", result)`` or ``("refused",
            message)``; ``serialization_failures`` the names of the clients
            that failed once and were retried (once per failure); ``errors``
            what else went wrong, per client.
        """
        barrier = threading.Barrier(len(jobs), timeout=30)
        outcomes, serialization_failures, errors = {}, [], []

        def client(name, job):
            with self.registry.cursor() as cr:
                # The test runner holds the registry lock: give the cursor
                # its transaction on the loaded registry instead of asking
                # for it by database name (which would wait for that lock).
                cr.transaction = api.Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
                first_try = [True]

                def run():
                    snapshot(env)
                    if first_try[0]:
                        first_try[0] = False
                        barrier.wait()
                    try:
                        return job(env)
                    except SerializationFailure:
                        serialization_failures.append(name)
                        raise

                try:
                    outcomes[name] = ("ok", retrying(run, env))
                    # The client's own connection: its request ends here.
                    cr.commit()  # pylint: disable=invalid-commit
                except refused as error:
                    cr.rollback()  # as the request would
                    outcomes[name] = ("refused", str(error))
                except Exception as error:  # noqa: BLE001 (reported by the test)
                    cr.rollback()
                    errors.append(f"{name}: {error!r}")
                    barrier.abort()

        threads = [
            threading.Thread(target=client, args=(name, job))
            for name, job in jobs.items()
        ]
        # Odoo's own retry loop (odoo.service.model.retrying) runs as in a
        # request; only its registry reload, which would wait for the lock
        # the test runner holds, is reduced to clearing the transaction.
        with (
            patch.object(api.Transaction, "reset", api.Transaction.clear),
            mute_logger("odoo.sql_db", "odoo.service.model"),
        ):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout)
        stuck = [thread for thread in threads if thread.is_alive()]
        if stuck:
            frames = sys._current_frames()
            stacks = "\n".join(
                "".join(traceback.format_stack(frames[thread.ident]))
                for thread in stuck
            )
            self.fail(f"clients still running:\n{stacks}")
        return outcomes, serialization_failures, errors
