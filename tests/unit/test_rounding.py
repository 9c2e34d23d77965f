"""Exhaustive and property tests of the unit rounding rule, without Odoo.

``addons/defining_retainer/tools/rounding.py`` is loaded by file path, so
neither ``odoo`` nor the addon package is imported. Every result is compared
with a reference written here in whole minutes and closed-form integer
arithmetic, independently of the addon's ``divmod`` implementation. The rule
itself is in the "Units and rounding" section of the business rules.
"""

import ast
import importlib.util
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROUNDING_PY = (
    Path(__file__).resolve().parents[2]
    / "addons"
    / "defining_retainer"
    / "tools"
    / "rounding.py"
)


def _load_rounding():
    spec = importlib.util.spec_from_file_location("retainer_rounding", ROUNDING_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rounding = _load_rounding()
duration_to_units = rounding.duration_to_units
METHODS = ("grace", "up", "down", "nearest")
DAY_MINUTES = 24 * 60


def reference_units(minutes, method, unit=15, grace=5, min_units=1):
    """Units for a whole number of minutes, by closed-form integer formulas."""
    if minutes == 0:
        return 0
    if method == "down":
        units = minutes // unit
    elif method == "up":
        units = -(-minutes // unit)
    elif method == "nearest":
        # Half-up at half a unit: floor(minutes / unit + 1/2).
        units = (2 * minutes + unit) // (2 * unit)
    else:
        # Grace: the first `grace` minutes past a unit boundary are free, so
        # this is "round up" of the duration less the grace.
        units = -(-(minutes - grace) // unit) if minutes > grace else 0
    return max(units, min_units)


def hms(hours=0, minutes=0, seconds=0):
    """A duration in decimal hours, as Odoo stores ``unit_amount``."""
    return (hours * 3600 + minutes * 60 + seconds) / 3600


# === The module itself ===


def test_rounding_module_imports_nothing_from_odoo():
    tree = ast.parse(ROUNDING_PY.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not {name for name in imported if name.split(".")[0] == "odoo"}
    assert all(
        node.level == 0 for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    )


def test_methods_are_the_four_of_the_rules():
    assert set(rounding.METHODS) == set(METHODS)


# === Exhaustive: every minute of a day, each method ===


@pytest.mark.parametrize("method", METHODS)
def test_every_minute_of_a_day_matches_reference(method):
    wrong = [
        (minutes, got, want)
        for minutes in range(DAY_MINUTES + 1)
        if (got := duration_to_units(minutes / 60, method=method))
        != (want := reference_units(minutes, method))
    ]
    assert not wrong, f"(minutes, got, expected) first mismatches: {wrong[:10]}"


@pytest.mark.parametrize("method", METHODS)
def test_every_minute_as_hours_and_minutes_sum(method):
    # The same durations built the way a form does: whole hours plus a
    # float fraction, which is not always the exact double of minutes / 60.
    wrong = [
        minutes
        for minutes in range(DAY_MINUTES + 1)
        if duration_to_units(minutes // 60 + (minutes % 60) / 60, method=method)
        != reference_units(minutes, method)
    ]
    assert not wrong, f"first mismatching minutes: {wrong[:10]}"


@pytest.mark.parametrize(
    ("unit", "grace", "min_units"),
    [
        (15, 0, 1),
        (15, 7, 1),
        (15, 14, 1),
        (6, 2, 1),
        (10, 3, 0),
        (30, 10, 2),
        (60, 5, 1),
    ],
)
@pytest.mark.parametrize("method", METHODS)
def test_other_policies_match_reference(method, unit, grace, min_units):
    wrong = [
        minutes
        for minutes in range(DAY_MINUTES + 1)
        if duration_to_units(
            minutes / 60,
            unit_minutes=unit,
            grace_minutes=grace,
            min_units=min_units,
            method=method,
        )
        != reference_units(minutes, method, unit, grace, min_units)
    ]
    assert not wrong, f"first mismatching minutes: {wrong[:10]}"


def test_default_method_is_grace():
    assert all(
        duration_to_units(m / 60) == duration_to_units(m / 60, method="grace")
        for m in range(DAY_MINUTES + 1)
    )


# === The table of the business rules ===


@pytest.mark.parametrize(
    ("hours", "minutes", "units"),
    [
        (3, 37, 15),
        (3, 5, 12),
        (7, 0, 28),
        (0, 3, 1),
        (0, 15, 1),
        (0, 20, 1),
        (0, 21, 2),
        (0, 0, 0),
    ],
)
def test_rules_table(hours, minutes, units):
    assert duration_to_units(hms(hours, minutes)) == units
    assert rounding.units_to_hours(units) == pytest.approx(units / 4)


def test_one_day_is_28_units_and_28_incidents_of_15_minutes():
    assert duration_to_units(7.0) == 28
    assert sum(duration_to_units(0.25) for _ in range(28)) == 28


def test_units_are_ints():
    for method in METHODS:
        assert type(duration_to_units(3.6166666666666667, method=method)) is int
        assert type(duration_to_units(0.0, method=method)) is int


# === Grace boundaries, to the second ===


@pytest.mark.parametrize("full_units", [0, 1, 2, 14, 27, 95])
def test_grace_boundary_to_the_second(full_units):
    base = full_units * 15 * 60
    at_grace = base + 5 * 60
    expected_low = max(full_units, 1)
    # Exactly 5 minutes past a boundary is still free, 1 second more is not.
    assert duration_to_units(hms(seconds=at_grace - 1)) == expected_low
    assert duration_to_units(hms(seconds=at_grace)) == expected_low
    assert duration_to_units(hms(seconds=at_grace + 1)) == full_units + 1


@pytest.mark.parametrize("full_units", [1, 2, 14, 28, 96])
def test_unit_boundary_to_the_second(full_units):
    boundary = full_units * 15 * 60
    assert duration_to_units(hms(seconds=boundary - 1)) == full_units
    assert duration_to_units(hms(seconds=boundary)) == full_units
    assert duration_to_units(hms(seconds=boundary + 1)) == full_units
    assert duration_to_units(hms(seconds=boundary + 1), method="up") == full_units + 1
    assert (
        duration_to_units(hms(seconds=boundary - 1), method="down", min_units=0)
        == full_units - 1
    )


@pytest.mark.parametrize("full_units", [0, 1, 14])
def test_nearest_half_up_to_the_second(full_units):
    half = full_units * 15 * 60 + 450  # 7 min 30 s past the boundary
    assert duration_to_units(hms(seconds=half - 1), method="nearest", min_units=0) == (
        full_units
    )
    assert duration_to_units(hms(seconds=half), method="nearest") == full_units + 1


def test_one_second_costs_the_minimum():
    assert duration_to_units(hms(seconds=1)) == 1
    assert duration_to_units(hms(seconds=1), min_units=0) == 0
    assert duration_to_units(hms(seconds=1), method="up", min_units=0) == 1


# === Minimum units ===


@pytest.mark.parametrize("min_units", [0, 1, 2, 4])
def test_min_units(min_units):
    assert duration_to_units(hms(minutes=3), min_units=min_units) == min_units
    assert duration_to_units(hms(minutes=40), min_units=min_units) == max(3, min_units)
    assert duration_to_units(hms(3), min_units=min_units) == 12
    # A zero duration costs nothing whatever the minimum.
    assert duration_to_units(0, min_units=min_units) == 0


def test_min_units_zero_lets_short_work_cost_nothing():
    assert duration_to_units(hms(minutes=5), min_units=0) == 0
    assert duration_to_units(hms(minutes=6), min_units=0) == 1


# === Refusals ===


@pytest.mark.parametrize("hours", [-1 / 3600, -0.25, -1, -3.6166666666666667, -24.0])
@pytest.mark.parametrize("method", METHODS)
def test_negative_duration_raises(hours, method):
    with pytest.raises(ValueError):
        duration_to_units(hours, method=method)


@pytest.mark.parametrize(
    "policy",
    [
        {"method": "nearest-up"},
        {"method": ""},
        {"method": None},
        {"method": "GRACE"},
        {"unit_minutes": 0},
        {"unit_minutes": -15},
        {"grace_minutes": -1},
        {"grace_minutes": 15},
        {"grace_minutes": 20},
        {"unit_minutes": 10, "grace_minutes": 10},
        {"min_units": -1},
    ],
)
def test_invalid_policy_raises(policy):
    with pytest.raises(ValueError):
        duration_to_units(1.0, **policy)
    # Refused even for a zero duration: a bad policy is never silently used.
    with pytest.raises(ValueError):
        duration_to_units(0.0, **policy)


# === Float edge cases ===


@pytest.mark.parametrize(
    ("hours", "units"),
    [
        # 3h05 typed as decimal hours, at several precisions.
        (3.0833333, 12),
        (3.0833333333333335, 12),
        (3 + 5 / 60, 12),
        (185 / 60, 12),
        (3.08, 12),  # 3h04m48s
        (3.09, 13),  # 3h05m24s: past the grace
        # 3h37 (float_time widget value and typed decimals).
        (217 / 60, 15),
        (3.6166666666666667, 15),
        (3.6166667, 15),
        (3.62, 15),
        # 0h20 / 0h21 / 0h05 as the float_time widget stores them.
        (1 / 3, 1),
        (0.3333333333333333, 1),
        (0.35, 2),
        (5 / 60, 1),
        (0.08333333333333333, 1),
        (0.05, 1),
        # Whole and binary-exact values.
        (7, 28),
        (7.0, 28),
        (0.25, 1),
        (0.5, 2),
        (24.0, 96),
        # Sums of decimals that are not exact in binary.
        (0.1 + 0.2, 1),  # 18 min
        (sum([0.1] * 10), 4),  # 1 h
        (1.3333333333333333, 5),  # 1h20
        # Negative zero and sub-second noise normalise to zero seconds.
        (-0.0, 0),
        (1e-9, 0),
        (0.4 / 3600, 0),
    ],
)
def test_float_edge_cases(hours, units):
    assert duration_to_units(hours) == units


def test_float_noise_never_crosses_a_boundary():
    # For every minute, the neighbouring doubles (one ulp away) of
    # minutes / 60 give the same units as the exact value.
    for minutes in range(DAY_MINUTES + 1):
        hours = minutes / 60
        want = reference_units(minutes, "grace")
        for noisy in (math.nextafter(hours, -1), math.nextafter(hours, 100)):
            if noisy < 0:
                continue
            assert duration_to_units(noisy) == want, (minutes, noisy)


def test_units_to_hours():
    assert rounding.units_to_hours(15) == 3.75
    assert rounding.units_to_hours(28) == 7.0
    assert rounding.units_to_hours(0) == 0
    assert rounding.units_to_hours(-4) == -1.0
    assert rounding.units_to_hours(2, unit_minutes=30) == 1.0


# === Properties (hypothesis) ===

policies = st.integers(min_value=1, max_value=120).flatmap(
    lambda unit: st.fixed_dictionaries(
        {
            "unit_minutes": st.just(unit),
            "grace_minutes": st.integers(min_value=0, max_value=unit - 1),
            "min_units": st.integers(min_value=0, max_value=8),
        }
    )
)
# Whole seconds up to two days, and arbitrary float hours.
seconds = st.integers(min_value=0, max_value=2 * 86400)
float_hours = st.floats(min_value=0, max_value=48, allow_nan=False)
SETTINGS = settings(max_examples=300, deadline=None)


@SETTINGS
@given(policy=policies, method=st.sampled_from(METHODS), a=float_hours, b=float_hours)
def test_monotonic_in_duration(policy, method, a, b):
    low, high = sorted((a, b))
    assert duration_to_units(low, method=method, **policy) <= duration_to_units(
        high, method=method, **policy
    )


@SETTINGS
@given(policy=policies, secs=seconds)
def test_grace_never_bills_less_than_entered_minus_grace(policy, secs):
    units = duration_to_units(secs / 3600, method="grace", **policy)
    billed = units * policy["unit_minutes"] * 60
    assert billed >= secs - policy["grace_minutes"] * 60
    # ...and never more than one unit above what was entered.
    assert billed < secs + policy["unit_minutes"] * 60 or units == policy["min_units"]


@SETTINGS
@given(policy=policies, secs=seconds)
def test_down_le_grace_le_up(policy, secs):
    hours = secs / 3600
    down = duration_to_units(hours, method="down", **policy)
    grace = duration_to_units(hours, method="grace", **policy)
    nearest = duration_to_units(hours, method="nearest", **policy)
    up = duration_to_units(hours, method="up", **policy)
    assert down <= grace <= up
    assert down <= nearest <= up
    assert up - down <= 1


@SETTINGS
@given(policy=policies, method=st.sampled_from(METHODS), secs=seconds)
def test_positive_duration_costs_at_least_min_units(policy, method, secs):
    units = duration_to_units(secs / 3600, method=method, **policy)
    if secs > 0:
        assert units >= policy["min_units"]
    else:
        assert units == 0


@SETTINGS
@given(
    policy=policies,
    method=st.sampled_from(METHODS),
    minutes=st.integers(min_value=0, max_value=2 * DAY_MINUTES),
)
def test_matches_reference_for_any_policy(policy, method, minutes):
    assert duration_to_units(minutes / 60, method=method, **policy) == reference_units(
        minutes,
        method,
        policy["unit_minutes"],
        policy["grace_minutes"],
        policy["min_units"],
    )


@SETTINGS
@given(hours=st.floats(min_value=-1e6, max_value=-1 / 3600))
def test_any_negative_duration_raises(hours):
    with pytest.raises(ValueError):
        duration_to_units(hours)


@pytest.mark.parametrize("hours", [math.inf, -math.inf, math.nan, 1e300, -5e304])
def test_non_finite_or_absurd_durations_raise(hours):
    with pytest.raises(ValueError):
        rounding.duration_to_units(hours)


# === Policy check shared by the company defaults and each retainer ===


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ({"unit_minutes": 0}, "unit_minutes"),
        ({"unit_minutes": -15}, "unit_minutes"),
        ({"grace_minutes": -1}, "grace_minutes"),
        ({"grace_minutes": 15}, "grace_minutes"),
        ({"unit_minutes": 5}, "grace_minutes"),
        ({"min_units": -1}, "min_units"),
        ({"day_hours": 0}, "day_hours"),
        ({"day_hours": -7}, "day_hours"),
        ({"day_hours": 24.01}, "day_hours"),
        ({"day_hours": 30}, "day_hours"),
        ({"day_hours": float("nan")}, "day_hours"),
        ({}, None),
        ({"unit_minutes": 1, "grace_minutes": 0, "min_units": 0}, None),
        ({"day_hours": 24}, None),
        ({"day_hours": None}, None),
    ],
)
def test_policy_error(policy, problem):
    base = {"unit_minutes": 15, "grace_minutes": 5, "min_units": 1, "day_hours": 7.0}
    assert rounding.policy_error(**(base | policy)) == problem


@given(
    unit=st.integers(-5, 60),
    grace=st.integers(-5, 60),
    min_units=st.integers(-3, 3),
)
def test_policy_error_matches_what_rounds(unit, grace, min_units):
    """A policy policy_error accepts rounds; one it refuses raises."""
    policy = {"unit_minutes": unit, "grace_minutes": grace, "min_units": min_units}
    if rounding.policy_error(**policy) is None:
        assert duration_to_units(1.0, **policy) >= 0
    else:
        with pytest.raises(ValueError):
            duration_to_units(1.0, **policy)
