"""What an order, an invoice and their documents say a retainer line
credits, in units of measure that say what they sell."""

from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import format_date

from .common_sale import RetainerSaleCommon


@tagged("post_install", "-at_install", "defining_retainer")
class TestSaleLanguage(RetainerSaleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.uom_retainer_day = cls.env.ref("defining_retainer.uom_retainer_day")
        cls.uom_retainer_hour = cls.env.ref("defining_retainer.uom_retainer_hour")
        cls.product_day.uom_id = cls.product_day.uom_po_id = cls.uom_retainer_day
        cls.product_hour.uom_id = cls.product_hour.uom_po_id = cls.uom_retainer_hour

    def test_module_products_say_what_they_sell(self):
        """The module's retainer products are sold in retainer days and
        hours, not in "Units"; a retainer day counts as one (28 units of
        the product), not as Odoo's 8-hour Day."""
        day = self.env.ref("defining_retainer.product_retainer_day")
        hour = self.env.ref("defining_retainer.product_retainer_hour")
        self.assertEqual(day.uom_id, self.uom_retainer_day)
        self.assertEqual(day.uom_id.name, "Retainer days")
        self.assertEqual(hour.uom_id.name, "Retainer hours")
        self.assertEqual(self.uom_retainer_day._retainer_size(7.0, day), 1.0)

    def test_order_line_says_what_it_credits(self):
        order = self._order([(self.product_day, 2), (self.product_hour, 3)])
        day_line, hour_line = order.order_line
        self.assertEqual(day_line.product_uom, self.uom_retainer_day)
        self.assertEqual(day_line.retainer_credit_text, "56 units, 14 h")
        self.assertEqual(hour_line.retainer_credit_text, "12 units, 3 h")
        self.assertEqual(day_line.retainer_credited_units, 56)
        consulting = self._order([(self.product_consulting, 1)])
        self.assertFalse(consulting.order_line.retainer_credit_text)

    def test_confirmed_order_shows_what_was_delivered(self):
        """A confirmed order's retainer lines say what the ledger credited
        from them, on the form and on the order's documents; a quotation
        says what it will add."""
        quotation = self._order([(self.product_day, 2)], confirm=False)
        self.assertFalse(quotation.order_line.retainer_delivered_text)
        order = self._order([(self.product_day, 2), (self.product_hour, 3)])
        day_line, hour_line = order.order_line
        today = format_date(self.env, fields.Date.context_today(order))
        self.assertEqual(
            day_line.retainer_delivered_text, f"56 units, 14 h credited on {today}"
        )
        self.assertEqual(
            hour_line.retainer_delivered_text, f"12 units, 3 h credited on {today}"
        )
        html = self._render_order(order)
        self.assertIn(
            f"Delivered: 56 units, 14 h credited on {today} to "
            f"{order.retainer_id.name}",
            html,
        )
        self.assertNotIn("Adds 56 units", html)
        self.assertIn("Adds 56 units", self._render_order(quotation))
        arch = self.env["sale.order"].get_views([(False, "form")])["views"]["form"][
            "arch"
        ]
        self.assertIn('name="retainer_delivered_text"', arch)
        # Cancelled, the order took its units back: nothing was delivered.
        order._action_cancel()
        order.order_line.invalidate_recordset(["retainer_delivered_text"])
        self.assertFalse(day_line.retainer_delivered_text)

    def test_delivered_text_is_read_in_one_query(self):
        orders = self._order([(self.product_day, 1)]) | self._order(
            [(self.product_day, 2), (self.product_hour, 3)]
        )
        lines = orders.order_line
        self.assertEqual(len(lines), 3)
        self.assertTrue(lines[0].retainer_delivered_text)  # warms the caches
        lines.invalidate_recordset(["retainer_delivered_text"])
        with self.assertQueryCount(1):
            texts = lines.mapped("retainer_delivered_text")
        self.assertEqual(
            [text.split(" credited")[0] for text in texts],
            ["28 units, 7 h", "56 units, 14 h", "12 units, 3 h"],
        )

    def _render_order(self, order):
        return " ".join(
            self.env["ir.actions.report"]
            ._render_qweb_html("sale.action_report_saleorder", order.ids)[0]
            .decode()
            .split()
        )

    def test_a_product_is_sold_in_its_own_retainer_unit(self):
        order = self._order([(self.product_hour, 1)], confirm=False)
        with self.assertRaisesRegex(
            ValidationError,
            "Test retainer hour is sold in Retainer hours, not in Retainer days.",
        ):
            order.order_line.product_uom = self.uom_retainer_day

    def test_documents_say_what_lines_credit(self):
        order = self._order([(self.product_day, 2)], confirm=False)
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("sale.action_report_saleorder", order.ids)[0]
            .decode()
        )
        self.assertIn("Adds 56 units, 14 h to your retainer", html)
        order.action_confirm()
        self.assertIn(order.retainer_id.name, self._render_order(order))
        invoice = self._invoice(order)
        line = invoice.invoice_line_ids
        self.assertEqual(line.retainer_credit_text, "56 units, 14 h")
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("account.account_invoices", invoice.ids)[0]
            .decode()
        )
        self.assertIn("Adds 56 units, 14 h to your retainer", html)
        self.assertIn("Retainer days", html)
        self.assertNotIn("Units", html.split("Adds 56 units")[0][-400:])

    def test_invoice_leads_to_its_retainer(self):
        order = self._order([(self.product_day, 1)])
        invoice = self._invoice(order)
        self.assertEqual(invoice.retainer_ids, order.retainer_id)
        action = invoice.action_view_retainers()
        self.assertEqual(action["res_model"], "retainer.contract")
        self.assertEqual(action["res_id"], order.retainer_id.id)
        self.assertEqual(action["name"], "Retainer")

    def test_orders_group_by_retainer(self):
        arch = self.env["sale.order"].get_views([(False, "search")])["views"]["search"][
            "arch"
        ]
        self.assertIn("'group_by': 'retainer_id'", arch)


