from datetime import date

from odoo.tests import BaseCase, tagged

from ..tools.forecast import (
    STATUS_BEYOND,
    STATUS_EXHAUSTED,
    STATUS_FORECAST,
    STATUS_NO_USAGE,
    STATUS_OVERDRAWN,
    forecast_depletion,
    window_start,
    working_days_until,
)

TODAY = date(2025, 1, 15)


@tagged("post_install", "-at_install", "defining_retainer")
class TestForecast(BaseCase):
    """The pure forecast arithmetic (no database)."""

    def test_window_start(self):
        self.assertEqual(window_start(TODAY), date(2024, 10, 18))
        self.assertEqual(window_start(TODAY, 1), TODAY)
        with self.assertRaisesRegex(ValueError, "must last at least one day"):
            window_start(TODAY, 0)

    def test_forecast_table(self):
        # (balance, used in 90 days, status, days left)
        for balance, used, status, days_left in [
            (90, 90, STATUS_FORECAST, 90),  # one unit a day
            (10, 90, STATUS_FORECAST, 10),
            (1, 90, STATUS_FORECAST, 1),
            (1, 180, STATUS_FORECAST, 0),  # runs out today
            (100, 30, STATUS_FORECAST, 300),  # a unit every 3 days
            (7, 2, STATUS_FORECAST, 315),  # rounded down, never up
            (39, 45, STATUS_FORECAST, 78),
            (5000, 1, STATUS_BEYOND, None),  # 450,000 days
            (100, 0, STATUS_NO_USAGE, None),
            (100, -8, STATUS_NO_USAGE, None),  # more reversed than used
            (0, 0, STATUS_EXHAUSTED, None),
            (0, 50, STATUS_EXHAUSTED, None),
            (-3, 50, STATUS_OVERDRAWN, None),
            (-3, 0, STATUS_OVERDRAWN, None),
        ]:
            with self.subTest(balance=balance, used=used):
                forecast = forecast_depletion(balance, used, TODAY)
                self.assertEqual(forecast.status, status)
                self.assertEqual(forecast.days_left, days_left)
                if status == STATUS_FORECAST:
                    self.assertEqual((forecast.depletion_date - TODAY).days, days_left)
                else:
                    self.assertIsNone(forecast.depletion_date)

    def test_daily_rate(self):
        self.assertEqual(forecast_depletion(10, 45, TODAY).daily_units, 0.5)
        self.assertEqual(forecast_depletion(-1, 45, TODAY).daily_units, 0.5)
        self.assertEqual(forecast_depletion(10, 0, TODAY).daily_units, 0.0)

    def test_horizon_and_window(self):
        self.assertEqual(
            forecast_depletion(100, 1, TODAY, window_days=1, horizon_days=99).status,
            STATUS_BEYOND,
        )
        at_horizon = forecast_depletion(100, 1, TODAY, window_days=1, horizon_days=100)
        self.assertEqual(at_horizon.status, STATUS_FORECAST)
        self.assertEqual(at_horizon.days_left, 100)
        forecast = forecast_depletion(14, 28, TODAY, window_days=7)
        self.assertEqual(forecast.days_left, 3)
        with self.assertRaisesRegex(ValueError, "must last at least one day"):
            forecast_depletion(10, 10, TODAY, window_days=0)

    def test_more_balance_never_runs_out_sooner(self):
        for used in (1, 7, 45, 90, 500):
            previous = 0
            for balance in range(1, 400, 7):
                forecast = forecast_depletion(balance, used, TODAY)
                if forecast.status != STATUS_FORECAST:
                    break
                self.assertGreaterEqual(forecast.days_left, previous)
                previous = forecast.days_left

    def test_working_days_until(self):
        # 2025-01-15 is a Wednesday.
        for end, expected in [
            (TODAY, 0),
            (date(2025, 1, 14), 0),  # in the past
            (date(2025, 1, 16), 1),  # Thursday
            (date(2025, 1, 18), 2),  # Saturday: Thu, Fri
            (date(2025, 1, 20), 3),  # Monday
            (date(2025, 1, 22), 5),  # one week
            (date(2025, 1, 29), 10),  # two weeks
            (date(2025, 2, 12), 20),
        ]:
            with self.subTest(end=end):
                self.assertEqual(working_days_until(TODAY, end), expected)
        # From a Saturday to the next Saturday: five working days.
        self.assertEqual(working_days_until(date(2025, 1, 18), date(2025, 1, 25)), 5)
