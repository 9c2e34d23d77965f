from odoo import Command
from odoo.tests import tagged

from .common_field_access import FieldAccessMixin
from .common_sale import RetainerSaleCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestFieldAccess(FieldAccessMixin, RetainerSaleCommon):
    field_access_module = "defining_retainer"
    # The checks are the mixin's (shared with the portal addon's fields).
    allow_inherited_tests_method = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        other_company = cls.env["res.company"].create({"name": "Field Access Co B"})
        cls._setup_field_access_roles(cls.company, other_company)
        users = cls.role_users
        contract = cls._create_contract(units=56)
        project = cls._create_project(contract)
        employee = cls.env["hr.employee"].create(
            {"name": "Timesheet role", "user_id": users["timesheet"].id}
        )
        task = cls.env["project.task"].create(
            {
                "name": "Field access task",
                "project_id": project.id,
                "user_ids": [Command.set(users["timesheet"].ids)],
            }
        )
        timesheet = (
            cls.env["account.analytic.line"]
            .with_user(users["timesheet"])
            .create(
                {
                    "project_id": project.id,
                    "task_id": task.id,
                    "name": "Field access work",
                    "unit_amount": 1.0,
                    "employee_id": employee.id,
                }
            )
        )
        order = (
            cls.env["sale.order"]
            .with_user(users["salesman"])
            .create(
                {
                    "partner_id": cls.customer.id,
                    "order_line": [
                        Command.create(
                            {"product_id": cls.product_day.id, "product_uom_qty": 1}
                        )
                    ],
                }
            )
        )
        order.action_confirm()
        order = order.with_user(cls.env.user)
        invoice = cls._invoice_as(order, users["billing"])
        technology = cls.env["retainer.technology"].create(
            {
                "name": "Windows Server",
                "category": "software",
                "company_id": cls.company.id,
            }
        )
        audit_line = cls.env["retainer.audit.line"].create(
            {
                "contract_id": contract.id,
                "name": "Windows Server",
                "technology_id": technology.id,
            }
        )
        cls.field_access_samples = {
            "res.company": cls.company,
            "product.template": cls.product_day.product_tmpl_id,
            "project.project": project,
            "project.task": task,
            "account.analytic.line": timesheet.with_user(cls.env.user),
            "sale.order": order,
            "sale.order.line": order.order_line,
            "account.move": invoice,
            "account.move.line": invoice.invoice_line_ids[:1],
            "retainer.contract": contract,
            "retainer.level": cls.env["retainer.level"].create(
                {"name": "Field access level", "company_id": cls.company.id}
            ),
            "retainer.audit.line": audit_line,
            "retainer.technology": technology,
            "retainer.audit": audit_line.audit_id,
            "retainer.audit.finding": cls.env["retainer.audit.finding"].create(
                {
                    "audit_id": audit_line.audit_id.id,
                    "severity": "warning",
                    "name": "Backups untested",
                }
            ),
        }
        managers = frozenset({"retainer_manager", "admin"})
        cls.field_access_writers = {
            # Odoo's rules: a settings administrator manages every company,
            # and a product shared by the companies is edited from any.
            "res.company": frozenset({"admin", "other_company"}),
            "product.template": frozenset({"admin", "other_company"}),
            "project.project": frozenset({"admin"}),
            # Tasks are the project users'; a timesheet-only user reads them.
            "project.task": frozenset({"admin"}),
            # Their own timesheet for whoever logs time.
            "account.analytic.line": frozenset(
                {"timesheet", "retainer_manager", "admin"}
            ),
            # The salesperson's own order (and what billing may do on it).
            "sale.order": frozenset({"salesman", "admin"}),
            "sale.order.line": frozenset({"salesman", "admin"}),
            "account.move": frozenset({"billing", "admin"}),
            "account.move.line": frozenset({"billing", "admin"}),
            "retainer.contract": managers,
            "retainer.level": managers,
            "retainer.audit.line": managers,
            "retainer.technology": managers,
            "retainer.audit": managers,
            "retainer.audit.finding": managers,
        }
        # The accounts of a company are its own: another company's
        # administrator cannot even read them.
        cls.field_access_field_writers = {
            ("res.company", fname): frozenset({"admin"})
            for fname in (
                "retainer_breakage_account_id",
                "retainer_defer_revenue",
                "retainer_deferred_account_id",
                "retainer_revenue_account_id",
                "retainer_revenue_journal_id",
            )
        }
        cls.field_access_client_values = {("retainer.contract", "state"): "closed"}
        cls.field_access_reviewed = {
            ("retainer.contract", "name"): "the reference, a label",
            ("retainer.contract", "access_token"): "portal.mixin's share token",
            ("retainer.audit.line", "company_id"): "its retainer's company",
            ("retainer.audit.line", "supported"): "follows its support status",
            ("retainer.audit.line", "support_rank"): "follows its support status",
            ("retainer.audit", "name"): "a label",
            ("retainer.audit", "company_id"): "its retainer's company",
            ("retainer.audit.finding", "company_id"): "its audit's company",
            ("project.task", "retainer_asset_category"): "its asset's category",
        }
        new_customer = cls.env["res.partner"].create(
            {"name": "Field Access Customer", "is_company": True}
        )
        cls.field_access_create_vals = {
            "sale.order": (
                "salesman",
                {
                    "partner_id": cls.customer.id,
                    "order_line": [
                        Command.create(
                            {
                                "product_id": cls.product_consulting.id,
                                "product_uom_qty": 3,
                            }
                        )
                    ],
                },
            ),
            "sale.order.line": (
                "salesman",
                {"order_id": order.id, "product_id": cls.product_day.id},
            ),
            "account.move": (
                "billing",
                {"move_type": "out_invoice", "partner_id": cls.customer.id},
            ),
            "account.analytic.line": (
                "timesheet",
                {
                    "project_id": project.id,
                    "name": "More work",
                    "unit_amount": 0.5,
                    "employee_id": employee.id,
                },
            ),
            "retainer.contract": (
                "retainer_manager",
                {"partner_id": new_customer.id, "level_id": cls.level.id},
            ),
        }

    @classmethod
    def _invoice_as(cls, order, user):
        return order.with_user(user)._create_invoices().with_user(cls.env.user)


