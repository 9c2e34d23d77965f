"""Tests of the duration people read ("22 h 45 min"), without Odoo.

``addons/defining_retainer/tools/durations.py`` is loaded by file path, so
neither ``odoo`` nor the addon package is imported. Expected texts are
written out, and the property tests rebuild the text from exact fractions.
"""

import importlib.util
import math
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

DURATIONS_PY = (
    Path(__file__).resolve().parents[2]
    / "addons"
    / "defining_retainer"
    / "tools"
    / "durations.py"
)


def _load():
    spec = importlib.util.spec_from_file_location("retainer_durations", DURATIONS_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


durations = _load()
format_duration_human = durations.format_duration_human
format_days = durations.format_days
duration_minutes = durations.duration_minutes

CLOCK_TIME = re.compile(r"\d:\d\d")
HUMAN = re.compile(
    r"^-?(?:(?:[1-9]\d*) h(?: (?:[1-9]|[1-5]\d) min)?|(?:\d|[1-5]\d) min)$"
)


def test_module_is_pure():
    source = DURATIONS_PY.read_text()
    assert "import odoo" not in source
    assert "from odoo" not in source


# === format_duration_human === #


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (0, "0 min"),
        (0.0, "0 min"),
        (-0.0, "0 min"),
        (1 / 60, "1 min"),
        (0.25, "15 min"),
        (0.5, "30 min"),
        (0.95, "57 min"),
        (59 / 60, "59 min"),
        (1, "1 h"),
        (1.0, "1 h"),
        (1.5, "1 h 30 min"),
        (7, "7 h"),
        (14, "14 h"),
        (22.75, "22 h 45 min"),
        (1 + 1 / 60, "1 h 1 min"),
        (24, "24 h"),
        (100.25, "100 h 15 min"),
        (1234.5, "1234 h 30 min"),
        (-0.25, "-15 min"),
        (-1.5, "-1 h 30 min"),
        (-7, "-7 h"),
        # rounding to the minute: half a minute up, float noise ignored
        (0.1 + 0.2, "18 min"),
        (0.5 / 60, "1 min"),
        (0.49 / 60, "0 min"),
        (-0.5 / 60, "-1 min"),
        (-0.49 / 60, "0 min"),
        (59.5 / 60, "1 h"),
        (1 + 59.4 / 60, "1 h 59 min"),
        (1 + 59.5 / 60, "2 h"),
        (7.999999999999, "8 h"),
    ],
)
def test_format_duration_human(hours, expected):
    assert format_duration_human(hours) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_format_duration_human_refuses_non_finite(value):
    with pytest.raises(ValueError, match="finite"):
        format_duration_human(value)


@pytest.mark.parametrize("value", [None, "1:30", "1.5", True, [1]])
def test_format_duration_human_refuses_non_numbers(value):
    with pytest.raises(TypeError, match="number"):
        format_duration_human(value)


@given(st.integers(-(10**6), 10**6))
def test_whole_minutes_read_back_exactly(minutes):
    text = format_duration_human(minutes / 60)
    assert HUMAN.match(text), text
    assert not CLOCK_TIME.search(text)
    sign = -1 if text.startswith("-") else 1
    hours = re.search(r"(\d+) h", text)
    mins = re.search(r"(\d+) min", text)
    total = int(hours.group(1)) * 60 if hours else 0
    total += int(mins.group(1)) if mins else 0
    assert sign * total == minutes


@given(st.floats(min_value=-(10**5), max_value=10**5, allow_nan=False))
def test_any_float_is_human_and_within_half_a_minute(hours):
    text = format_duration_human(hours)
    assert HUMAN.match(text), text
    minutes = duration_minutes(hours)
    assert abs(minutes - hours * 60) <= 0.5 + 1e-6
    assert format_duration_human(minutes / 60) == text


@given(st.integers(0, 10**6))
def test_sign_is_symmetric(minutes):
    positive = format_duration_human(minutes / 60)
    negative = format_duration_human(-minutes / 60)
    assert negative == (positive if minutes == 0 else "-" + positive)


# === format_days === #


@pytest.mark.parametrize(
    ("hours", "day_hours", "expected"),
    [
        (14, 7, "2"),
        (7, 7, "1"),
        (15, 7, "2.1"),
        (17.5, 7, "2.5"),
        (8, 8, "1"),
        (12, 8, "1.5"),
        (-10.5, 7, "-1.5"),
        (-7, 7, "-1"),
        (700, 7, "100"),
        (6.65, 7, "1"),  # 0.95 day rounds to 1.0: shown as one day
        (6.6, 7, "None"),  # 0.94 day: hours say it better
        (0.5, 7, "None"),  # "0.07 days" is never written
        (0, 7, "None"),
        (3.5, 7, "None"),
        (24, 24, "1"),
        (7.35, 7, "1.1"),  # 1.05 rounds half up
        (7.34, 7, "1"),
    ],
)
def test_format_days(hours, day_hours, expected):
    assert str(format_days(hours, day_hours)) == expected


@pytest.mark.parametrize("day_hours", [0, -7, 24.5, math.inf, math.nan])
def test_format_days_refuses_a_bad_day(day_hours):
    with pytest.raises(ValueError):
        format_days(7, day_hours)


@pytest.mark.parametrize("hours", [math.nan, math.inf])
def test_format_days_refuses_non_finite_hours(hours):
    with pytest.raises(ValueError, match="finite"):
        format_days(hours, 7)


def test_format_days_refuses_non_numbers():
    with pytest.raises(TypeError, match="number"):
        format_days("14", 7)


@given(st.integers(-(10**5), 10**5), st.sampled_from([4, 7, 7.5, 8, 12]))
def test_days_match_exact_fractions(quarter_hours, day_hours):
    hours = quarter_hours / 4
    exact = Fraction(quarter_hours, 4) / Fraction(day_hours) * 10
    tenths = math.floor(abs(exact) + Fraction(1, 2)) * (1 if exact >= 0 else -1)
    text = format_days(hours, day_hours)
    if abs(tenths) < 10:
        assert text is None
        return
    assert text is not None
    assert re.fullmatch(r"-?[1-9]\d*(\.[1-9])?", text), text
    assert Fraction(text) == Fraction(tenths, 10)
