import logging
from datetime import date
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL, mute_logger

from ..models.retainer_statement import RetainerStatement
from ..tools.server_values import server_values
from .race import ConcurrentClientsMixin

TODAY = date(2025, 3, 2)


@tagged("post_install", "-at_install", "defining_retainer")
class TestConcurrentStatements(ConcurrentClientsMixin, TransactionCase):
    """Two runs of the statement job at once (two nodes, or a retry while
    the first still runs), each in its own transaction that takes its
    snapshot before either writes: each statement is created and emailed
    once.

    The fixtures are committed: a customer with a billing contact and a
    monthly retainer whose January and February statements are due.
    """

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            partner = env["res.partner"].create(
                {
                    "name": "Statement Race Ltd",
                    "is_company": True,
                    "email": "race@customer.example.com",
                }
            )
            level = env["retainer.level"].create(
                {"name": "Statement race", "allow_remote": True}
            )
            with server_values():  # no audit for this race
                contract = env["retainer.contract"].create(
                    {
                        "partner_id": partner.id,
                        "level_id": level.id,
                        "statement_frequency": "monthly",
                        "audit_required": False,
                    }
                )
            contract.statement_start_date = date(2025, 1, 1)
            env["retainer.ledger.entry"]._post(
                [
                    {
                        "contract_id": contract.id,
                        "kind": "credit",
                        "units": 28,
                        "date": date(2024, 12, 1),
                        "reason": "Race block",
                    }
                ]
            )
            self.ids = {
                "partner": partner.id,
                "level": level.id,
                "contract": contract.id,
            }
        self.addCleanup(self._drop_fixtures)

    def _drop_fixtures(self):
        ids = self.ids
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            contract = env["retainer.contract"].browse(ids["contract"])
            messages = contract.message_ids
            env["mail.mail"].search([("mail_message_id", "in", messages.ids)]).unlink()
            # The ledger refuses deletion by design.
            cr.execute(
                SQL(
                    "DELETE FROM retainer_ledger_entry WHERE contract_id = %s",
                    ids["contract"],
                )
            )
            env["ir.attachment"].search(
                [("res_model", "=", "retainer.contract"), ("res_id", "=", contract.id)]
            ).unlink()
            messages.unlink()
            contract.unlink()
            env["retainer.level"].browse(ids["level"]).unlink()
            env["res.partner"].browse(ids["partner"]).unlink()

    # === CLIENTS === #

    def _snapshot(self, env):
        env["retainer.contract"].browse(self.ids["contract"]).read(["state"])

    def _send(self, env):
        env["retainer.statement"]._retainer_send_statements(today=TODAY)

    def _sent(self):
        """``(statement periods, statement emails)`` of the retainer."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            contract = env["retainer.contract"].browse(self.ids["contract"])
            subtype = env.ref("defining_retainer.mt_retainer_statement")
            messages = contract.message_ids.filtered(
                lambda message: message.subtype_id == subtype
            )
            return (
                sorted((s.date_from, s.date_to) for s in contract.statement_ids),
                len(messages),
            )

    # === TESTS === #

    def test_two_runs_at_once_send_once(self):
        self.assertFalse(self._concurrently(self._send, self._send))
        self.assertEqual(
            self._sent(),
            (
                [
                    (date(2025, 1, 1), date(2025, 1, 31)),
                    (date(2025, 2, 1), date(2025, 2, 28)),
                ],
                2,
            ),
        )
        # A retry after both: nothing more.
        self.assertFalse(self._concurrently(self._send))
        self.assertEqual(self._sent()[1], 2)

    def test_control_two_runs_without_lock_collide(self):
        """Without the row lock and the check of what was committed, two
        runs that both read before either writes both render and email the
        same statements: only the unique constraint stops the second, which
        fails instead of skipping. The test above fails when the protection
        is missing."""

        def unlocked(self, contract_ids, date_from, date_to):
            return self.env["retainer.contract"].browse(contract_ids)

        # Where the second run trips depends on timing: on the unique
        # constraint (the run fails), or already on storing the same PDF
        # in the filestore (the job undoes that retainer's statement and
        # logs it). Either way the two runs collided.
        # (the job's log is kept here, not printed: an error logged during
        # a test counts as a failure)
        failures = []
        capture = mute_logger(RetainerStatement.__module__)
        capture.handle = failures.append
        with (
            patch.object(RetainerStatement, "_retainer_lock_unsent", unlocked),
            capture,
        ):
            errors = self._concurrently(self._send, self._send)
        # Only that collision counts: a statement failing for any other
        # reason would not show that the runs met.
        logged = [
            record
            for record in failures
            if "could not be sent" in record.getMessage()
            and record.exc_info
            and "collides with an existing file" in str(record.exc_info[1])
        ]
        self.assertTrue(errors or logged, "the two unprotected runs did not collide")
        other_errors = [
            record.getMessage()
            for record in failures
            if record.levelno >= logging.ERROR and record not in logged
        ]
        self.assertFalse(other_errors)
        for error in errors:
            self.assertIn("A retainer has one statement per period", error)
        # The constraint keeps one statement per period whatever happened.
        self.assertEqual(
            self._sent()[0],
            [
                (date(2025, 1, 1), date(2025, 1, 31)),
                (date(2025, 2, 1), date(2025, 2, 28)),
            ],
        )
