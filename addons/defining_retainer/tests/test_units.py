from odoo.exceptions import ValidationError
from odoo.tests import BaseCase, TransactionCase, tagged

from ..tools.units import quantity_to_units, round_half_up, uom_hours


@tagged("post_install", "-at_install", "defining_retainer")
class TestUnitsTools(BaseCase):
    """Quantity sold -> units as the addon imports it (the pure tier tests it
    against exact arithmetic without Odoo)."""

    def test_half_up(self):
        for value, expected in ((0.5, 1), (2.5, 3), (5.6, 6), (22.4, 22), (-2.5, -3)):
            with self.subTest(value=value):
                self.assertEqual(round_half_up(value), expected)
        with self.assertRaisesRegex(ValueError, "finite"):
            round_half_up(float("nan"))

    def test_retainer_day_not_odoo_day(self):
        day = uom_hours(1, day_hours=7)
        hour = uom_hours(1 / 8, day_hours=7)
        self.assertEqual((day, hour), (7, 1))
        self.assertEqual(
            quantity_to_units(7, 28, uom_size=hour, product_uom_size=day), 28
        )
        self.assertEqual(
            quantity_to_units(1, 4, uom_size=day, product_uom_size=hour), 28
        )
        self.assertEqual(quantity_to_units(0.625, 4), 3)  # round() says 2
        with self.assertRaises(ValueError):
            quantity_to_units(1, 28, uom_size=0)


@tagged("post_install", "-at_install", "defining_retainer")
class TestUomSize(TransactionCase):
    """Sizes of Odoo's units of measure when counting retainer units."""

    def test_sizes(self):
        product = self.env["product.product"].new({"name": "Block"})
        for xmlid, day_hours, size in (
            ("uom.product_uom_day", 7, 7),
            ("uom.product_uom_day", 7.5, 7.5),
            ("uom.product_uom_hour", 7, 1),
            ("uom.product_uom_unit", 7, 1),
            ("uom.product_uom_dozen", 7, 12),
        ):
            with self.subTest(uom=xmlid, day_hours=day_hours):
                uom = self.env.ref(xmlid)
                self.assertAlmostEqual(uom._retainer_size(day_hours, product), size)

    def test_other_categories_refused(self):
        product = self.env["product.product"].new({"name": "Block"})
        for xmlid in ("uom.product_uom_kgm", "uom.product_uom_litre"):
            with (
                self.subTest(uom=xmlid),
                self.assertRaisesRegex(ValidationError, "Block cannot be sold in"),
            ):
                self.env.ref(xmlid)._retainer_size(7, product)
