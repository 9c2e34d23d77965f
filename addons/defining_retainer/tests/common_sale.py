from odoo import Command, fields
from odoo.tests import new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .common import RetainerFixturesMixin


class RetainerSaleCommon(RetainerFixturesMixin, AccountTestInvoicingCommon):
    """A company with a chart of accounts, retainer products (day, hour,
    5-day pack, overage hour), a customer with no retainer yet, a
    salesperson, an accountant without sales rights and a retainer manager
    (the default test user)."""

    @classmethod
    def get_default_groups(cls):
        return (
            super().get_default_groups()
            | cls.env.ref("defining_retainer.group_retainer_manager")
            | cls.env.ref("sales_team.group_sale_manager")
        )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.company_data["company"]
        cls.company.write(
            {
                "retainer_rounding_method": "grace",
                "retainer_rounding_unit_minutes": 15,
                "retainer_rounding_grace_minutes": 5,
                "retainer_rounding_min_units": 1,
                "retainer_day_hours": 7.0,
                "retainer_overdraft_policy": "allow",
                "retainer_audit_required": False,
                "retainer_credit_trigger": "confirm",
                "retainer_topup_document": "quotation",
                "retainer_overdraft_mode": "invoice",
                "retainer_overdraft_auto_invoice": False,
            }
        )
        cls.level = cls.env["retainer.level"].create(
            {"name": "Sale test remote", "allow_phone": True, "allow_remote": True}
        )
        cls.level_onsite = cls.env["retainer.level"].create(
            {
                "name": "Sale test on-site",
                "allow_phone": True,
                "allow_remote": True,
                "allow_onsite": True,
            }
        )
        retainer_vals = {
            "type": "service",
            "service_tracking": "no",
            "invoice_policy": "order",
            "service_type": "manual",
            "uom_id": cls.env.ref("uom.product_uom_unit").id,
            "uom_po_id": cls.env.ref("uom.product_uom_unit").id,
        }
        cls.product_day = cls._create_product(
            name="Test retainer day",
            list_price=700.0,
            retainer_units=28,
            **retainer_vals,
        )
        cls.product_hour = cls._create_product(
            name="Test retainer hour",
            list_price=110.0,
            retainer_units=4,
            **retainer_vals,
        )
        cls.product_pack = cls._create_product(
            name="Test retainer pack",
            list_price=3325.0,
            retainer_units=140,
            retainer_level_id=cls.level_onsite.id,
            **retainer_vals,
        )
        hour_uom = cls.env.ref("uom.product_uom_hour")
        cls.product_overage = cls._create_product(
            name="Test overage hour",
            list_price=120.0,
            type="service",
            service_tracking="no",
            invoice_policy="order",
            uom_id=hour_uom.id,
            uom_po_id=hour_uom.id,
        )
        cls.product_consulting = cls._create_product(
            name="Test consulting",
            list_price=90.0,
            type="service",
            service_tracking="no",
            invoice_policy="order",
        )
        cls.company.write(
            {
                "retainer_day_product_id": cls.product_day.id,
                "retainer_hour_product_id": cls.product_hour.id,
                "retainer_overage_product_id": cls.product_overage.id,
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {"name": "Acme Dental Test", "is_company": True}
        )
        cls.customer_contact = cls.env["res.partner"].create(
            {"name": "Ada Acme", "parent_id": cls.customer.id}
        )
        user_vals = {
            "company_id": cls.company.id,
            "company_ids": [Command.set(cls.company.ids)],
        }
        cls.salesman = new_test_user(
            cls.env,
            login="retainer_sale_salesman",
            groups="sales_team.group_sale_salesman",
            name="Sam Salesman",
            **user_vals,
        )
        cls.accountant = new_test_user(
            cls.env,
            login="retainer_sale_accountant",
            groups="account.group_account_invoice",
            name="Alex Accountant",
            **user_vals,
        )

    # === HELPERS === #

    @classmethod
    def _create_contract(cls, partner=None, level=None, units=0, **vals):
        return super()._create_contract(
            partner or cls.customer,
            level or cls.level,
            units,
            **({"company_id": cls.company.id} | vals),
        )

    def _order(self, lines, partner=None, user=None, confirm=True, **vals):
        """Create (and confirm) an order of ``lines`` [(product, qty), ...]
        as ``user`` (the salesperson by default)."""
        user = user or self.salesman
        order = (
            self.env["sale.order"]
            .with_user(user)
            .create(
                {
                    "partner_id": (partner or self.customer).id,
                    "order_line": [
                        Command.create(
                            {"product_id": product.id, "product_uom_qty": qty}
                        )
                        for product, qty in lines
                    ],
                }
                | vals
            )
        )
        if confirm:
            order.action_confirm()
        return order.with_user(self.env.user)

    def _invoice(self, order, post=True, user=None):
        user = user or self.accountant
        invoice = order.with_user(user)._create_invoices()
        if post:
            invoice.action_post()
        return invoice.with_user(self.env.user)

    def _pay(self, invoice, amount=None, user=None):
        """Register a payment of ``amount`` (all by default) on ``invoice``
        through the Register Payment wizard, as ``user`` (the accountant)."""
        vals = {"payment_date": invoice.invoice_date}
        if amount is not None:
            vals["amount"] = amount
        return (
            self.env["account.payment.register"]
            .with_user(user or self.accountant)
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(vals)
            ._create_payments()
        )

    def _refund(self, invoice, user=None):
        """Issue and post a full credit note through the reversal wizard."""
        wizard = (
            self.env["account.move.reversal"]
            .with_user(user or self.accountant)
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"reason": "Refund", "journal_id": invoice.journal_id.id})
        )
        action = wizard.refund_moves()
        refund = self.env["account.move"].browse(action["res_id"])
        refund.with_user(user or self.accountant).action_post()
        return refund

    def _refund_lines(self, invoice, keep=None, **line_vals):
        """Post a credit note of ``invoice`` made with the reversal wizard,
        keeping only the lines whose product is in ``keep`` (all by
        default), with ``line_vals`` written on them."""
        wizard = (
            self.env["account.move.reversal"]
            .with_user(self.accountant)
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"reason": "Price cut", "journal_id": invoice.journal_id.id})
        )
        refund = self.env["account.move"].browse(wizard.refund_moves()["res_id"])
        lines = refund.invoice_line_ids
        if keep is not None:
            refund.invoice_line_ids = [
                Command.unlink(line.id)
                for line in lines.filtered(lambda line: line.product_id not in keep)
            ]
        if line_vals:
            refund.invoice_line_ids.write(line_vals)
        refund.with_user(self.accountant).action_post()
        return refund

    def _balance(self, contract):
        return self.env["retainer.ledger.entry"]._retainer_totals(contract.ids)[
            contract.id
        ]["balance"]

    def _credits(self, contract):
        return self.env["retainer.ledger.entry"].search(
            [("contract_id", "=", contract.id), ("kind", "=", "credit")], order="id"
        )

    def _set_trigger(self, trigger):
        self.company.retainer_credit_trigger = trigger

    @staticmethod
    def _today():
        return fields.Date.today()
