"""Statement periods (``tools/statement.py``) without Odoo.

The module is loaded by file path, so neither ``odoo`` nor the addon package
is imported. Every closed period is checked against a reference that walks
the calendar day by day.
"""

import importlib.util
import itertools
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

STATEMENT_PY = (
    Path(__file__).resolve().parents[2]
    / "addons"
    / "defining_retainer"
    / "tools"
    / "statement.py"
)


def _load_statement():
    spec = importlib.util.spec_from_file_location("retainer_statement", STATEMENT_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


statement = _load_statement()


def reference_periods(frequency, start, today):
    """Closed periods by walking the days: a period ends on the last day of
    a month (monthly) or of March, June, September, December (quarterly)."""
    months = {"monthly": 1, "quarterly": 3}[frequency]
    periods = []
    day = date_from = start
    while day < today:
        tomorrow = day + timedelta(days=1)
        if tomorrow.day == 1 and day.month % months == 0:
            periods.append((date_from, day))
            date_from = tomorrow
        day = tomorrow
    return periods


@pytest.mark.parametrize(
    ("frequency", "start", "today", "expected"),
    [
        ("monthly", date(2025, 1, 1), date(2025, 1, 31), []),
        (
            "monthly",
            date(2025, 1, 1),
            date(2025, 2, 1),
            [(date(2025, 1, 1), date(2025, 1, 31))],
        ),
        (
            "monthly",
            date(2024, 1, 15),
            date(2024, 3, 10),
            [
                (date(2024, 1, 15), date(2024, 1, 31)),
                (date(2024, 2, 1), date(2024, 2, 29)),
            ],
        ),
        ("quarterly", date(2025, 1, 1), date(2025, 3, 31), []),
        (
            "quarterly",
            date(2025, 2, 10),
            date(2025, 10, 1),
            [
                (date(2025, 2, 10), date(2025, 3, 31)),
                (date(2025, 4, 1), date(2025, 6, 30)),
                (date(2025, 7, 1), date(2025, 9, 30)),
            ],
        ),
        (
            "quarterly",
            date(2024, 11, 1),
            date(2025, 1, 2),
            [(date(2024, 11, 1), date(2024, 12, 31))],
        ),
        ("none", date(2024, 1, 1), date(2025, 1, 1), []),
        ("monthly", None, date(2025, 1, 1), []),
    ],
)
def test_closed_periods(frequency, start, today, expected):
    assert statement.closed_periods(frequency, start, today) == expected


def test_period_bounds():
    assert statement.period_start(date(2025, 5, 17), "monthly") == date(2025, 5, 1)
    assert statement.period_start(date(2025, 5, 17), "quarterly") == date(2025, 4, 1)
    assert statement.period_end(date(2025, 5, 17), "quarterly") == date(2025, 6, 30)
    assert statement.period_end(date(2025, 12, 1), "quarterly") == date(2025, 12, 31)
    assert statement.period_end(date(2024, 2, 3), "monthly") == date(2024, 2, 29)


@settings(max_examples=300, deadline=None)
@given(
    frequency=st.sampled_from(["monthly", "quarterly"]),
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
    days=st.integers(min_value=0, max_value=800),
)
def test_closed_periods_match_the_calendar(frequency, start, days):
    today = start + timedelta(days=days)
    periods = statement.closed_periods(frequency, start, today)
    assert periods == reference_periods(frequency, start, today)
    # Contiguous, from start, all closed.
    for (_from, end), (next_from, _end) in itertools.pairwise(periods):
        assert next_from == end + timedelta(days=1)
    assert not periods or (periods[0][0] == start and periods[-1][1] < today)
