"""Tests of "quantity sold in this unit of measure -> retainer units",
without Odoo.

``addons/defining_retainer/tools/units.py`` is loaded by file path, so
neither ``odoo`` nor the addon package is imported. Results are compared with
exact fractions computed here, independently of the module's floats.
"""

import importlib.util
import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

UNITS_PY = (
    Path(__file__).resolve().parents[2]
    / "addons"
    / "defining_retainer"
    / "tools"
    / "units.py"
)


def _load_units():
    spec = importlib.util.spec_from_file_location("retainer_units", UNITS_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


units = _load_units()
quantity_to_units = units.quantity_to_units
round_half_up = units.round_half_up
uom_hours = units.uom_hours


def _reference_half_up(fraction):
    """Half up (away from zero) of an exact fraction."""
    whole = math.floor(abs(fraction) + Fraction(1, 2))
    return whole if fraction >= 0 else -whole


def test_module_is_pure():
    source = UNITS_PY.read_text()
    assert "import odoo" not in source
    assert "from odoo" not in source


# === round_half_up === #


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (0.4, 0),
        (0.5, 1),
        (1.5, 2),
        (2.5, 3),  # round() says 2
        (24.5, 25),
        (22.4, 22),
        (5.6, 6),
        (-0.5, -1),
        (-2.5, -3),
        (-2.4, -2),
        (1.15 * 10, 12),  # 11.499999999999998 in binary, 11.5 in decimal
        (0.1 + 0.2 + 0.2, 1),  # 0.5000000000000001
        (2.4999999, 2),  # a real difference, not float noise
    ],
)
def test_round_half_up(value, expected):
    assert round_half_up(value) == expected
    assert isinstance(round_half_up(value), int)


def test_round_half_up_differs_from_python_round():
    """Python's round() rounds half to even: the units announced and the
    units credited would disagree on every even .5."""
    for value in (0.5, 2.5, 4.5, 100.5):
        assert round_half_up(value) == round(value) + 1


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_round_half_up_refuses_non_finite(value):
    with pytest.raises(ValueError, match="finite"):
        round_half_up(value)


@given(st.integers(-(10**6), 10**6), st.integers(1, 1000))
def test_round_half_up_matches_exact_fractions(numerator, denominator):
    fraction = Fraction(numerator, denominator)
    assert round_half_up(numerator / denominator) == _reference_half_up(fraction)


# === uom_hours === #


@pytest.mark.parametrize(
    ("odoo_days", "day_hours", "expected"),
    [
        (1, 7, 7),  # Days: one retainer day
        (1, 7.5, 7.5),
        (5, 7, 35),  # a 5-day Week: five retainer days
        (1 / 8, 7, 1),  # Hours: real hours, whatever the retainer day
        (1 / 480, 7, 1 / 60),  # Minutes
        (0.5, 7, 4),  # a Half-day is shorter than a day: Odoo's 4 hours
    ],
)
def test_uom_hours(odoo_days, day_hours, expected):
    assert uom_hours(odoo_days, day_hours=day_hours) == pytest.approx(expected)


def test_uom_hours_follows_odoo_hour_length():
    """A database whose Hours unit makes 7 of a Day: an Hour is still one
    hour."""
    assert uom_hours(1 / 7, day_hours=7, odoo_day_hours=7) == pytest.approx(1)


@pytest.mark.parametrize(
    ("odoo_days", "day_hours", "odoo_day_hours"),
    [
        (0, 7, 8),
        (-1, 7, 8),
        (math.inf, 7, 8),
        (math.nan, 7, 8),
        (1, 0, 8),
        (1, 25, 8),
        (1, 7, 0),
    ],
)
def test_uom_hours_refuses_bad_input(odoo_days, day_hours, odoo_day_hours):
    with pytest.raises(ValueError):
        uom_hours(odoo_days, day_hours=day_hours, odoo_day_hours=odoo_day_hours)


# === quantity_to_units === #


