from datetime import date

from odoo.tests import BaseCase, tagged

from odoo.addons.defining_retainer.tools.statement import (
    default_period,
    normalise_period,
    parse_date,
    running_balances,
)

from ..tools.topup import (
    max_quantity,
    parse_quantity,
    requested_units,
    units_per,
)

TODAY = date(2025, 3, 15)


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalTools(BaseCase):
    """The pure helpers behind URL parameters, statements and top-up
    requests (no database)."""

    def test_parse_date(self):
        self.assertEqual(parse_date("2025-01-31"), date(2025, 1, 31))
        self.assertEqual(parse_date(date(2025, 1, 31)), date(2025, 1, 31))
        for value in [
            None,
            "",
            "garbage",
            "2025-02-30",
            "2025-13-01",
            "2025-1-1",
            "20250101",
            "0001-01-01",
            "9999-12-31",
            "2025-01-31T10:00",
            ["2025-01-31"],
            20250131,
        ]:
            with self.subTest(value=value):
                self.assertIsNone(parse_date(value))

    def test_periods(self):
        self.assertEqual(default_period(TODAY), (date(2025, 2, 1), TODAY))
        self.assertEqual(
            default_period(date(2025, 1, 1)), (date(2024, 12, 1), date(2025, 1, 1))
        )
        self.assertEqual(normalise_period(None, None, TODAY), default_period(TODAY))
        self.assertEqual(
            normalise_period(date(2025, 3, 1), date(2025, 1, 1), TODAY),
            (date(2025, 1, 1), date(2025, 3, 1)),
        )
        self.assertEqual(
            normalise_period(None, date(2024, 6, 10), TODAY),
            (date(2024, 5, 1), date(2024, 6, 10)),
        )
        self.assertEqual(
            normalise_period(date(2024, 6, 10), None, TODAY),
            (date(2024, 6, 10), TODAY),
        )
        self.assertEqual(
            normalise_period(date(2026, 1, 1), None, TODAY),
            (date(2026, 1, 1), date(2026, 1, 1)),
        )

    def test_running_balances(self):
        self.assertEqual(running_balances(10, []), [])
        self.assertEqual(running_balances(10, [-3, 28, -40]), [7, 35, -5])

    def test_parse_quantity(self):
        self.assertEqual(parse_quantity("2"), 2.0)
        self.assertEqual(parse_quantity(" 1.5 "), 1.5)
        self.assertEqual(parse_quantity("0.25"), 0.25)
        for value in [None, "", "abc", "1,5", "nan", "inf", "-inf", True, "1e999"]:
            with self.subTest(value=value):
                self.assertIsNone(parse_quantity(value))

    def test_units(self):
        policy = {"unit_minutes": 15, "day_hours": 7}
        self.assertEqual(units_per("day", **policy), 28)
        self.assertEqual(units_per("hour", **policy), 4)
        self.assertEqual(requested_units(2, "day", **policy), 56)
        self.assertEqual(requested_units(0.5, "day", **policy), 14)
        self.assertEqual(requested_units(1.25, "hour", **policy), 5)
        self.assertIsNone(requested_units(0.1, "day", **policy))
        self.assertIsNone(requested_units(1.1, "hour", **policy))
        self.assertEqual(requested_units(1, "day", unit_minutes=30, day_hours=8), 16)
        with self.assertRaisesRegex(ValueError, "unknown unit 'week'"):
            units_per("week", **policy)
        with self.assertRaisesRegex(ValueError, "unit length and the day must be"):
            units_per("day", unit_minutes=0, day_hours=7)
        self.assertEqual(max_quantity("day", day_hours=7), 100)
        self.assertEqual(max_quantity("hour", day_hours=7), 700)
