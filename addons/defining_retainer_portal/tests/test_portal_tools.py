from datetime import date

from odoo.tests import BaseCase, tagged

from odoo.addons.defining_retainer.tools.statement import (
    default_period,
    normalise_period,
    parse_date,
    running_balances,
)

from ..tools.params import (
    MAX_ID,
    parse_count,
    parse_id,
    parse_page,
    parse_text,
    parse_token,
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
        self.assertEqual(max_quantity("day", day_hours=7, max_days=100), 100)
        self.assertEqual(max_quantity("hour", day_hours=7, max_days=100), 700)

    def test_parse_id(self):
        self.assertEqual(parse_id("42"), 42)
        self.assertEqual(parse_id(" 7 "), 7)
        self.assertEqual(parse_id(42), 42)
        self.assertEqual(parse_id(str(MAX_ID)), MAX_ID)
        for value in [
            None,
            "",
            "0",
            0,
            "-1",
            -1,
            "1.5",
            "abc",
            "1\x00",
            "\u00b2",
            str(MAX_ID + 1),
            MAX_ID + 1,
            "9" * 11,
            "9" * 20,
            "9" * 10000,
            True,
            ["1"],
        ]:
            with self.subTest(value=value):
                self.assertIsNone(parse_id(value))

    def test_parse_page(self):
        self.assertEqual(parse_page("3"), 3)
        self.assertEqual(parse_page(3), 3)
        # Beyond the last page: the pager shows the last one.
        self.assertEqual(parse_page("9" * 10000), MAX_ID)
        for value in [None, "", "0", "-2", "abc", "1.5", "\u00b2", "1\x00"]:
            with self.subTest(value=value):
                self.assertEqual(parse_page(value), 1)

    def test_parse_count(self):
        self.assertEqual(parse_count(None, default=10, maximum=100), 10)
        self.assertEqual(parse_count(30, default=10, maximum=100), 30)
        self.assertEqual(parse_count("9" * 10000, default=10, maximum=100), 100)
        for value in ["", 0, -1, "abc", 1.5, "\u00b2"]:
            with (
                self.subTest(value=value),
                self.assertRaisesRegex(ValueError, "is not a positive whole number"),
            ):
                parse_count(value, default=10, maximum=100)

    def test_parse_text(self):
        self.assertEqual(parse_text("  printer \x00jam "), "printer jam")
        self.assertEqual(parse_text("x" * 500, 100), "x" * 100)
        self.assertEqual(parse_text("x" * 500), "x" * 500)
        for value in [None, 12, ["a"]]:
            with self.subTest(value=value):
                self.assertEqual(parse_text(value), "")

    def test_parse_token(self):
        token = "0b8a5e2c-5f1e-4c7e-9a43-6a6f1f0e2d11"
        self.assertEqual(parse_token(token), token)
        for value in [None, "", "\u00b2", "abc\x00", "x" * 129, 12]:
            with self.subTest(value=value):
                self.assertIsNone(parse_token(value))
