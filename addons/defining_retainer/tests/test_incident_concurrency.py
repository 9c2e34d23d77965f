from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

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
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            partner = env["res.partner"].create(
                {"name": "Incident Race Ltd", "is_company": True}
            )
            level = env["retainer.level"].create({"name": "Incident race level"})
            contract = env["retainer.contract"].create(
                {
                    "partner_id": partner.id,
                    "level_id": level.id,
                    "rounding_scope": "incident",
                }
            )
            contract._post_manual_entry("credit", 8, "Two hours")
            project = env["project.project"].create(
                {
                    "name": "Incident race project",
                    "partner_id": partner.id,
                    "allow_timesheets": True,
                    "retainer_id": contract.id,
                }
            )
            tasks = env["project.task"].create(
                [
                    {"name": "Outage", "project_id": project.id},
                    {"name": "Outage, follow-up", "project_id": project.id},
                ]
            )
            employees = env["hr.employee"].create(
                [{"name": "Racer A"}, {"name": "Racer B"}]
            )
            self.ids = {
                "partner": partner.id,
                "level": level.id,
                "contract": contract.id,
                "project": project.id,
                "tasks": tasks.ids,
                "employees": employees.ids,
            }
        self.addCleanup(self._drop_fixtures)

    def _drop_fixtures(self):
        ids = self.ids
        with self.registry.cursor() as cr:
            # The ledger refuses deletion through the ORM by design.
            cr.execute(
                SQL(
                    "DELETE FROM retainer_ledger_entry WHERE contract_id = %s",
                    ids["contract"],
                )
            )
            cr.execute(
                SQL(
                    "DELETE FROM account_analytic_line WHERE project_id = %s",
                    ids["project"],
                )
            )
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["project.task"].browse(ids["tasks"]).unlink()
            env["project.project"].browse(ids["project"]).unlink()
            env["retainer.contract"].browse(ids["contract"]).unlink()
            env["retainer.level"].browse(ids["level"]).unlink()
            env["hr.employee"].browse(ids["employees"]).unlink()
            env["res.partner"].browse(ids["partner"]).unlink()

    def _race(self, same_task=True, ref=None):
        """Two concurrent 4-minute calls on the first task (on both tasks
        unless ``same_task``); return what the incident ``ref`` (default:
        the first task) is charged, the balance and the clients that were
        retried."""
        task_ids = self.ids["tasks"] if not same_task else self.ids["tasks"][:1] * 2
        ref = ref or f"project.task,{self.ids['tasks'][0]}"

        def read_balance(env):
            # Reading the balance takes the transaction's snapshot.
            return env["retainer.contract"].browse(self.ids["contract"]).balance_units

        def call(employee_id, task_id):
            def log(env):
                return (
                    env["account.analytic.line"]
                    .create(
                        {
                            "project_id": self.ids["project"],
                            "task_id": task_id,
                            "employee_id": employee_id,
                            "name": "Call",
                            "unit_amount": 4 / 60,
                        }
                    )
                    .id
                )

            return log

        outcomes, serialization_failures, errors = self._run_clients(
            dict(zip("ab", map(call, self.ids["employees"], task_ids), strict=True)),
            read_balance,
            timeout=30,
        )
        self.assertFalse(errors)
        self.assertEqual([r for r, _v in outcomes.values()], ["ok", "ok"])
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
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
