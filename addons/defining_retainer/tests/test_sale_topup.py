import logging

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common_sale import RetainerSaleCommon

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install", "defining_retainer")
class TestSaleTopup(RetainerSaleCommon):
    """Retainer products, and confirming orders that sell them."""

    # === Products === #

    def test_default_products(self):
        units = self.env.ref("uom.product_uom_unit")
        for xmlid, retainer_units, price, uom in (
            ("defining_retainer.product_retainer_day", 28, 700.0, "day"),
            ("defining_retainer.product_retainer_hour", 4, 110.0, "hour"),
            ("defining_retainer.product_retainer_pack", 140, 3325.0, "pack"),
        ):
            product = self.env.ref(xmlid)
            self.assertEqual(product.retainer_units, retainer_units)
            self.assertEqual(product.list_price, price)
            # A unit that says what it sells, counted like Units: never
            # Odoo's 8-hour Day.
            self.assertEqual(
                product.uom_id, self.env.ref(f"defining_retainer.uom_retainer_{uom}")
            )
            self.assertEqual(product.uom_id.category_id, units.category_id)
            self.assertEqual(product.uom_id.factor, units.factor)
            self.assertEqual(product.service_tracking, "no")
            self.assertEqual(product.invoice_policy, "order")
            self.assertNotEqual(product.service_type, "timesheet")
        overage = self.env.ref("defining_retainer.product_retainer_overage")
        self.assertEqual(overage.retainer_units, 0)
        self.assertEqual(overage.uom_id, self.env.ref("uom.product_uom_hour"))

    def test_product_negative_units_refused(self):
        with self.assertRaisesRegex(
            ValidationError, "cannot credit a negative number of retainer units"
        ):
            self.product_day.retainer_units = -1

    def test_product_zero_units_is_not_retainer(self):
        self.product_consulting.retainer_units = 0
        order = self._order([(self.product_consulting, 3)])
        self.assertFalse(order.retainer_id)
        self.assertEqual(self._ledger_count(), 0)

    def test_product_must_be_plain_prepaid_service(self):
        for vals in (
            {"service_tracking": "task_in_project"},
            {"invoice_policy": "delivery"},
            {"service_type": "timesheet"},
            {"type": "consu"},
        ):
            with (
                self.subTest(vals=vals),
                self.assertRaisesRegex(
                    ValidationError, "must be a service invoiced on ordered quantit"
                ),
            ):
                self.product_day.write(vals)

    def test_product_onchange_forces_service_values(self):
        template = self.env["product.template"].new(
            {
                "name": "New block",
                "type": "service",
                "service_tracking": "task_in_project",
                "invoice_policy": "delivery",
                "service_type": "timesheet",
            }
        )
        template.retainer_units = 8
        template._onchange_retainer_units()
        self.assertRecordValues(
            template,
            [
                {
                    "type": "service",
                    "service_tracking": "no",
                    "invoice_policy": "order",
                    "service_type": "manual",
                }
            ],
        )

    # === Confirmation === #

    def test_confirm_creates_retainer(self):
        projects = self.env["project.project"].search_count([])
        tasks = self.env["project.task"].search_count([])
        order = self._order([(self.product_day, 2)], partner=self.customer_contact)
        contract = order.retainer_id
        self.assertTrue(contract)
        self.assertEqual(contract.partner_id, self.customer)
        self.assertEqual(contract.company_id, self.company)
        self.assertEqual(
            contract.level_id,
            self.env["retainer.contract"]
            .with_company(self.company)
            ._default_level_id(),
        )
        self.assertEqual(contract.state, "active")
        self.assertEqual(self._balance(contract), 56)
        credit = self._credits(contract)
        self.assertRecordValues(
            credit, [{"units": 56, "sale_line_id": order.order_line.id}]
        )
        self.assertEqual(order.order_line.retainer_credited_units, 56)
        self.assertEqual(order.retainer_credit_trigger, "confirm")
        # No project or task is generated for retainer lines.
        self.assertEqual(self.env["project.project"].search_count([]), projects)
        self.assertEqual(self.env["project.task"].search_count([]), tasks)
        self.assertFalse(order.order_line.task_id)
        self.assertFalse(order.order_line.project_id)
        # Links both ways, and smart buttons.
        self.assertEqual(contract.order_ids, order)
        self.assertEqual(contract.sale_order_count, 1)
        self.assertEqual(order.action_view_retainer()["res_id"], contract.id)
        self.assertEqual(contract.action_view_sale_orders()["res_id"], order.id)

    def test_confirm_level_from_product(self):
        order = self._order([(self.product_pack, 1)])
        self.assertEqual(order.retainer_id.level_id, self.level_onsite)
        self.assertEqual(self._balance(order.retainer_id), 140)

    def test_confirm_tops_up_existing_retainer(self):
        contract = self._create_contract(units=10)
        order = self._order([(self.product_pack, 1)])
        self.assertEqual(order.retainer_id, contract)
        # The existing retainer keeps its level.
        self.assertEqual(contract.level_id, self.level)
        self.assertEqual(self._balance(contract), 150)

    def test_several_lines_one_credit_each(self):
        contract = self._create_contract()
        order = self._order(
            [
                (self.product_day, 2),
                (self.product_hour, 3),
                (self.product_pack, 1),
                (self.product_consulting, 1),
            ]
        )
        line_credits = self._credits(contract)
        self.assertEqual(len(line_credits), 3)
        self.assertEqual(
            sorted(line_credits.mapped("units")), [12, 56, 140], "one credit per line"
        )
        self.assertEqual(line_credits.sale_line_id, order.order_line[:3])
        self.assertEqual(self._balance(contract), 208)

    def test_units_follow_line_unit_and_round(self):
        dozen = self.env.ref("uom.product_uom_dozen")
        contract = self._create_contract()
        order = self._order([(self.product_day, 1)], confirm=False)
        order.order_line.product_uom = dozen
        order.order_line = [
            Command.create({"product_id": self.product_hour.id, "product_uom_qty": 1.3})
        ]
        order.action_confirm()
        # 1 dozen days = 12 x 28; 1.3 hours = 5.2 units, rounded to 5.
        self.assertEqual(sorted(self._credits(contract).mapped("units")), [5, 336])

    def test_several_retainers_need_a_choice(self):
        first = self._create_contract()
        second = self._create_contract(level=self.level_onsite)
        order = self._order([(self.product_day, 1)], confirm=False)
        count = self._ledger_count()
        with self.assertRaises(UserError) as error:
            order.with_user(self.salesman).action_confirm()
        self.assertIn("several open retainers", str(error.exception))
        self.assertEqual(order.state, "draft")
        self.assertEqual(self._ledger_count(), count)
        order.retainer_id = second
        order.with_user(self.salesman).action_confirm()
        self.assertEqual(self._balance(second), 28)
        self.assertEqual(self._balance(first), 0)

    def test_closed_retainer_is_not_topped_up(self):
        contract = self._create_contract()
        contract.action_close()
        order = self._order(
            [(self.product_day, 1)], confirm=False, retainer_id=contract.id
        )
        with self.assertRaises(UserError) as error:
            order.action_confirm()
        self.assertIn("closed", str(error.exception))
        self.assertEqual(self._ledger_count(), 0)
        # Without a chosen retainer, a closed one is ignored: a new one opens.
        order.retainer_id = False
        order.action_confirm()
        self.assertNotEqual(order.retainer_id, contract)
        self.assertEqual(self._balance(order.retainer_id), 28)

    def test_retainer_of_another_company_refused(self):
        other_company = self.setup_other_company()["company"]
        contract = self._create_contract(company_id=other_company.id)
        count = self._ledger_count()
        orders = self.env["sale.order"].search_count([])
        # A service order of the company, by a user of both companies: only
        # the retainer's company can refuse it.
        with self.assertRaisesRegex(
            UserError,
            rf"Order S\d+ is in {self.company.name} but retainer {contract.name} "
            rf"belongs to {other_company.name}\.",
        ):
            self._order(
                [(self.product_day, 1)],
                user=self.env.user,
                confirm=False,
                company_id=self.company.id,
                retainer_id=contract.id,
            )
        self.assertEqual(self.env["sale.order"].search_count([]), orders)
        self.assertEqual(self._ledger_count(), count)
        # Nor may a confirmed order move to another company's retainer.
        order = self._order([(self.product_day, 1)], user=self.env.user)
        with self.assertRaisesRegex(UserError, rf"belongs to {other_company.name}"):
            order.retainer_id = contract
        self.assertEqual(self._ledger_count(), count + 1)

    def test_retainer_of_another_customer_refused(self):
        other = self.env["res.partner"].create(
            {"name": "Other plc", "is_company": True}
        )
        contract = self._create_contract(partner=other)
        with self.assertRaisesRegex(
            ValidationError,
            rf"is for Acme Dental Test but retainer {contract.name} belongs to Other",
        ):
            self._order([(self.product_day, 1)], retainer_id=contract.id, confirm=False)
        self.assertEqual(self._ledger_count(), 0)

    # === Changes after confirmation === #

    def test_cancel_and_reconfirm_never_credits_twice(self):
        order = self._order([(self.product_day, 2)])
        contract = order.retainer_id
        order.order_line._retainer_sync_credits()
        order.order_line._retainer_sync_credits()
        self.assertEqual(self._ledger_count(), 1)
        order._action_cancel()
        self.assertEqual(self._balance(contract), 0)
        reversal = self.env["retainer.ledger.entry"].search([("kind", "=", "reversal")])
        self.assertEqual(reversal.reversed_entry_id, self._credits(contract))
        order.action_draft()
        order.action_confirm()
        order.order_line._retainer_sync_credits()
        self.assertEqual(self._balance(contract), 56)
        self.assertEqual(self._ledger_count(), 3)

    def test_quantity_change_and_new_line(self):
        order = self._order([(self.product_day, 2)])
        contract = order.retainer_id
        order.order_line.product_uom_qty = 3
        self.assertEqual(self._balance(contract), 84)
        order.order_line.product_uom_qty = 1
        self.assertEqual(self._balance(contract), 28)
        order.order_line = [
            Command.create({"product_id": self.product_hour.id, "product_uom_qty": 2})
        ]
        self.assertEqual(self._balance(contract), 36)

    def test_move_confirmed_order_to_other_retainer(self):
        first = self._create_contract()
        order = self._order([(self.product_day, 1)])
        second = self._create_contract(level=self.level_onsite)
        order.retainer_id = second
        self.assertEqual(self._balance(first), 0)
        self.assertEqual(self._balance(second), 28)

    def test_order_with_credits_cannot_be_deleted(self):
        order = self._order([(self.product_day, 1)])
        order._action_cancel()
        with self.assertRaisesRegex(UserError, "Cancel the order instead of del"):
            order.unlink()

    # === Timesheets on a sold retainer === #

    def test_timesheets_get_no_sale_line(self):
        order = self._order([(self.product_day, 1)])
        contract = order.retainer_id
        project = self.env["project.project"].create(
            {
                "name": "Acme support",
                "partner_id": self.customer.id,
                "allow_timesheets": True,
                "retainer_id": contract.id,
                "company_id": self.company.id,
            }
        )
        employee = self.env["hr.employee"].create(
            {
                "name": "Consultant",
                "user_id": self.env.user.id,
                "company_id": self.company.id,
            }
        )
        timesheet = self.env["account.analytic.line"].create(
            {
                "project_id": project.id,
                "employee_id": employee.id,
                "name": "Printer",
                "unit_amount": 1.0,
            }
        )
        self.assertFalse(timesheet.so_line)
        self.assertEqual(timesheet.retainer_id, contract)
        self.assertEqual(order.order_line.qty_delivered, 0)
        self.assertEqual(self._balance(contract), 24)

    # === Top-ups from the retainer === #

    def test_topup_wizard_prepares_quotation(self):
        eur = self.setup_other_currency("EUR")
        pricelist = self.env["product.pricelist"].create(
            {
                "name": "EUR customers",
                "currency_id": eur.id,
                "company_id": self.company.id,
                "item_ids": [
                    Command.create(
                        {
                            "applied_on": "0_product_variant",
                            "product_id": self.product_day.id,
                            "fixed_price": 650.0,
                        }
                    )
                ],
            }
        )
        self.customer.property_product_pricelist = pricelist
        contract = self._create_contract(units=28)
        wizard = (
            self.env["retainer.topup"]
            .with_user(self.salesman)
            .create({"contract_id": contract.id, "quantity": 2, "unit": "day"})
        )
        self.assertEqual(wizard.document, "quotation")
        self.assertEqual(wizard.units, 56)
        action = wizard.action_create_document()
        order = self.env["sale.order"].browse(action["res_id"])
        self.assertRecordValues(
            order,
            [
                {
                    "state": "draft",
                    "partner_id": self.customer.id,
                    "retainer_id": contract.id,
                    "pricelist_id": pricelist.id,
                    "currency_id": eur.id,
                }
            ],
        )
        self.assertRecordValues(
            order.order_line,
            [
                {
                    "product_id": self.product_day.id,
                    "product_uom_qty": 2.0,
                    "price_unit": 650.0,
                    "tax_id": self.tax_sale_a.ids,
                }
            ],
        )
        # A quotation line_credits nothing until it is confirmed.
        self.assertEqual(self._balance(contract), 28)
        order.action_confirm()
        self.assertEqual(self._balance(contract), 84)

    def test_topup_as_invoice(self):
        self.company.retainer_topup_document = "invoice"
        contract = self._create_contract()
        wizard = self.env["retainer.topup"].create(
            {"contract_id": contract.id, "quantity": 3, "unit": "hour"}
        )
        self.assertEqual(wizard.document, "invoice")
        action = wizard.action_create_document()
        invoice = self.env["account.move"].browse(action["res_id"])
        self.assertEqual(invoice.state, "draft")
        self.assertEqual(invoice.invoice_line_ids.product_id, self.product_hour)
        self.assertEqual(invoice.invoice_line_ids.quantity, 3)
        self.assertEqual(invoice.invoice_line_ids.retainer_id, contract)
        self.assertEqual(contract.invoice_count, 1)
        # Confirm trigger: the confirmed order already credited the hours.
        self.assertEqual(self._balance(contract), 12)

    def test_topup_model_method_for_portal(self):
        contract = self._create_contract(user_id=self.salesman.id)
        # As the portal calls it: in sudo, for a portal user.
        portal_user = self.env["res.users"].create(
            {
                "name": "Ada Acme",
                "login": "retainer_sale_portal",
                "partner_id": self.customer_contact.id,
                "groups_id": [Command.set(self.env.ref("base.group_portal").ids)],
            }
        )
        order = (
            contract.with_user(portal_user).sudo()._create_topup_quotation(2, "hour")
        )
        self.assertEqual(order.order_line.product_id, self.product_hour)
        self.assertEqual(order.user_id, self.salesman)
        self.assertEqual(order.partner_id, self.customer)
        self.assertEqual(order.state, "draft")

    def test_topup_bad_input_refused(self):
        contract = self._create_contract()
        orders = self.env["sale.order"].search_count([])
        for quantity, unit, message in (
            (0, "day", "needs a positive quantity"),
            (-1, "hour", "needs a positive quantity"),
            (1, "week", "sold in days or in hours"),
        ):
            with (
                self.subTest(quantity=quantity, unit=unit),
                self.assertRaisesRegex(UserError, message),
            ):
                contract._create_topup_quotation(quantity, unit)
        # A given product: one of the company's retainer products.
        for quantity, product, message in (
            (1, self.product_consulting, "Test consulting is not a retainer product"),
            (0, self.product_pack, "needs a positive quantity"),
        ):
            with (
                self.subTest(product=product.name),
                self.assertRaisesRegex(UserError, message),
            ):
                contract._create_topup_quotation(quantity, product=product)
        order = contract._create_topup_quotation(2, product=self.product_pack)
        self.assertEqual(order.order_line.product_id, self.product_pack)
        self.assertEqual(order.order_line.product_uom_qty, 2)
        order.unlink()
        contract.action_close()
        wizard = self.env["retainer.topup"].create(
            {"contract_id": contract.id, "quantity": 1}
        )
        with self.assertRaises(UserError) as error:
            wizard.action_create_document()
        self.assertIn("closed", str(error.exception))
        self.assertEqual(self.env["sale.order"].search_count([]), orders)
        self.assertEqual(self._ledger_count(), 0)

    def test_sales_app_opens_on_its_own_first_menu(self):
        """The Sales app opens on its first menu: Orders (Quotations), not
        Retainers, for a retainer user too (stock Sales tours rely on it)."""
        Menu = self.env["ir.ui.menu"].with_user(self.salesman)
        menus = Menu.search(
            [("parent_id", "=", self.env.ref("sale.sale_menu_root").id)]
        )
        self.assertEqual(menus[0], self.env.ref("sale.sale_order_menu"))
        orders = Menu.search([("parent_id", "=", menus[0].id)])
        self.assertIn(
            self.env.ref("defining_retainer.retainer_contract_menu_sale"), orders
        )
        self.assertEqual(orders[0], self.env.ref("sale.menu_sale_quotations"))

    # === Security === #

    def test_salesman_cannot_post_adjustments(self):
        contract = self._create_contract(units=28)
        count = self._ledger_count()
        for kind, units in (("adjustment", 5), ("credit", 5)):
            with (
                self.subTest(kind=kind),
                self.assertRaisesRegex(AccessError, "Only a retainer manager can"),
            ):
                contract.with_user(self.salesman)._post_manual_entry(kind, units, "x")
        self.assertEqual(self._ledger_count(), count)


