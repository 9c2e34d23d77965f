"""When does a retainer's balance run out at its recent rate of use?

Pure Python on purpose (no Odoo import): the arithmetic is tested on its own,
without a database. ``retainer.contract._retainer_forecasts`` reads the
balance and the net usage of the window from the ledger and hands them over
as plain integers; the balance alerts and the portal use its outcome.
"""

from datetime import timedelta
from typing import NamedTuple

WINDOW_DAYS = 90
# Beyond this many days a date is not a forecast any more, just noise.
HORIZON_DAYS = 5 * 365

STATUS_OVERDRAWN = "overdrawn"
STATUS_EXHAUSTED = "exhausted"
STATUS_NO_USAGE = "no_usage"
STATUS_BEYOND = "beyond_horizon"
STATUS_FORECAST = "forecast"


class Forecast(NamedTuple):
    """Outcome of :func:`forecast_depletion`.

    ``status`` is one of the ``STATUS_*`` constants; ``daily_units`` is the
    average net use per day over the window (units, float, 0 without use);
    ``days_left`` (int) and ``depletion_date`` (date) are set only for
    ``STATUS_FORECAST``.
    """

    status: str
    daily_units: float
    days_left: int | None = None
    depletion_date: object = None


def window_start(today, window_days=WINDOW_DAYS):
    """Return the first day of the ``window_days``-day window ending on
    ``today`` (both days included)."""
    if window_days <= 0:
        raise ValueError("the window must last at least one day")
    return today - timedelta(days=window_days - 1)


def forecast_depletion(
    balance_units,
    used_units,
    today,
    *,
    window_days=WINDOW_DAYS,
    horizon_days=HORIZON_DAYS,
):
    """Forecast the day the balance reaches zero at the recent rate of use.

    :param int balance_units: current balance in units (negative when
        overdrawn).
    :param int used_units: net units used over the window: debits minus
        their reversals, positive when time was used.
    :param datetime.date today: last day of the window.
    :param int window_days: length of the window in days (> 0).
    :param int horizon_days: a depletion further away than this is reported
        as ``STATUS_BEYOND`` without a date.
    :returns: a :class:`Forecast`.
    :raises ValueError: on a window shorter than one day.
    """
    if window_days <= 0:
        raise ValueError("the window must last at least one day")
    daily_units = used_units / window_days if used_units > 0 else 0.0
    if balance_units < 0:
        return Forecast(STATUS_OVERDRAWN, daily_units)
    if balance_units == 0:
        return Forecast(STATUS_EXHAUSTED, daily_units)
    if used_units <= 0:
        return Forecast(STATUS_NO_USAGE, 0.0)
    # Integer arithmetic: balance / (used / window) days, rounded down, so
    # the forecast never promises a day the balance does not cover.
    days_left = balance_units * window_days // used_units
    if days_left > horizon_days:
        return Forecast(STATUS_BEYOND, daily_units)
    return Forecast(
        STATUS_FORECAST, daily_units, days_left, today + timedelta(days=days_left)
    )


def working_days_until(today, end):
    """Return the number of working days (Monday to Friday) after ``today``
    up to ``end`` included (0 when ``end`` is not after ``today``)."""
    days = (end - today).days
    if days <= 0:
        return 0
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    weekday = today.weekday()
    for offset in range(1, rest + 1):
        if (weekday + offset) % 7 < 5:
            count += 1
    return count
