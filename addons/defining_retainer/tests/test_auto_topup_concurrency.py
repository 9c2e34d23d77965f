from odoo import SUPERUSER_ID, api, fields
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from .race import ConcurrentClientsMixin

CRON = "defining_retainer.ir_cron_retainer_auto_topup_charge"


@tagged("post_install", "-at_install", "defining_retainer")
class TestConcurrentAutoTopup(ConcurrentClientsMixin, TransactionCase):
    """Two consultants log an hour at the same moment on a retainer of 8
    units whose automatic top-up orders at 4 units or fewer, each in their
    own transaction (as on two Odoo nodes), both having read the retainer
    before either writes: one order, not two."""

    def setUp(self):
        super().setUp()
        # Real, separate connections: the fixtures must be committed.
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            partner = env["res.partner"].create(
                {"name": "Auto Top-up Race Ltd", "is_company": True}
            )
            level = env["retainer.level"].create({"name": "Auto top-up race level"})
            product = env["product.product"].create(
                {
                    "name": "Auto top-up race day",
                    "type": "service",
                    "service_tracking": "no",
                    "service_type": "manual",
                    "invoice_policy": "order",
                    "list_price": 700.0,
                    "retainer_units": 28,
                }
            )
            contract = env["retainer.contract"].create(
                {
                    "partner_id": partner.id,
                    "level_id": level.id,
                    "overdraft_policy": "allow",
                    "low_balance_units": 0,
                    "auto_topup": True,
                    "auto_topup_threshold_units": 4,
                    "auto_topup_product_id": product.id,
                    "auto_topup_quantity": 1,
                }
            )
            contract._post_manual_entry("credit", 8, "Two hours")
            project = env["project.project"].create(
                {
                    "name": "Auto top-up race project",
                    "partner_id": partner.id,
                    "allow_timesheets": True,
                    "retainer_id": contract.id,
                }
            )
            employee = env["hr.employee"].create({"name": "Auto top-up consultant"})
            self.ids = {
                "partner": partner.id,
                "level": level.id,
                "product": product.id,
                "contract": contract.id,
                "project": project.id,
                "employee": employee.id,
                "cron": env.ref(CRON).id,
            }
        self.addCleanup(self._drop_fixtures)

    def _drop_fixtures(self):
        ids = self.ids
        with self.registry.cursor() as cr:
            # The ledger refuses deletion through the ORM by design.
            for query, key in (
                (
                    "DELETE FROM retainer_ledger_entry WHERE contract_id = %s",
                    "contract",
                ),
                ("DELETE FROM account_analytic_line WHERE project_id = %s", "project"),
                ("DELETE FROM sale_order WHERE partner_id = %s", "partner"),
                ("DELETE FROM ir_cron_trigger WHERE cron_id = %s", "cron"),
            ):
                cr.execute(SQL(query, ids[key]))
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["project.project"].browse(ids["project"]).unlink()
            env["retainer.contract"].browse(ids["contract"]).unlink()
            env["retainer.level"].browse(ids["level"]).unlink()
            env["hr.employee"].browse(ids["employee"]).unlink()
            env["product.product"].browse(ids["product"]).product_tmpl_id.unlink()
            env["res.partner"].browse(ids["partner"]).unlink()

    def _snapshot(self, env):
        env["retainer.contract"].browse(self.ids["contract"]).read(
            ["balance_units", "auto_topup_triggered"]
        )

    def test_two_postings_across_the_threshold_order_once(self):
        today = fields.Date.context_today(self.env["retainer.contract"])
        errors = self._concurrently(self._log_on(today), self._log_on(today))
        self.assertFalse(errors)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            contract = env["retainer.contract"].browse(self.ids["contract"])
            orders = env["sale.order"].search([("retainer_id", "=", contract.id)])
            debits = contract.ledger_entry_ids.filtered(lambda e: e.kind == "debit")
            self.assertEqual(len(debits), 2, "both hours are logged")
            self.assertEqual(contract.balance_units, 0)
            self.assertEqual(len(orders), 1, "one crossing, one order")
            self.assertEqual(orders.retainer_topup_origin, "auto")
            self.assertTrue(contract.auto_topup_triggered)
