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


# Months in one statement period of each ``statement_frequency`` (``none``
# sends no statement).
FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3}


def _add_months(day, months):
    """First day of the month ``months`` after the month of ``day``."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_start(day, frequency):
    """First day of the calendar period of ``frequency`` (month or quarter)
    that contains ``day``."""
    months = FREQUENCY_MONTHS[frequency]
    return date(day.year, (day.month - 1) // months * months + 1, 1)


def period_end(day, frequency):
    """Last day of the calendar period of ``frequency`` that contains
    ``day``."""
    start = period_start(day, frequency)
    return _add_months(start, FREQUENCY_MONTHS[frequency]) - timedelta(days=1)


def closed_periods(frequency, start, today):
    """Statement periods of ``frequency`` from ``start`` that have closed by
    ``today`` (they end before it), oldest first, as ``(date_from,
    date_to)`` pairs.

    Periods follow the calendar (months, quarters starting in January,
    April, July and October); the first one runs from ``start`` to the end
    of its period, so a ``start`` in the middle of a period gives a shorter
    first statement and no period is ever covered twice.
    """
    if frequency not in FREQUENCY_MONTHS or not start:
        return []
    periods = []
    date_from = start
    while True:
        date_to = period_end(date_from, frequency)
        if date_to >= today:
            return periods
        periods.append((date_from, date_to))
        date_from = date_to + timedelta(days=1)
