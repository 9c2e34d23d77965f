from odoo import Command
from odoo.tests import new_test_user

from .common_sale import RetainerSaleCommon


class RetainerRevenueCommon(RetainerSaleCommon):
    """A company that defers retainer revenue (deferred, revenue and
    breakage accounts, a miscellaneous journal), a consultant and a project
    per retainer, and an accounting manager who runs the recognition."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.deferred = cls.company.retainer_deferred_account_id
        cls.revenue = cls.company.retainer_revenue_account_id
        cls.breakage = cls.env["account.account"].create(
            {
                "name": "Retainer breakage",
                "code": "RETBRK",
                "account_type": "income_other",
                "company_ids": [Command.set(cls.company.ids)],
            }
        )
        cls.company.write(
            {
                "retainer_defer_revenue": True,
                "retainer_breakage_account_id": cls.breakage.id,
            }
        )
        cls.employee = cls.env["hr.employee"].create(
            {"name": "Riley Revenue", "company_id": cls.company.id}
        )
        cls.account_manager = new_test_user(
            cls.env,
            login="retainer_revenue_manager",
            groups="account.group_account_manager",
            name="Avery Adviser",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )

    # === HELPERS === #

    def _sell(self, qty=2, price=None, discount=0.0, invoice_date=None, **order_vals):
        """Sell ``qty`` retainer days, invoice and post them (dated
        ``invoice_date``); return ``(order, invoice)``."""
        order = self._order([(self.product_day, qty)], confirm=False, **order_vals)
        line_vals = {"discount": discount}
        if price is not None:
            line_vals["price_unit"] = price
        order.order_line.write(line_vals)
        order.action_confirm()
        invoice = self._invoice(order, post=False)
        invoice.invoice_date = invoice_date or self._today()
        invoice.with_user(self.accountant).action_post()
        return order, invoice

    def _log_on(self, contract, hours, work_date):
        project = self.env["project.project"].search(
            [("retainer_id", "=", contract.id)], limit=1
        ) or self._create_project(contract)
        return self.env["account.analytic.line"].create(
            {
                "project_id": project.id,
                "employee_id": self.employee.id,
                "name": "Support work",
                "unit_amount": hours,
                "date": work_date,
            }
        )

    def _recognize(self, cutoff):
        return (
            self.env["retainer.revenue.line"]
            .with_user(self.account_manager)
            ._retainer_recognize(cutoff, self.company)
        )

    def _lines(self, move):
        """Journal items of ``move`` as (account, partner, balance), in a
        stable order (see :meth:`_items`)."""
        return self._items(
            (line.account_id, line.partner_id, line.balance) for line in move.line_ids
        )

    @staticmethod
    def _items(items):
        return sorted(
            ((account.id, partner.id, balance) for account, partner, balance in items)
        )

    def _deferred_balance(self, at):
        lines = self.env["account.move.line"].search(
            [
                ("account_id", "=", self.deferred.id),
                ("parent_state", "=", "posted"),
                ("date", "<=", at),
            ]
        )
        return self.company.currency_id.round(-sum(lines.mapped("balance")))

    def _report(self, at, date_from=None):
        report = self.env["retainer.deferred.revenue.report"].create(
            {
                "date": at,
                "date_from": date_from or at.replace(day=1),
                "company_id": self.company.id,
            }
        )
        report.action_compute()
        return report

    def _assert_books_agree(self, at, expected):
        """At ``at``: the report's deferred total, the deferred account and
        the sum of remaining units x unit value all equal ``expected``."""
        report = self._report(at)
        unearned = sum(
            pool.unearned
            for pool in self.env["retainer.revenue.line"]
            ._retainer_pools(at, companies=self.company)
            .values()
        )
        self.assertEqual(
            (
                round(report.deferred_value, 2),
                self._deferred_balance(at),
                round(unearned, 2),
                report.difference,
            ),
            (expected, expected, expected, 0.0),
            f"books at {at}",
        )
        return report
