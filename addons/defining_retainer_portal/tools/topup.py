"""Arithmetic of a customer's top-up request.

Pure Python on purpose (no Odoo import): the checks run on untrusted portal
input and are tested without a database.
"""

import math

UNIT_DAY = "day"
UNIT_HOUR = "hour"
UNITS = (UNIT_DAY, UNIT_HOUR)


def parse_quantity(value):
    """Return ``value`` (a form field) as a finite float, or ``None`` when it
    is empty, not a number, infinite or NaN."""
    if isinstance(value, bool):
        return None
    try:
        # Browsers send number inputs with a dot whatever the language; a
        # comma is refused rather than guessed (decimal or thousands?).
        quantity = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return quantity if math.isfinite(quantity) else None


def units_per(unit, *, unit_minutes, day_hours):
    """Return how many units (float) one ``unit`` (``day`` or ``hour``) is
    worth under a contract of ``unit_minutes``-minute units and
    ``day_hours``-hour days.

    :raises ValueError: on an unknown unit or a non-positive policy.
    """
    if unit_minutes <= 0 or day_hours <= 0:
        raise ValueError("the unit length and the day must be positive")
    if unit == UNIT_HOUR:
        return 60 / unit_minutes
    if unit == UNIT_DAY:
        return day_hours * 60 / unit_minutes
    raise ValueError(f"unknown unit {unit!r}")


def requested_units(quantity, unit, *, unit_minutes, day_hours):
    """Return the whole number of units ``quantity`` ``unit`` make, or
    ``None`` when that is not a whole number (e.g. 10 minutes).

    :raises ValueError: on an unknown unit or a non-positive policy.
    """
    units = quantity * units_per(unit, unit_minutes=unit_minutes, day_hours=day_hours)
    whole = round(units)
    return whole if math.isclose(units, whole, abs_tol=1e-6) else None


def max_quantity(unit, *, day_hours, max_days):
    """Return the largest quantity of ``unit`` one request may ask for:
    ``max_days`` retainer days of ``day_hours`` hours (the core's bound of
    one top-up, ``tools/units.py`` of defining_retainer)."""
    return max_days if unit == UNIT_DAY else max_days * day_hours


def parse_whole_quantity(value):
    """Return ``value`` (a form field) as a positive int, or ``None`` when it
    is not a whole number (``"2"``, ``"2.0"``: 2; ``"2.5"``, ``"x"``: None)."""
    quantity = parse_quantity(value)
    if quantity is None or quantity != int(quantity):
        return None
    return int(quantity)
