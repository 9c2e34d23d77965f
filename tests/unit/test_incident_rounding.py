"""Exhaustive and property tests of the incident rounding rule, without Odoo.

An incident's units are the rounding policy applied once to its total time,
each entry weighted by its rate (``incident_units`` in
``addons/defining_retainer/tools/rounding.py``, loaded by file path). The
reference below sums whole minutes and reuses the closed-form formulas of
``test_rounding.py``; the worked examples are those of the README's
"Incidents" section.
"""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_rounding import METHODS, hms, reference_units, rounding

incident_units = rounding.incident_units
duration_to_units = rounding.duration_to_units

POLICIES = [
    # (unit, grace, min_units)
    (15, 5, 1),
    (15, 0, 0),
    (15, 14, 1),
    (10, 3, 0),
    (30, 10, 2),
    (6, 2, 1),
]
minutes_lists = st.lists(st.integers(min_value=0, max_value=24 * 60), max_size=12)
policies = st.sampled_from(POLICIES)
methods = st.sampled_from(METHODS)
rates = st.sampled_from([0.0, 0.5, 1.0, 1.25, 1.5, 2.0, 3.0])


def _policy(method, unit, grace, min_units):
    return {
        "unit_minutes": unit,
        "grace_minutes": grace,
        "min_units": min_units,
        "method": method,
    }


def _in_minutes(minutes, rate=1.0):
    return [(m / 60, rate) for m in minutes]


def _per_entry(minutes, policy):
    return sum(duration_to_units(m / 60, **policy) for m in minutes)


# === The worked examples (README, section "Incidents") ===


@pytest.mark.parametrize(
    ("minutes", "per_entry", "per_incident"),
    [
        ([45, 45, 5], 7, 6),  # the call, remote work, follow-up
        ([4, 4, 4, 4, 4], 5, 1),  # five 4-minute calls on one ticket
        ([120, 97], 15, 15),  # the seed's 3h37 logged as 2h00 + 1h37
        ([217], 15, 15),  # ... and in one entry: 3h45 billed
        ([40, 45], 6, 6),  # 0:40 then a 0:45 line: 1h25 is 6 units
        ([10, 45], 4, 4),  # the 0:40 edited to 0:10: 0:55 is 4 units
        ([15] * 28, 28, 28),  # a day is 28 incidents of 15 minutes
    ],
)
def test_worked_examples(minutes, per_entry, per_incident):
    assert _per_entry(minutes, _policy("grace", 15, 5, 1)) == per_entry
    assert incident_units(_in_minutes(minutes)) == per_incident


def test_no_entries_and_zero_durations_cost_nothing():
    assert incident_units([]) == 0
    assert incident_units([(0.0, 1.0), (0.0, 2.0)]) == 0
    # A zero rate makes the time free, so no minimum applies either.
    assert incident_units([(1.0, 0.0)]) == 0


def test_minimum_applies_once_per_incident():
    policy = _policy("up", 15, 0, 2)
    assert incident_units(_in_minutes([1, 1, 1]), **policy) == 2
    assert _per_entry([1, 1, 1], policy) == 6


def test_rates_weight_each_entry_before_summing():
    # 0:30 on-site at 2.0 plus 0:30 by phone at 1.0 is 1h30 weighted: 6 units.
    assert incident_units([(0.5, 2.0), (0.5, 1.0)]) == 6
    # 0:10 at 1.5 is 15 minutes: one unit; with 0:10 at 1.0, 25 minutes: 2.
    assert incident_units([(hms(minutes=10), 1.5)]) == 1
    assert incident_units([(hms(minutes=10), 1.5), (hms(minutes=10), 1.0)]) == 2


def test_units_are_ints():
    for method in METHODS:
        units = incident_units([(3.6166666666666667, 1.0), (0.1, 1.5)], method=method)
        assert type(units) is int


# === Exhaustive: every pair of durations up to 2 hours, minute by minute ===


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("unit", "grace", "min_units"), POLICIES)
def test_pairs_match_reference_of_the_total(method, unit, grace, min_units):
    policy = _policy(method, unit, grace, min_units)
    wrong = [
        (a, b)
        for a, b in itertools.product(range(121), repeat=2)
        if incident_units(_in_minutes([a, b]), **policy)
        != reference_units(a + b, method, unit, grace, min_units)
    ]
    assert not wrong, f"first mismatching (minutes, minutes): {wrong[:10]}"


@pytest.mark.parametrize("method", METHODS)
def test_single_entry_costs_what_it_costs_per_entry(method):
    for minutes in range(24 * 60 + 1):
        for rate in (0.5, 1.0, 1.5, 2.0):
            assert incident_units(
                [(minutes / 60, rate)], method=method
            ) == duration_to_units(minutes / 60 * rate, method=method), (minutes, rate)


# === Properties ===


@settings(max_examples=300, deadline=None)
@given(minutes=minutes_lists, policy=policies, method=methods, data=st.data())
def test_order_of_entries_does_not_matter(minutes, policy, method, data):
    kwargs = _policy(method, *policy)
    entries = [(m / 60, data.draw(rates)) for m in minutes]
    shuffled = data.draw(st.permutations(entries))
    assert incident_units(shuffled, **kwargs) == incident_units(entries, **kwargs)