@pytest.mark.parametrize(
    ("quantity", "units_per_uom", "uom_size", "product_uom_size", "expected"),
    [
        (2, 28, 1, 1, 56),  # 2 Retainer days sold in Units
        (1.3, 4, 1, 1, 5),  # 5.2
        (0.125, 4, 1, 1, 1),  # 0.5 rounds up
        (0.625, 4, 1, 1, 3),  # 2.5 rounds up, round() would say 2
        (1, 28, 12, 1, 336),  # a Dozen of days
        (7, 28, 1, 7, 28),  # 7 Hours of a product sold in 7-hour Days
        (7, 28, 1, 8, 25),  # the same on an 8-hour-day retainer: 24.5
        (1, 4, 7, 1, 28),  # a Day of a product sold in Hours
        (1, 4, 7.5, 1, 30),
        (30, 4, 1 / 60, 1, 2),  # 30 Minutes of an hourly product
        (0, 28, 1, 1, 0),
        (1, 0, 1, 1, 0),  # not a retainer product
        (-1, 28, 1, 1, -28),  # a credit note line
    ],
)
def test_quantity_to_units(
    quantity, units_per_uom, uom_size, product_uom_size, expected
):
    assert (
        quantity_to_units(
            quantity,
            units_per_uom,
            uom_size=uom_size,
            product_uom_size=product_uom_size,
        )
        == expected
    )


def test_hours_of_a_day_product_use_the_retainer_day():
    """The issue's case: 7 Hours of a product sold in Days (28 units a day)
    are 28 units on a 7-hour retainer day, not 25 (7/8 of Odoo's Day)."""
    day = uom_hours(1, day_hours=7)
    hour = uom_hours(1 / 8, day_hours=7)
    assert quantity_to_units(7, 28, uom_size=hour, product_uom_size=day) == 28
    assert quantity_to_units(1, 4, uom_size=day, product_uom_size=hour) == 28


@pytest.mark.parametrize(
    ("quantity", "units_per_uom", "uom_size", "product_uom_size"),
    [
        (math.nan, 28, 1, 1),
        (math.inf, 28, 1, 1),
        (1, -1, 1, 1),
        (1, math.nan, 1, 1),
        (1, 28, 0, 1),
        (1, 28, -1, 1),
        (1, 28, 1, 0),
        (1, 28, 1, math.inf),
    ],
)
def test_quantity_to_units_refuses_bad_input(
    quantity, units_per_uom, uom_size, product_uom_size
):
    with pytest.raises(ValueError):
        quantity_to_units(
            quantity,
            units_per_uom,
            uom_size=uom_size,
            product_uom_size=product_uom_size,
        )


@given(
    st.decimals(min_value=0, max_value=1000, places=2),
    st.integers(0, 200),
    st.sampled_from([1, 7, 7.5, 8, 12]),
    st.sampled_from([1, 7, 7.5, 8]),
)
def test_quantity_to_units_matches_decimal_half_up(
    quantity, units_per_uom, uom_size, product_uom_size
):
    """Against decimal arithmetic on the quantity as typed (two decimals,
    as Odoo stores quantities)."""
    exact = (
        quantity
        * units_per_uom
        * Decimal(str(uom_size))
        / Decimal(str(product_uom_size))
    )
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    result = quantity_to_units(
        float(quantity),
        units_per_uom,
        uom_size=uom_size,
        product_uom_size=product_uom_size,
    )
    assert result == expected


@given(st.integers(0, 10**4), st.integers(1, 200))
def test_whole_quantities_are_exact(quantity, units_per_uom):
    assert quantity_to_units(quantity, units_per_uom) == quantity * units_per_uom


def test_units_per_quantity():
    assert units.units_per_quantity(28, uom_size=1, product_uom_size=7) == 4
    assert units.units_per_quantity(28) == 28
    with pytest.raises(ValueError):
        units.units_per_quantity(-1)


def test_max_topup_quantity_is_one_hundred_retainer_days():
    # 28-unit days: 100 days, or 700 hours of 4 units, or 20 5-day packs.
    assert units.max_topup_quantity(28, day_units=28) == 100
    assert units.max_topup_quantity(4, day_units=28) == 700
    assert units.max_topup_quantity(140, day_units=28) == 20
    # A product worth more than the limit can still be ordered once.
    assert units.max_topup_quantity(10**6, day_units=28) == 1
    with pytest.raises(ValueError):
        units.max_topup_quantity(0, day_units=28)