@tagged("post_install", "-at_install", "defining_retainer")
class TestServerFieldScenarios(RetainerSaleCommon):
    """What the server fields protect, as the holes were found: each would
    have minted units or charged a card."""

    def test_salesperson_cannot_raise_the_units_a_line_credits(self):
        order = self._order([(self.product_day, 1)], user=self.salesman)
        contract = order.retainer_id
        self.assertEqual(self._balance(contract), 28)
        line = order.order_line.with_user(self.salesman)
        # A confirmed one-day line raised to 2,800 units.
        line.write({"retainer_product_units": 100})
        self.assertEqual(self._balance(contract), 28)
        self.assertEqual(line.retainer_product_units, 28)
        # A 0.00 line of unrelated goods claiming 400 units.
        order.with_user(self.salesman).write(
            {
                "order_line": [
                    Command.create(
                        {
                            "product_id": self.product_consulting.id,
                            "price_unit": 0.0,
                            "retainer_product_units": 400,
                        }
                    )
                ]
            }
        )
        self.assertEqual(self._balance(contract), 28)

    def test_salesperson_cannot_choose_when_units_are_credited(self):
        self._set_trigger("paid")
        order = self._order(
            [(self.product_day, 10)],
            user=self.salesman,
            retainer_credit_trigger="confirm",
        )
        self.assertEqual(order.retainer_credit_trigger, "paid")
        self.assertEqual(self._balance(order.retainer_id), 0)
        order.with_user(self.salesman).write({"retainer_credit_trigger": "confirm"})
        order.order_line._retainer_sync_credits()
        self.assertEqual(order.retainer_credit_trigger, "paid")
        self.assertEqual(self._balance(order.retainer_id), 0)

    def test_salesperson_cannot_mark_an_order_to_charge(self):
        order = self._order(
            [(self.product_consulting, 190)],
            user=self.salesman,
            confirm=False,
            retainer_auto_topup_state="to_charge",
            retainer_topup_origin="auto",
        )
        order.with_user(self.salesman).write({"retainer_auto_topup_state": "to_charge"})
        self.assertFalse(order.retainer_auto_topup_state)
        self.assertEqual(order.retainer_topup_origin, "sale")
        charged = self.env["sale.order"]._cron_retainer_auto_topups()
        self.assertNotIn(order, charged)

    def test_billing_user_cannot_post_an_overdraft_credit(self):
        contract = self._create_contract(units=10)
        invoice = (
            self.env["account.move"]
            .with_user(self.accountant)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.customer.id,
                    "retainer_overdraft_id": contract.id,
                    "retainer_overdraft_units": 1000,
                    "retainer_overdraft_product_id": self.product_overage.id,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": self.product_overage.id,
                                "quantity": 1000,
                                "price_unit": 0.0,
                            }
                        )
                    ],
                }
            )
        )
        invoice.with_user(self.accountant).action_post()
        self.assertFalse(invoice.retainer_overdraft_id)
        self.assertEqual(invoice.retainer_overdraft_units, 0)
        self.assertEqual(self._balance(contract), 10)