@settings(max_examples=300, deadline=None)
@given(
    minutes=minutes_lists,
    extra=st.integers(min_value=0, max_value=8 * 60),
    rate=rates,
    policy=policies,
    method=methods,
)
def test_adding_time_never_lowers_units(minutes, extra, rate, policy, method):
    kwargs = _policy(method, *policy)
    before = incident_units(_in_minutes(minutes), **kwargs)
    # A new entry...
    assert incident_units(_in_minutes(minutes) + [(extra / 60, rate)], **kwargs) >= (
        before
    )
    # ... or a longer one.
    if minutes:
        longer = [minutes[0] + extra, *minutes[1:]]
        assert incident_units(_in_minutes(longer), **kwargs) >= before


@settings(max_examples=300, deadline=None)
@given(minutes=minutes_lists, policy=policies)
def test_up_never_costs_more_than_per_entry(minutes, policy):
    kwargs = _policy("up", *policy)
    assert incident_units(_in_minutes(minutes), **kwargs) <= _per_entry(minutes, kwargs)


@settings(max_examples=500, deadline=None)
@given(minutes=minutes_lists, policy=policies, method=methods)
def test_at_most_one_unit_more_per_entry_beyond_the_first(minutes, policy, method):
    # The honest bound for every method: rounding the total can gain at most
    # one unit per entry beyond the first over rounding entry by entry.
    kwargs = _policy(method, *policy)
    entries = sum(1 for m in minutes if m)
    assert incident_units(_in_minutes(minutes), **kwargs) <= _per_entry(
        minutes, kwargs
    ) + max(entries - 1, 0)


@pytest.mark.parametrize(
    ("method", "policy", "minutes", "per_entry", "per_incident"),
    [
        # The default policy: each 0:20 is one unit (5 minutes of grace), the
        # incident's 0:40 is two units and 10 minutes: three.
        ("grace", (15, 5, 1), [20, 20], 2, 3),
        # Rounding down without a minimum: 0:10 entries are free one by one.
        ("down", (15, 0, 0), [10, 10], 0, 1),
        ("down", (15, 0, 1), [29, 29], 2, 3),
        ("nearest", (15, 0, 1), [22, 22], 2, 3),
    ],
)
def test_counter_examples_incident_costs_more_than_per_entry(
    method, policy, minutes, per_entry, per_incident
):
    kwargs = _policy(method, *policy)
    assert _per_entry(minutes, kwargs) == per_entry
    assert incident_units(_in_minutes(minutes), **kwargs) == per_incident


# === Bad input ===


@pytest.mark.parametrize(
    ("entries", "kwargs", "message"),
    [
        ([(-0.5, 1.0)], {}, "a duration cannot be negative"),
        ([(float("nan"), 1.0)], {}, "is not a duration in hours"),
        ([(float("inf"), 1.0)], {}, "is not a duration in hours"),
        ([(1.0, -1.0)], {}, "is not a rate multiplier"),
        ([(1.0, float("nan"))], {}, "is not a rate multiplier"),
        ([(1.0, 1.0)], {"method": "ceil"}, "unknown rounding method"),
        ([(1.0, 1.0)], {"unit_minutes": 0}, "the unit length must be positive"),
        ([(1.0, 1.0)], {"grace_minutes": 15}, "shorter than one unit"),
        ([(1.0, 1.0)], {"min_units": -1}, "minimum units cannot be negative"),
        # The policy is checked even without entries.
        ([], {"unit_minutes": -5}, "the unit length must be positive"),
    ],
)
def test_bad_input_is_refused(entries, kwargs, message):
    with pytest.raises(ValueError, match=message):
        incident_units(entries, **kwargs)


def test_scopes_are_entry_and_incident():
    assert rounding.SCOPES == ("entry", "incident")


# === The policy an incident keeps (named on its debits) ===


@given(
    method=st.sampled_from(METHODS),
    unit=st.integers(1, 240),
    grace=st.integers(0, 239),
    minimum=st.integers(0, 20),
)
def test_policy_key_round_trips(method, unit, grace, minimum):
    policy = {
        "method": method,
        "unit_minutes": unit,
        "grace_minutes": grace % unit,
        "min_units": minimum,
    }
    key = rounding.policy_key(**policy)
    assert rounding.parse_policy_key(key) == policy


@pytest.mark.parametrize(
    "key",
    [
        None,
        "",
        "grace/15/5",
        "ceil/15/5/1",
        "grace/15/x/1",
        "grace/0/0/1",
        "grace/15/15/1",
        "up/15/5/-1",
        "grace/15/5/1/2",
    ],
)
def test_bad_policy_key_names_no_policy(key):
    assert rounding.parse_policy_key(key) is None


def test_policy_key_names_the_seed_default():
    assert (
        rounding.policy_key(
            method="grace", unit_minutes=15, grace_minutes=5, min_units=1
        )
        == "grace/15/5/1"
    )
