from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from ..models.retainer_revenue_line import RetainerRevenueLine
from ..tools.server_values import server_values
from .race import ConcurrentClientsMixin

REVENUE_SETTINGS = (
    "retainer_defer_revenue",
    "retainer_recognized_until",
    "retainer_credit_trigger",
)


@tagged("post_install", "-at_install", "defining_retainer")
class TestConcurrentRecognition(ConcurrentClientsMixin, TransactionCase):
    """The recognition run racing itself, timesheets and the expiry job,
    each in its own transaction (REPEATABLE READ, as Odoo runs requests and
    scheduled jobs) that takes its snapshot before any of them writes.

    The fixtures are committed: a customer who bought a day (28 units for
    700.00, deferred, 25.00 a unit, valid one month) 70 days ago and used
    an hour (4 units) of it; the block has expired, the expiry job has not
    run. The control test shows what happens without the company-row lock.
    """

    def setUp(self):
        super().setUp()
        self.today = fields.Date.context_today(self.env["res.company"])
        self.cutoff = self.today - timedelta(days=1)
        start = self.today - timedelta(days=70)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            company = env.ref("base.main_company")
            self.saved = {fname: company[fname] for fname in REVENUE_SETTINGS}
            company._retainer_setup_revenue_accounts()
            company.write(
                {"retainer_defer_revenue": True, "retainer_credit_trigger": "confirm"}
            )
            if company.retainer_recognized_until:
                # Runs only go forward: this test's runs are for yesterday.
                with server_values():
                    company.retainer_recognized_until = min(
                        company.retainer_recognized_until, self.cutoff
                    )
            partner = env["res.partner"].create(
                {"name": "Revenue Race Ltd", "is_company": True}
            )
            product = env["product.product"].create(
                {
                    "name": "Race retainer day",
                    "type": "service",
                    "invoice_policy": "order",
                    "list_price": 700.0,
                    "taxes_id": False,
                    "retainer_units": 28,
                    "retainer_validity_months": 1,
                }
            )
            with freeze_time(start):
                order = env["sale.order"].create(
                    {
                        "partner_id": partner.id,
                        "order_line": [
                            fields.Command.create(
                                {"product_id": product.id, "product_uom_qty": 1}
                            )
                        ],
                    }
                )
                order.action_confirm()
                invoice = order._create_invoices()
                invoice.invoice_date = start
                invoice.action_post()
            contract = order.retainer_id
            project = env["project.project"].create(
                {
                    "name": "Revenue race project",
                    "partner_id": partner.id,
                    "allow_timesheets": True,
                    "retainer_id": contract.id,
                }
            )
            employee = env["hr.employee"].create({"name": "Revenue race consultant"})
            self.ids = {
                "company": company.id,
                "partner": partner.id,
                "product": product.id,
                "order": order.id,
                "invoice": invoice.id,
                "contract": contract.id,
                "project": project.id,
                "employee": employee.id,
            }
            self._log_on(start + timedelta(days=5))(env)
        self.addCleanup(self._drop_fixtures)

    def _drop_fixtures(self):
        ids = self.ids
        with self.registry.cursor() as cr:
            # Posted entries and the ledger refuse deletion by design.
            cr.execute(
                SQL(
                    "SELECT array_agg(DISTINCT move_id) FROM account_move_line "
                    "WHERE partner_id = %s",
                    ids["partner"],
                )
            )
            move_ids = cr.fetchone()[0] or [0]
            for query in (
                SQL(
                    "DELETE FROM retainer_revenue_line WHERE contract_id = %s",
                    ids["contract"],
                ),
                SQL("DELETE FROM account_move WHERE id = ANY(%s)", move_ids),
                SQL(
                    "DELETE FROM retainer_ledger_entry WHERE contract_id = %s",
                    ids["contract"],
                ),
                SQL(
                    "DELETE FROM account_analytic_line WHERE project_id = %s",
                    ids["project"],
                ),
                SQL("DELETE FROM sale_order WHERE id = %s", ids["order"]),
            ):
                cr.execute(query)
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["project.project"].browse(ids["project"]).unlink()
            env["retainer.contract"].browse(ids["contract"]).unlink()
            env["hr.employee"].browse(ids["employee"]).unlink()
            env["product.product"].browse(ids["product"]).unlink()
            env["res.partner"].browse(ids["partner"]).unlink()
            company = env["res.company"].browse(ids["company"])
            company.write(
                {
                    fname: value.id if hasattr(value, "_name") else value
                    for fname, value in self.saved.items()
                    if fname != "retainer_recognized_until"
                }
            )
            cr.execute(
                SQL(
                    "UPDATE res_company SET retainer_recognized_until = %s "
                    "WHERE id = %s",
                    self.saved["retainer_recognized_until"] or None,
                    ids["company"],
                )
            )

    # === CLIENTS === #

    def _snapshot(self, env):
        env["res.company"].browse(self.ids["company"]).read(
            ["retainer_recognized_until"]
        )

    def _recognize(self, env):
        company = env["res.company"].browse(self.ids["company"])
        env["retainer.revenue.line"]._retainer_recognize(self.cutoff, company)

    def _recognised(self):
        """``(number of entries, values recognised per kind)``."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            lines = env["retainer.revenue.line"].search(
                [("contract_id", "=", self.ids["contract"])]
            )
            values = {}
            for line in lines:
                values[line.kind] = values.get(line.kind, 0.0) + line.value
            return len(lines.move_id), values

    # === TESTS === #

    def test_two_runs_at_once_recognise_once(self):
        self.assertFalse(self._concurrently(self._recognize, self._recognize))
        self.assertEqual(self._recognised(), (1, {"usage": 100.0}))

    def test_control_two_runs_without_lock_collide(self):
        """Without the company-row lock, two runs that both read before
        either posts both try to recognise the same hour: the second is
        only stopped by Odoo's unique entry number, and fails instead of
        waiting and finding nothing left to do. The test above fails when
        the protection is missing."""
        with patch.object(
            RetainerRevenueLine,
            "_retainer_lock_recognition",
            lambda self, companies, cutoff: None,
        ):
            errors = self._concurrently(self._recognize, self._recognize)
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("Another entry with the same name already exists", errors[0])
        self.assertEqual(self._recognised(), (1, {"usage": 100.0}))

    def test_run_racing_timesheets_misses_nothing(self):
        work_date = self.today - timedelta(days=60)
        self.assertFalse(self._concurrently(self._recognize, self._log_on(work_date)))
        # The run saw the new hour or not; the next one completes it.
        self.assertFalse(self._concurrently(self._recognize))
        entries, values = self._recognised()
        self.assertEqual(values, {"usage": 200.0})
        self.assertLessEqual(entries, 2)

    def test_run_racing_the_expiry_job_misses_nothing(self):
        self.assertFalse(self._concurrently(self._recognize, self._expire))
        self.assertFalse(self._concurrently(self._recognize))
        entries, values = self._recognised()
        # 4 units used (100.00), 24 expired (600.00): the whole 700.00.
        self.assertEqual(values, {"usage": 100.0, "breakage": 600.0})
        self.assertLessEqual(entries, 2)
