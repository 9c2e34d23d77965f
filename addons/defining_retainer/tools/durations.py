"""Durations as people read them: ``22 h 45 min``, never a clock time.

Pure Python on purpose (no Odoo import): the backend's display names and
messages, the portal, the PDF statement and the emails all write a duration
with these functions (through the ``retainer_duration`` QWeb widget and the
backend field widget of the same name, which follows the same rules), so a
customer and a consultant read the same text. Tested without a database.

Rules:

- a duration is rounded to the nearest whole minute (half a minute up, away
  from zero for a negative duration);
- whole hours read ``7 h``, less than an hour ``45 min``, otherwise
  ``22 h 45 min``; nothing is ``0 min``; a negative duration (an overdraft)
  starts with a minus sign: ``-1 h 30 min``;
- days are said only where they help: from one day on, whole (``2``) or to
  one decimal (``2.5``), and the text that shows them says the length of a
  day once (``one day is 7 h``). Below one day, hours say it better than
  ``0.07 days``.

``h`` and ``min`` are the international symbols (the same in French), so
the text needs no translation; the word *day* is left to the caller, which
translates it.
"""

import math

# Float noise below this is ignored when rounding: 0.1 + 0.2 hours.
ROUNDING_DIGITS = 9
MINUS = "-"


def _check(value, what):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number, not {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite {what}")


def duration_minutes(hours):
    """Return ``hours`` as whole minutes (``int``), half a minute rounded
    away from zero (0.5 min -> 1, -0.5 min -> -1), ignoring float noise.

    :raises TypeError: when ``hours`` is not a number.
    :raises ValueError: on NaN or an infinity.
    """
    _check(hours, "duration")
    minutes = round(hours * 60, ROUNDING_DIGITS)
    return int(math.copysign(math.floor(abs(minutes) + 0.5), minutes))


def format_duration_human(hours):
    """Return ``hours`` (a float, e.g. 22.75) as ``22 h 45 min``.

    Examples: 0 -> ``0 min``; 0.25 -> ``15 min``; 7 -> ``7 h``;
    22.75 -> ``22 h 45 min``; -1.5 -> ``-1 h 30 min``; 1/60 -> ``1 min``;
    1234.5 -> ``1234 h 30 min``.

    :param float hours: a duration in hours (may be negative).
    :returns: ``str``
    :raises TypeError: when ``hours`` is not a number.
    :raises ValueError: on NaN or an infinity.
    """
    minutes = duration_minutes(hours)
    sign = MINUS if minutes < 0 else ""
    whole_hours, rest = divmod(abs(minutes), 60)
    if not whole_hours:
        return f"{sign}{rest} min"
    if not rest:
        return f"{sign}{whole_hours} h"
    return f"{sign}{whole_hours} h {rest} min"


def format_days(hours, day_hours):
    """Return ``hours`` in days of ``day_hours`` hours, as the text of a
    number (``2``, ``2.5``, ``-1.5``), or ``None`` below one day (in absolute
    value, once rounded), where days would only say ``0.07``.

    Days are rounded to one decimal, half up (away from zero), and a whole
    number of days has no decimal: 14 hours of 7-hour days are ``2``, 15
    hours ``2.1``, 17.5 hours ``2.5``.

    :param float hours: a duration in hours (may be negative).
    :param float day_hours: hours in one day (> 0, at most 24).
    :returns: ``str`` or ``None``
    :raises TypeError: when an argument is not a number.
    :raises ValueError: on a non-finite duration or a day that is not more
        than 0 and at most 24 hours.
    """
    _check(hours, "duration")
    _check(day_hours, "day length")
    if not 0 < day_hours <= 24:
        raise ValueError("a day lasts more than 0 and at most 24 hours")
    tenths = round(hours / day_hours * 10, ROUNDING_DIGITS)
    tenths = int(math.copysign(math.floor(abs(tenths) + 0.5), tenths))
    if abs(tenths) < 10:
        return None
    sign = MINUS if tenths < 0 else ""
    whole, decimal = divmod(abs(tenths), 10)
    if not decimal:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{decimal}"
