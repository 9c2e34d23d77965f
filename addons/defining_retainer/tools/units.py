"""Turn a quantity sold into whole retainer units.

Pure Python on purpose (no Odoo import): the order line, the top-up wizard,
the portal's top-up request and the invoice side all count the units of a
quantity sold with these functions, so that what is announced is what is
credited. Tested without a database.

A retainer product credits ``units_per_uom`` units per unit of measure of
the product (Retainer day: 28 per Unit; a product sold in Days: 28 per Day).
A line may sell it in another unit of measure of the same category; both
are then measured by their *size*:

- count units (Units, Dozens): their size in Units, Odoo's own ratio (a
  Dozen is 12);
- working time (Hours, Days, ...): their length in hours **on the
  retainer**, see ``uom_hours``. Odoo measures working time against its
  8-hour Day; a retainer day is the retainer's own ``day_hours`` (7 by
  default), so 7 Hours of a product sold in Days are one retainer day, 28
  units, not 7/8 of an Odoo Day.

Units are whole: a fraction is rounded half up (2.5 -> 3, never Python's
half-to-even ``round``, which gives 2).
"""

import math

# Float noise below this is ignored when rounding: 1.15 * 10 is
# 11.499999999999998 in binary, and must round as 11.5.
ROUNDING_DIGITS = 9
ODOO_DAY_HOURS = 8.0


def round_half_up(value):
    """Return ``value`` rounded to the nearest integer, halves away from zero
    (2.5 -> 3, -2.5 -> -3), ignoring float noise below 1e-9.

    :param float value: a finite number.
    :returns: ``int``
    :raises ValueError: on NaN or an infinity.
    """
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    value = round(value, ROUNDING_DIGITS)
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def uom_hours(odoo_days, *, day_hours, odoo_day_hours=ODOO_DAY_HOURS):
    """Return how many hours one unit of a working-time unit of measure lasts
    on a retainer whose day is ``day_hours`` hours.

    A unit of at least one Odoo Day (Days, a 5-day Week) counts in retainer
    days: a Day is ``day_hours``, a Week of 5 Days is ``5 * day_hours``. A
    shorter unit (Hours, Minutes, a 4-hour Half-day) is real time: its hours
    as Odoo defines them (an Hour is 1, a Minute 1/60).

    :param float odoo_days: size of the unit in Odoo Days (Days 1, Hours
        1/8 with Odoo's 8-hour Day).
    :param float day_hours: hours in one retainer day (> 0, at most 24).
    :param float odoo_day_hours: hours in Odoo's Day (the ratio of its Hours
        unit to its Days unit, 8 by default).
    :returns: ``float`` hours (> 0).
    :raises ValueError: on a non-positive size or day.
    """
    if not 0 < day_hours <= 24 or not 0 < odoo_day_hours <= 24:
        raise ValueError("a day lasts more than 0 and at most 24 hours")
    if not 0 < odoo_days < math.inf:
        raise ValueError(f"{odoo_days!r} is not the size of a unit of measure")
    if round(odoo_days, ROUNDING_DIGITS) >= 1:
        return odoo_days * day_hours
    return odoo_days * odoo_day_hours


def _check_product(units_per_uom, uom_size, product_uom_size):
    if not 0 <= units_per_uom < math.inf:
        raise ValueError(f"a product cannot credit {units_per_uom!r} units")
    if not (0 < uom_size < math.inf and 0 < product_uom_size < math.inf):
        raise ValueError("the size of a unit of measure must be positive")


def units_per_quantity(units_per_uom, *, uom_size=1.0, product_uom_size=1.0):
    """Return the units (``float``, not rounded) that one quantity of a line
    unit of size ``uom_size`` is worth, for a product crediting
    ``units_per_uom`` per unit of measure of size ``product_uom_size``.

    Both sizes are in the same measure: Units for count units, hours on the
    retainer for working time (``uom_hours``).

    :raises ValueError: on negative units or a non-positive size.
    """
    _check_product(units_per_uom, uom_size, product_uom_size)
    return units_per_uom * uom_size / product_uom_size


def quantity_to_units(quantity, units_per_uom, *, uom_size=1.0, product_uom_size=1.0):
    """Return the whole units credited for ``quantity`` sold in a unit of
    measure of size ``uom_size``, of a product crediting ``units_per_uom``
    units per its own unit of measure (of size ``product_uom_size``),
    rounded half up.

    Examples, with 15-minute units and 7-hour retainer days: 2 Units of a
    28-unit product are 56; 1.3 Units of a 4-unit product are 5 (5.2);
    0.125 Units of a 4-unit product are 1 (0.5 rounds up); 7 Hours (size 1
    hour) of a product crediting 28 per Day (size 7 hours) are 28.

    :param float quantity: quantity in the line's unit of measure (may be
        negative, e.g. a credit note line; rounded half away from zero).
    :param int units_per_uom: units the product credits per its own unit of
        measure (its ``retainer_units``, >= 0).
    :param float uom_size: size of the line's unit of measure (> 0).
    :param float product_uom_size: size of the product's unit of measure
        (> 0), in the same measure as ``uom_size``.
    :returns: ``int`` units.
    :raises ValueError: on a non-finite quantity, negative units or a
        non-positive size.
    """
    if not math.isfinite(quantity):
        raise ValueError(f"{quantity!r} is not a quantity")
    _check_product(units_per_uom, uom_size, product_uom_size)
    # Multiplied before dividing: 7 (hours) * 28 * 1 / 7 is exactly 28.
    return round_half_up(quantity * units_per_uom * uom_size / product_uom_size)


# The most one top-up may credit, in retainer days: one portal purchase (the
# portal's buy form counts with the same number) and one automatic top-up.
MAX_TOPUP_DAYS = 100


def max_topup_quantity(units_per_quantity, *, day_units, max_days=MAX_TOPUP_DAYS):
    """Return the largest whole quantity of a product crediting
    ``units_per_quantity`` units each that one top-up may order: at most
    ``max_days`` retainer days of ``day_units`` units, and at least 1.

    :raises ValueError: on a product crediting no unit.
    """
    if units_per_quantity <= 0:
        raise ValueError("a retainer product credits at least one unit")
    return max(1, math.floor(max_days * day_units / units_per_quantity))
