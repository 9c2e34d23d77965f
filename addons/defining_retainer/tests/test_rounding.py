from odoo.tests import BaseCase, tagged

from ..tools.rounding import duration_to_units

# Rows of the spec's table: (hours, minutes) entered -> units billed.
SPEC_TABLE = [
    ((3, 37), 15),
    ((3, 5), 12),
    ((7, 0), 28),
    ((0, 3), 1),
    ((0, 15), 1),
    ((0, 20), 1),
    ((0, 21), 2),
    ((0, 0), 0),
]


@tagged("post_install", "-at_install", "defining_retainer")
class TestRounding(BaseCase):
    """The rounding function as the addon imports it (the pure tier tests it
    exhaustively without Odoo)."""

    def test_spec_table(self):
        for (hours, minutes), units in SPEC_TABLE:
            with self.subTest(entered=f"{hours}h{minutes:02d}"):
                self.assertEqual(duration_to_units(hours + minutes / 60), units)

    def test_methods_at_boundaries(self):
        cases = {
            # minutes: (grace, up, down, nearest)
            15: (1, 1, 1, 1),
            20: (1, 2, 1, 1),
            21: (2, 2, 1, 1),
            22: (2, 2, 1, 1),
            23: (2, 2, 1, 2),
            30: (2, 2, 2, 2),
        }
        for minutes, expected in cases.items():
            for method, units in zip(
                ("grace", "up", "down", "nearest"), expected, strict=True
            ):
                with self.subTest(minutes=minutes, method=method):
                    self.assertEqual(
                        duration_to_units(minutes / 60, method=method), units
                    )

    def test_grace_plus_minus_one_second(self):
        self.assertEqual(duration_to_units((20 * 60) / 3600), 1)
        self.assertEqual(duration_to_units((20 * 60 + 1) / 3600), 2)

    def test_minimum_units_and_zero(self):
        self.assertEqual(duration_to_units(1 / 60, method="down"), 1)
        self.assertEqual(duration_to_units(1 / 60, method="down", min_units=0), 0)
        self.assertEqual(duration_to_units(0.0, min_units=3), 0)
        self.assertEqual(duration_to_units(0.25, min_units=2), 2)

    def test_refusals(self):
        with self.assertRaisesRegex(ValueError, "a duration cannot be negative"):
            duration_to_units(-0.25)
        with self.assertRaisesRegex(ValueError, "unknown rounding method 'ceil'"):
            duration_to_units(1, method="ceil")
        with self.assertRaisesRegex(ValueError, "the unit length must be positive"):
            duration_to_units(1, unit_minutes=0)
        with self.assertRaisesRegex(ValueError, "grace must be at least 0 and"):
            duration_to_units(1, grace_minutes=15)