@tagged("post_install", "-at_install", "defining_retainer")
class TestSaleTopupPerformance(RetainerSaleCommon):
    """Confirming an order costs a constant number of retainer queries."""

    def _confirm_queries(self, product, count):
        order = self._order([(product, 1)] * count, user=self.env.user, confirm=False)
        self.env.flush_all()
        self.env.invalidate_all()
        start = self.cr.sql_log_count
        order.action_confirm()
        self.env.flush_all()
        return self.cr.sql_log_count - start

    def test_confirm_query_count(self):
        self._create_contract()
        # Warm the caches (ormcache, first confirmation) for both kinds.
        self._confirm_queries(self.product_consulting, 2)
        self._confirm_queries(self.product_hour, 2)
        stock_5 = self._confirm_queries(self.product_consulting, 5)
        stock_50 = self._confirm_queries(self.product_consulting, 50)
        retainer_5 = self._confirm_queries(self.product_hour, 5)
        retainer_50 = self._confirm_queries(self.product_hour, 50)
        self.assertEqual(
            self._balance(self.env["retainer.contract"].search([])), 4 * 57
        )
        _logger.info(
            "Queries to confirm an order of 5 / 50 lines: plain service %s / %s, "
            "retainer product %s / %s",
            stock_5,
            stock_50,
            retainer_5,
            retainer_50,
        )
        # What the retainer adds does not grow with the number of lines.
        self.assertLessEqual(
            retainer_50 - retainer_5,
            stock_50 - stock_5 + 2,
            f"stock: {stock_5} -> {stock_50}, retainer: {retainer_5} -> {retainer_50}",
        )
        self.assertLessEqual(retainer_5 - stock_5, 25)
