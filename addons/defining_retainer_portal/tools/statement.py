"""Periods and running balances of a retainer statement.

Pure Python on purpose (no Odoo import): URL parameters are parsed and the
statement arithmetic is done here, tested without a database.
"""

from datetime import date, timedelta

# Dates outside this range are refused: they are typing errors, and date
# arithmetic near year 1 or 9999 overflows.
MIN_YEAR = 1900
MAX_YEAR = 9000


def parse_date(value):
    """Return the :class:`datetime.date` written as ``YYYY-MM-DD`` in
    ``value``, or ``None`` when ``value`` is empty, not such a date or out
    of the ``MIN_YEAR``-``MAX_YEAR`` range (URL parameters are never
    trusted)."""
    if isinstance(value, date):
        parsed = value
    elif isinstance(value, str) and len(value) == 10:
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return parsed if MIN_YEAR <= parsed.year <= MAX_YEAR else None


def default_period(today):
    """Default statement period: from the first day of the previous month
    to ``today``, i.e. last month and this month so far."""
    first_of_month = today.replace(day=1)
    return (first_of_month - timedelta(days=1)).replace(day=1), today


def normalise_period(date_from, date_to, today):
    """Return a ``(date_from, date_to)`` pair with both ends set and in order.

    No end given: :func:`default_period` of ``today``. Only ``date_to``: the
    default period ending then. Only ``date_from``: up to ``today`` (or
    ``date_from`` itself when it is in the future). Reversed ends are swapped.
    """
    if date_from and date_to:
        return min(date_from, date_to), max(date_from, date_to)
    if date_to:
        return default_period(date_to)
    if date_from:
        return date_from, max(today, date_from)
    return default_period(today)


def running_balances(opening_units, units):
    """Return the balance after each movement of ``units`` (an iterable of
    signed ints), starting from ``opening_units``."""
    balances = []
    balance = opening_units
    for amount in units:
        balance += amount
        balances.append(balance)
    return balances
