from unittest.mock import patch

from odoo.tests import TransactionCase, tagged

from ..models.account_analytic_line import AccountAnalyticLine
from ..models.retainer_contract import RetainerContract
from .race import ConcurrentClientsMixin


@tagged("post_install", "-at_install", "defining_retainer")
class TestConcurrentIncident(ConcurrentClientsMixin, TransactionCase):
    """Two consultants log a 4-minute call on the same incident at the same
    moment, each in its own transaction (REPEATABLE READ, as Odoo runs
    requests), both having taken their snapshot before either writes.

    The incident's 8 minutes are one unit: whoever posts second must see
    the first's line and debit, or both charge the same rounding step. The
    control test shows the race charging twice without the bumped lock.
    """

    def setUp(self):
        super().setUp()
        self._commit_retainer(
            "Incident Race",
            8,
            "Two hours",
            contract_vals={"rounding_scope": "incident"},
            task_names=("Outage", "Outage, follow-up"),
            employee_names=("Racer A", "Racer B"),
        )

    def _race(self, same_task=True, ref=None):
        """Two concurrent 4-minute calls on the first task (on both tasks
        unless ``same_task``); return what the incident ``ref`` (default:
        the first task) is charged, the balance and the clients that were
        retried."""
        task_ids = self.ids["tasks"] if not same_task else self.ids["tasks"][:1] * 2
        ref = ref or f"project.task,{self.ids['tasks'][0]}"

        outcomes, serialization_failures, errors = self._run_clients(
            {
                name: self._log_job("Call", 4 / 60, employee_id=employee, task_id=task)
                for name, employee, task in zip(
                    "ab", self.ids["employees"], task_ids, strict=True
                )
            },
            self._read_balance,
            timeout=30,
        )
        self.assertFalse(errors)
        self.assertEqual([r for r, _v in outcomes.values()], ["ok", "ok"])
        with self._committed_env() as env:
            debits = env["retainer.ledger.entry"]._retainer_active_incident_debits(
                [self.ids["contract"]], [ref]
            )
            lines = env["account.analytic.line"].search_count(
                [("task_id", "in", task_ids)]
            )
            charged = -sum(debits.mapped("units"))
            contract = env["retainer.contract"].browse(self.ids["contract"])
            balance = contract.balance_units
        self.assertEqual(lines, 2)
        return charged, balance, serialization_failures

    def test_same_rounding_step_is_charged_once(self):
        charged, balance, failures = self._race()
        self.assertEqual(charged, 1, "8 minutes of one incident are one unit")
        self.assertEqual(balance, 7)
        # The later client could not go on from its old snapshot: it was
        # retried with the earlier one's line and debit.
        self.assertEqual(len(failures), 1)

    def _one_ticket(self):
        """What a support desk bridge does: both tasks' lines are one
        incident (a ticket), so the two clients write no common row but
        the retainer's."""
        return patch.object(
            AccountAnalyticLine,
            "_retainer_incident_refs",
            lambda lines: ["helpdesk.ticket,1"] * len(lines),
        )

    def test_same_rounding_step_of_a_ticket_is_charged_once(self):
        with self._one_ticket():
            charged, balance, failures = self._race(
                same_task=False, ref="helpdesk.ticket,1"
            )
        self.assertEqual(charged, 1)
        self.assertEqual(balance, 7)
        # Retried because of the retainer's bumped lock alone.
        self.assertEqual(len(failures), 1)

    def test_control_without_bumped_lock_charges_twice(self):
        """Locking without bumping the retainer row, the later client waits
        and then re-targets the incident from its old snapshot: both charge
        the first unit. The test above fails when the protection is
        missing."""
        lock = RetainerContract._lock_for_posting

        def lock_without_bump(contracts, bump=False):
            return lock(contracts, bump=False)

        with (
            self._one_ticket(),
            patch.object(RetainerContract, "_lock_for_posting", lock_without_bump),
        ):
            charged, balance, failures = self._race(
                same_task=False, ref="helpdesk.ticket,1"
            )
        self.assertEqual(charged, 2)
        self.assertEqual(balance, 6)
        self.assertFalse(failures)
