from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common_sale import RetainerSaleCommon

RETAINER_PRODUCT_VALS = {
    "type": "service",
    "service_tracking": "no",
    "invoice_policy": "order",
    "service_type": "manual",
}


@tagged("post_install", "-at_install", "defining_retainer")
class TestSaleUnits(RetainerSaleCommon):
    """Units credited by a quantity sold in any unit of measure: a retainer
    day is the retainer's own day (7 hours by default), never Odoo's 8-hour
    Day, whatever the units of measure of the line and of the product."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.uom_hour = cls.env.ref("uom.product_uom_hour")
        cls.uom_day = cls.env.ref("uom.product_uom_day")
        cls.product_in_days = cls._create_time_product("Retainer day (Days)", 28, "day")
        cls.product_in_hours = cls._create_time_product(
            "Retainer hour (Hours)", 4, "hour"
        )

    @classmethod
    def _create_time_product(cls, name, units, uom):
        uom = cls.uom_day if uom == "day" else cls.uom_hour
        return cls._create_product(
            name=name,
            list_price=100.0,
            retainer_units=units,
            uom_id=uom.id,
            uom_po_id=uom.id,
            **RETAINER_PRODUCT_VALS,
        )

    def _sell(self, lines, contract=None):
        """Confirm an order of ``lines`` [(product, qty, uom), ...] and
        return the units credited per line."""
        order = self._order(
            [(product, qty) for product, qty, _uom in lines],
            confirm=False,
            retainer_id=contract.id if contract else False,
        )
        for line, (_product, _qty, uom) in zip(order.order_line, lines, strict=True):
            line.product_uom = uom
        order.action_confirm()
        return [line.retainer_credited_units for line in order.order_line]

    def test_hours_of_a_product_sold_in_days(self):
        """7 Hours of a product sold in Days (28 units a Day) are one
        retainer day: 28 units, not 7/8 of Odoo's 8-hour Day (24.5 -> 25)."""
        contract = self._create_contract()
        self.assertEqual(
            self._sell(
                [
                    (self.product_in_days, 7, self.uom_hour),
                    (self.product_in_days, 1, self.uom_day),
                    (self.product_in_hours, 1, self.uom_day),
                    (self.product_in_hours, 1.5, self.uom_hour),
                ]
            ),
            [28, 28, 28, 6],
        )
        self.assertEqual(self._balance(contract), 90)

    def test_the_retainer_day_decides(self):
        """On a retainer whose day is 7.5 hours, a Day of a 4-unit-an-hour
        product is 30 units and 7.5 Hours of a product sold in Days are one
        day (its 28 units)."""
        contract = self._create_contract(day_hours=7.5)
        self.assertEqual(
            self._sell(
                [
                    (self.product_in_hours, 1, self.uom_day),
                    (self.product_in_days, 7.5, self.uom_hour),
                    (self.product_in_days, 1, self.uom_day),
                ],
                contract,
            ),
            [30, 28, 28],
        )

    def test_other_working_time_units(self):
        """A unit of a day or more counts in retainer days (a Week of 5 Days
        is 35 hours), a shorter one in real hours (30 Minutes are 2 units)."""
        Uom = self.env["uom.uom"]
        category = self.uom_day.category_id
        week = Uom.create(
            {
                "name": "Weeks",
                "category_id": category.id,
                "uom_type": "bigger",
                "factor_inv": 5.0,
            }
        )
        minute = Uom.create(
            {
                "name": "Minutes",
                "category_id": category.id,
                "uom_type": "smaller",
                "factor": 480.0,
            }
        )
        self._create_contract()
        self.assertEqual(
            self._sell(
                [
                    (self.product_in_hours, 1, week),
                    (self.product_in_days, 1, week),
                    (self.product_in_hours, 30, minute),
                    (self.product_in_days, 420, minute),
                ]
            ),
            [140, 140, 2, 28],
        )

    def test_count_units_keep_their_ratio(self):
        """Products sold in Units count packs: a Dozen is 12 of them."""
        self._create_contract()
        dozen = self.env.ref("uom.product_uom_dozen")
        self.assertEqual(
            self._sell(
                [
                    (self.product_day, 1, dozen),
                    (self.product_hour, 0.125, self.product_hour.uom_id),
                ]
            ),
            [336, 1],
        )

    def test_product_outside_working_time_refused(self):
        kg = self.env.ref("uom.product_uom_kgm")
        products = self.env["product.product"].search_count([])
        with self.assertRaises(ValidationError) as error:
            self._create_product(
                name="Retainer by the kilo",
                retainer_units=28,
                uom_id=kg.id,
                uom_po_id=kg.id,
                **RETAINER_PRODUCT_VALS,
            )
        self.assertIn("Retainer by the kilo cannot be sold in kg", str(error.exception))
        self.assertIn("Working Time", str(error.exception))
        with self.assertRaises(ValidationError) as error:
            self.product_day.write({"uom_id": kg.id, "uom_po_id": kg.id})
        self.assertIn("Working Time", str(error.exception))
        self.env.invalidate_all()
        self.assertEqual(self.env["product.product"].search_count([]), products)
        self.assertEqual(self.product_day.uom_id, self.env.ref("uom.product_uom_unit"))
        # Not a retainer product: any unit of measure, as in stock Odoo.
        self.product_consulting.write({"uom_id": kg.id, "uom_po_id": kg.id})

    def test_line_outside_the_product_category_refused(self):
        contract = self._create_contract()
        order = self._order([(self.product_day, 1)], confirm=False)
        kg = self.env.ref("uom.product_uom_kgm")
        count = self._ledger_count()
        for uom in (self.uom_hour, kg):
            with (
                self.subTest(uom=uom.name),
                self.assertRaises(ValidationError) as error,
            ):
                order.order_line.product_uom = uom
            self.assertIn(
                f"Test retainer day cannot be sold in {uom.name}: its unit of "
                "measure is Units",
                str(error.exception),
            )
        self.env.invalidate_all()
        self.assertEqual(order.order_line.product_uom, self.product_day.uom_id)
        order.action_confirm()
        with self.assertRaises(ValidationError) as error:
            order.order_line.write({"product_uom": kg.id})
        self.assertIn("cannot be sold in kg", str(error.exception))
        self.env.invalidate_all()
        self.assertEqual(order.order_line.product_uom, self.product_day.uom_id)
        self.assertEqual(self._ledger_count(), count + 1)
        self.assertEqual(self._balance(contract), 28)

    def test_invoice_in_hours_of_a_day_line(self):
        """The invoice side converts the same way: 7 Hours invoiced for a
        line of one Day credit the whole day when the invoice is posted."""
        self._set_trigger("posted")
        order = self._order([(self.product_in_days, 1)])
        invoice = self._invoice(order, post=False)
        invoice.invoice_line_ids = [
            Command.update(
                invoice.invoice_line_ids.id,
                {"product_uom_id": self.uom_hour.id, "quantity": 7},
            )
        ]
        invoice.action_post()
        self.assertEqual(self._balance(order.retainer_id), 28)

    def test_topup_wizard_announces_what_the_order_credits(self):
        """The wizard counts like the order line: a quarter of a 10-unit
        product is 2.5 units, 3 (half up), announced and credited."""
        product = self._create_product(
            name="Ten-unit block", retainer_units=10, **RETAINER_PRODUCT_VALS
        )
        self.company.retainer_hour_product_id = product
        contract = self._create_contract()
        wizard = self.env["retainer.topup"].create(
            {"contract_id": contract.id, "quantity": 0.25, "unit": "hour"}
        )
        self.assertEqual(wizard.units, 3)
        order = self.env["sale.order"].browse(wizard.action_create_document()["res_id"])
        order.action_confirm()
        self.assertEqual(order.order_line.retainer_credited_units, 3)
        self.assertEqual(self._balance(contract), 3)

    def test_product_changed_after_the_sale(self):
        """The units are per unit of measure of the product as sold: a
        product sold in Days (28 a Day) and later moved to Hours still
        credits 28 units for its Day when the invoice is posted."""
        self._set_trigger("posted")
        order = self._order([(self.product_in_days, 1)])
        self.product_in_days.write(
            {"uom_id": self.uom_hour.id, "uom_po_id": self.uom_hour.id}
        )
        self._invoice(order)
        self.assertEqual(self._balance(order.retainer_id), 28)