@tagged("post_install", "-at_install", "defining_retainer")
class TestLanguageTour(RetainerSaleCommon, HttpCase):
    """In a browser: units on an order line and an invoice line, the way
    from an invoice to its retainer, the urgency columns of the retainers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        day_uom = cls.env.ref("defining_retainer.uom_retainer_day")
        cls.product_day.uom_id = cls.product_day.uom_po_id = day_uom
        cls._set_trigger(cls, "confirm")
        cls.staff = new_test_user(
            cls.env,
            login="language_tour_staff",
            name="Lane Language",
            groups="base.group_user,sales_team.group_sale_manager,"
            "account.group_account_invoice,defining_retainer.group_retainer_manager",
            company_id=cls.company.id,
            company_ids=[Command.set(cls.company.ids)],
        )

    def test_language_tour(self):
        order = self._order([(self.product_day, 2)])
        invoice = self._invoice(order)
        retainer = order.retainer_id
        self.assertEqual(retainer.balance_units, 56)
        self.start_tour(
            f"/odoo/action-sale.action_orders/{order.id}",
            "defining_retainer_order_units_tour",
            login=self.staff.login,
        )
        self.start_tour(
            f"/odoo/action-account.action_move_out_invoice_type/{invoice.id}",
            "defining_retainer_invoice_units_tour",
            login=self.staff.login,
        )
        retainer._post_manual_entry(
            "credit",
            8,
            "Goodwill",
            expiry_date=fields.Date.context_today(retainer) + timedelta(days=10),
        )
        self.assertEqual(retainer.expiring_units, 8)
        self.assertEqual(retainer.urgency_expiring_units, 8)
        self.start_tour(
            "/odoo/action-defining_retainer.retainer_contract_action?view_type=list",
            "defining_retainer_urgency_tour",
            login=self.staff.login,
        )
