import threading
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.service.model import retrying
from odoo.tools import mute_logger


class ConcurrentClientsMixin:
    """Clients in real, separate transactions (REPEATABLE READ, as Odoo runs
    requests and scheduled jobs), all holding their snapshot before any of
    them writes. For TransactionCase tests whose fixtures are committed."""

    # Jobs on the fixtures' ``self.ids`` (project, employee).

    def _expire(self, env):
        env["retainer.contract"]._retainer_expire_blocks()

    def _log_on(self, work_date):
        """A job logging an hour dated ``work_date`` on the project."""

        def log(env):
            env["account.analytic.line"].create(
                {
                    "project_id": self.ids["project"],
                    "employee_id": self.ids["employee"],
                    "name": f"Work of {work_date}",
                    "unit_amount": 1.0,
                    "date": work_date,
                }
            )

        return log

    def _snapshot(self, env):
        """Read something, so that the transaction takes its snapshot."""
        raise NotImplementedError

    def _concurrently(self, *jobs):
        """Run each ``job(env)`` in its own transaction, all having taken
        their snapshot (:meth:`_snapshot`) before any of them writes;
        retried on serialization failures as a request or a scheduled job
        would be. Return the errors."""
        barrier = threading.Barrier(len(jobs), timeout=30)
        errors = []

        def client(job):
            with self.registry.cursor() as cr:
                cr.transaction = api.Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
                first_try = [True]

                def run():
                    self._snapshot(env)
                    if first_try[0]:
                        first_try[0] = False
                        barrier.wait()
                    return job(env)

                try:
                    retrying(run, env)
                    cr.commit()  # pylint: disable=invalid-commit
                except Exception as error:  # noqa: BLE001 (reported by the test)
                    cr.rollback()
                    errors.append(repr(error))
                    barrier.abort()

        threads = [threading.Thread(target=client, args=(job,)) for job in jobs]
        with (
            patch.object(api.Transaction, "reset", api.Transaction.clear),
            mute_logger("odoo.sql_db", "odoo.service.model"),
        ):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        self.assertFalse([t for t in threads if t.is_alive()], "clients finished")
        return errors
