"""Revenue recognition arithmetic, without Odoo.

``addons/defining_retainer/tools/revenue.py`` and the allocation replay it
builds on (``tools/allocation.py``) are loaded by file path. Amounts are
rounded by :func:`round_cents` (2 decimals, half up, on the shortest decimal
form of the float, like a currency rounding) and compared in whole cents.

A recognition run posts, per pool, ``earned - recognised`` (each line
rounded); the property tests replay that on sequences of steps and check
that no cent is lost or created, whatever the order of the steps.
"""

import datetime
import importlib.util
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_allocation import DATES, _model_replay, _stored, ledger_rows

TOOLS = Path(__file__).resolve().parents[2] / "addons" / "defining_retainer" / "tools"
REVENUE_PY = TOOLS / "revenue.py"
ALLOCATION_PY = TOOLS / "allocation.py"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve the module through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


revenue = _load("retainer_revenue", REVENUE_PY)
allocation = _load("retainer_revenue_allocation", ALLOCATION_PY)
Earned, earned_value = revenue.Earned, revenue.earned_value
refund_excess, units_by_pool = revenue.refund_excess, revenue.units_by_pool
LedgerReplay = allocation.LedgerReplay
D = datetime.date
CENT = Decimal("0.01")


def round_cents(value):
    """2 decimals, half up: 0.125 -> 0.13, 555.4285714285714 -> 555.43."""
    return float(Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP))


def cents(value):
    """A float amount as whole cents; fails on anything finer."""
    exact = Decimal(repr(value)) * 100
    assert exact == exact.to_integral_value(), f"{value!r} is not whole cents"
    return int(exact)


def earned(amount, paid, used, expired):
    return earned_value(amount, paid, used, expired, round_cents)


def test_no_odoo_import():
    source = REVENUE_PY.read_text()
    assert "import odoo" not in source
    assert "from odoo" not in source


def test_round_cents_is_half_up():
    # The rounding the tests state; Python's round() would say 0.12 and 2.67.
    assert round_cents(0.125) == 0.13
    assert round_cents(2.675) == 2.68
    assert round_cents(555.4285714285714) == 555.43


# === earned_value === #


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        (0, 0.0),
        (14, 324.00),  # 1296 * 14 / 56 = 324 exactly
        (24, 555.43),  # 555.428571...
        (34, 786.86),  # 786.857142...
        (55, 1272.86),  # 1272.857142...
        (56, 1296.00),  # everything: the amount itself
    ],
)
def test_used_value_is_the_rounded_share(used, expected):
    value = earned(1296.00, 56, used, 0)
    assert value == Earned(expected, 0.0)
    assert value.total == expected


def test_everything_used_or_expired_earns_exactly_the_amount():
    # 1296 / 56 = 23.142857...: one unit at a time would drift by cents; a
    # share of the whole never does.
    for used in range(57):
        value = earned(1296.00, 56, used, 56 - used)
        assert cents(value.used) + cents(value.expired) == 129600


def test_expired_is_the_rest_of_the_rounded_total():
    # 100.00 for 3 units, 1 used and 1 expired: used 33.33, total 66.67
    # (2/3), so expired is 33.34, not a separately rounded 33.33.
    assert earned(100.00, 3, 1, 1) == Earned(33.33, 33.34)
    # 14 used + 10 expired of 56: total 24 units = 555.43, used 324.00.
    value = earned(1296.00, 56, 14, 10)
    assert (cents(value.used), cents(value.expired)) == (32400, 23143)


def test_units_beyond_the_paid_units_are_not_valued():
    # 60 units used of 56 paid (credited before invoiced): capped at 1296.00.
    assert earned(1296.00, 56, 60, 0) == Earned(1296.00, 0.0)
    # 50 used + 10 expired > 56: the total is capped, used is not cut:
    # used 50/56 = 1157.142857 -> 1157.14; expired 1296.00 - 1157.14.
    value = earned(1296.00, 56, 50, 10)
    assert (cents(value.used), cents(value.expired)) == (115714, 13886)
    # Half of the units paid (an invoice for 28 of the 56 units credited):
    # 28 used are the whole 648.00 paid.
    assert earned(648.00, 28, 40, 16) == Earned(648.00, 0.0)


@pytest.mark.parametrize(
    ("amount", "paid", "used", "expired"),
    [
        (0.0, 56, 14, 0),  # nothing paid
        (-1296.00, 56, 14, 0),  # credited more than invoiced
        (1296.00, 0, 14, 0),  # no unit paid
        (1296.00, -56, 14, 0),
        (1296.00, 56, -4, 0),  # negative counts are nothing
        (1296.00, 56, 0, -4),
        (1296.00, 56, -4, -4),
    ],
)
def test_nothing_earned(amount, paid, used, expired):
    assert earned(amount, paid, used, expired) == Earned(0.0, 0.0)


def test_negative_expired_does_not_eat_used():
    # A negative expired count (should not happen) must not lower used.
    assert earned(1296.00, 56, 14, -10) == Earned(324.00, 0.0)


# === properties of earned_value over recognition runs === #

AMOUNTS = st.integers(min_value=1, max_value=10**7)  # cents: up to 100,000.00
PAID = st.integers(min_value=1, max_value=400)
# Rounded to the nearest cent: at most half a cent off the exact share (and
# a hair of float error on a tie).
NEAREST = Fraction(1, 2) + Fraction(1, 10**6)


def _recognize(amount_cents, paid, steps):
    """Replay recognition runs: at each ``(used, expired)`` step, post for
    each kind the rounded difference between earned and recognised (as
    ``_retainer_post_recognition`` does). Return the list of earned values
    and the cents posted per kind."""
    amount = amount_cents / 100
    posted = {"used": 0, "expired": 0}
    history = []
    for used, expired in steps:
        value = earned(amount, paid, used, expired)
        history.append(value)
        for kind in ("used", "expired"):
            due = round_cents(getattr(value, kind) - posted[kind] / 100)
            posted[kind] += cents(due)
    return history, posted


@st.composite
def monotone_steps(draw):
    """Cumulative ``(used, expired)`` steps, each never lower than the one
    before, the last with every paid unit used or expired."""
    paid = draw(PAID)
    used_final = draw(st.integers(min_value=0, max_value=paid))
    expired_final = paid - used_final
    between = draw(st.integers(min_value=0, max_value=11))  # steps before
    used = draw(
        st.lists(st.integers(0, used_final), min_size=between, max_size=between)
    )
    expired = draw(
        st.lists(st.integers(0, expired_final), min_size=between, max_size=between)
    )
    used = [*sorted(used), used_final]
    expired = [*sorted(expired), expired_final]
    return paid, list(zip(used, expired, strict=True))


@settings(max_examples=300, deadline=None)
@given(AMOUNTS, monotone_steps())
def test_successive_runs_recognise_exactly_the_amount(amount_cents, paid_steps):
    paid, steps = paid_steps
    history, posted = _recognize(amount_cents, paid, steps)
    # Every unit used or expired: the amount, to the cent.
    assert posted["used"] + posted["expired"] == amount_cents
    for (used, expired), value in zip(steps, history, strict=True):
        used_cents, expired_cents = cents(value.used), cents(value.expired)
        assert 0 <= used_cents <= amount_cents
        assert 0 <= expired_cents <= amount_cents
        # Each is the share of the amount rounded to the nearest cent.
        used_share = Fraction(amount_cents * used, paid)
        total_share = Fraction(amount_cents * (used + expired), paid)
        assert abs(used_cents - used_share) <= NEAREST
        assert abs(used_cents + expired_cents - total_share) <= NEAREST
    # The total never goes down while the units only go up.
    totals = [cents(v.used) + cents(v.expired) for v in history]
    assert totals == sorted(totals)


@st.composite
def any_steps(draw):
    """``(used, expired)`` steps going back (a reversal, a late correction)
    and forth, sometimes beyond the paid units."""
    paid = draw(PAID)
    units = st.integers(min_value=0, max_value=paid + 20)
    steps = draw(st.lists(st.tuples(units, units), min_size=1, max_size=15))
    return paid, steps


@settings(max_examples=300, deadline=None)
@given(AMOUNTS, any_steps())
def test_back_and_forth_never_loses_a_cent(amount_cents, paid_steps):
    paid, steps = paid_steps
    history, posted = _recognize(amount_cents, paid, steps)
    final = history[-1]
    # What was posted over all runs is what the last step earns, per kind.
    assert posted["used"] == cents(final.used)
    assert posted["expired"] == cents(final.expired)
    for value in history:
        assert 0 <= cents(value.used) <= amount_cents
        assert 0 <= cents(value.expired) <= amount_cents
        assert cents(value.used) + cents(value.expired) <= amount_cents
    # Going on to every paid unit used or expired ends on the amount.
    _history, posted = _recognize(amount_cents, paid, [*steps, (paid, 0)])
    assert posted["used"] + posted["expired"] == amount_cents


# === refund_excess === #


def test_refund_excess_examples():
    earned_24 = earned(1296.00, 56, 24, 0)  # 555.43 earned, 740.57 unearned
    # Within the unearned value: nothing earned is refunded.
    assert refund_excess(500.00, 1296.00, earned_24, round_cents) == 0.0
    assert refund_excess(740.57, 1296.00, earned_24, round_cents) == 0.0
    # Beyond it: 800.00 - 740.57 = 59.43 of earned revenue refunded.
    assert refund_excess(800.00, 1296.00, earned_24, round_cents) == 59.43
    # A full refund after 24 units used refunds their 555.43.
    assert refund_excess(1296.00, 1296.00, earned_24, round_cents) == 555.43
    # Nothing refunded, nothing in excess.
    assert refund_excess(0.0, 1296.00, earned_24, round_cents) == 0.0
    assert refund_excess(-10.0, 1296.00, earned_24, round_cents) == 0.0
    # Earned beyond the amount (should not happen): all of it is excess.
    assert refund_excess(50.00, 100.00, Earned(80.00, 40.00), round_cents) == 50.00


@settings(max_examples=300, deadline=None)
@given(
    AMOUNTS,
    PAID,
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=0, max_value=500),
    st.integers(min_value=1, max_value=2 * 10**7),
)
def test_refund_excess_properties(amount_cents, paid, used, expired, refund_cents):
    amount = amount_cents / 100
    before = earned(amount, paid, used, expired)
    unearned_cents = amount_cents - cents(before.used) - cents(before.expired)
    excess = refund_excess(refund_cents / 100, amount, before, round_cents)
    excess_cents = cents(excess)
    assert 0 <= excess_cents <= refund_cents
    if refund_cents <= unearned_cents:
        assert excess_cents == 0
    else:
        # The credit note takes back all the unearned value, then earned.
        assert excess_cents == refund_cents - unearned_cents
    assert refund_cents - excess_cents <= unearned_cents


# === units_by_pool === #

SOLD_A, SOLD_B, SOLD_OTHER = 101, 102, 103
JAN_1 = D(2026, 1, 1)


def row(
    id_,
    kind,
    units,
    date,
    *,
    contract=1,
    expiry=None,
    block=None,
    sale_line=None,
):
    """A ledger row as the model reads it (``is_block`` as the model sets
    it: a credit, or a positive adjustment)."""
    is_block = kind == "credit" or (kind == "adjustment" and units > 0)
    return (id_, contract, kind, units, date, expiry, None, block, sale_line, is_block)


def reversal(id_, target, date):
    """The reversal of ``target``, as ``_prepare_reversal_vals`` posts it:
    the opposite units, its block and sold line copied."""
    contract, units, block, sale_line = target[1], target[3], target[7], target[8]
    return (
        id_,
        contract,
        "reversal",
        -units,
        date,
        None,
        target[0],
        block,
        sale_line,
        False,
    )


def replays_by_contract(rows):
    """What the model's ``_replays_by_contract`` does: the first 8 columns
    grouped per contract, replayed."""
    by_contract = defaultdict(list)
    for entry in rows:
        by_contract[entry[1]].append(entry[:8])
    return {key: LedgerReplay.from_rows(value) for key, value in by_contract.items()}


def pool_units(rows, pools=(SOLD_A, SOLD_B), cutoff=None):
    """``(used, expired)`` without the pools at 0."""
    used, expired = units_by_pool(rows, set(pools), replays_by_contract(rows), cutoff)
    return (
        {key: units for key, units in used.items() if units},
        {key: units for key, units in expired.items() if units},
    )


def test_work_spans_blocks_of_two_pools_and_a_manual_credit():
    rows = [
        row(1, "credit", 10, JAN_1, sale_line=SOLD_A),
        row(2, "credit", 8, D(2026, 2, 1), sale_line=SOLD_B),
        row(3, "credit", 5, D(2026, 1, 15)),  # manual: no pool
        row(4, "debit", -12, D(2026, 3, 1)),  # block 1: 10, block 3: 2
        row(5, "debit", -4, D(2026, 3, 10)),  # block 3: 3, block 2: 1
        row(6, "debit", -6, D(2026, 4, 5)),  # block 2: 6
        # Another retainer, same run: its units stay its own.
        row(7, "credit", 4, JAN_1, contract=2, sale_line=SOLD_OTHER),
        row(8, "debit", -3, D(2026, 3, 1), contract=2),
    ]
    assert pool_units(rows) == ({SOLD_A: 10, SOLD_B: 7}, {})
    # Work dated after the cutoff is not counted (the cutoff day is).
    assert pool_units(rows, cutoff=D(2026, 3, 31)) == ({SOLD_A: 10, SOLD_B: 1}, {})
    assert pool_units(rows, cutoff=D(2026, 3, 1)) == ({SOLD_A: 10}, {})
    assert pool_units(rows, cutoff=D(2026, 2, 28)) == ({}, {})
    # Only the pools asked for; the other retainer's line when asked.
    assert pool_units(rows, pools=[SOLD_B]) == ({SOLD_B: 7}, {})
    assert pool_units(rows, pools=[SOLD_A, SOLD_OTHER]) == (
        {SOLD_A: 10, SOLD_OTHER: 3},
        {},
    )


def test_reversed_debit_gives_its_units_back():
    debit = row(3, "debit", -8, D(2026, 3, 1))
    rows = [
        row(1, "credit", 10, JAN_1, sale_line=SOLD_A),
        row(2, "credit", 10, D(2026, 1, 2), sale_line=SOLD_B),
        debit,  # block 1: 8
        row(4, "debit", -6, D(2026, 3, 2)),  # block 1: 2, block 2: 4
        reversal(5, debit, D(2026, 3, 1)),  # block 1 gets its 8 back
        row(6, "debit", -5, D(2026, 3, 3)),  # block 1: 5
    ]
    # 2 + 5 on A, 4 on B; the released 8 count nowhere.
    assert pool_units(rows) == ({SOLD_A: 7, SOLD_B: 4}, {})


def test_work_before_the_block_arrived_is_its_use():
    rows = [
        row(1, "debit", -5, D(2026, 1, 10)),  # an overdraft...
        row(2, "credit", 10, D(2026, 2, 1), sale_line=SOLD_A),  # ...covered
    ]
    # The ledger as it is now: the January work is block 2's, at a January
    # cutoff too (its value waits until the pool is paid, see earned_value).
    assert pool_units(rows, cutoff=D(2026, 1, 31)) == ({SOLD_A: 5}, {})


def test_taken_away_block_is_not_a_pools_use():
    credit = row(1, "credit", 10, JAN_1, sale_line=SOLD_A)
    rows = [
        credit,
        row(2, "credit", 10, D(2026, 1, 2), sale_line=SOLD_B),
        row(3, "debit", -4, D(2026, 3, 1)),
        reversal(4, credit, D(2026, 3, 5)),  # A's credit note: block gone
    ]
    # The 4 units fall on B's block as if A's never existed.
    assert pool_units(rows) == ({SOLD_B: 4}, {})


def test_expired_units_and_rollovers():
    block = row(1, "credit", 20, JAN_1, expiry=D(2026, 1, 31), sale_line=SOLD_A)
    rows = [
        block,
        row(2, "debit", -6, D(2026, 1, 10)),  # block 1: 6
        row(3, "expiry", -14, D(2026, 1, 31), block=1),  # 14 unused expire...
        # ...4 of them roll over (no sold line: its value is A's).
        row(4, "credit", 4, D(2026, 2, 1), expiry=D(2026, 4, 30), block=1),
        row(5, "debit", -3, D(2026, 2, 10)),  # rollover 4: 3
        row(6, "expiry", -1, D(2026, 4, 30), block=4),  # rollover's last unit
    ]
    # Used 6 + 3; expired 14 - 4 rolled + 1 of the rollover: all 20 units.
    assert pool_units(rows) == ({SOLD_A: 9}, {SOLD_A: 11})
    # At the end of February: the rollover's unit has not expired yet.
    assert pool_units(rows, cutoff=D(2026, 2, 28)) == ({SOLD_A: 9}, {SOLD_A: 10})
    # At the expiry date, before the rollover's own date: the 4 units that
    # roll over are still never breakage.
    assert pool_units(rows, cutoff=D(2026, 1, 31)) == ({SOLD_A: 6}, {SOLD_A: 10})
    assert pool_units(rows, cutoff=D(2026, 1, 30)) == ({SOLD_A: 6}, {})


def test_rollover_of_a_rollover_keeps_the_first_pool():
    rows = [
        row(1, "credit", 10, JAN_1, expiry=D(2026, 1, 31), sale_line=SOLD_A),
        row(2, "expiry", -10, D(2026, 1, 31), block=1),
        row(3, "credit", 4, D(2026, 2, 1), expiry=D(2026, 3, 31), block=1),
        row(4, "expiry", -4, D(2026, 3, 31), block=3),
        row(5, "credit", 2, D(2026, 4, 1), expiry=D(2026, 5, 31), block=3),
        row(6, "debit", -1, D(2026, 4, 10)),  # rollover of the rollover: 1
    ]
    # Expired: 10 - 4 rolled, then 4 - 2 rolled; used 1; 1 unit left.
    assert pool_units(rows) == ({SOLD_A: 1}, {SOLD_A: 8})


def test_rollover_of_a_manual_credit_is_no_pools():
    rows = [
        row(1, "credit", 10, JAN_1, expiry=D(2026, 1, 31)),  # manual
        row(2, "credit", 10, JAN_1, sale_line=SOLD_A),
        row(3, "debit", -2, D(2026, 1, 10)),  # block 1 (expires first)
        row(4, "expiry", -8, D(2026, 1, 31), block=1),
        row(5, "credit", 6, D(2026, 2, 1), expiry=D(2026, 4, 30), block=1),
        row(6, "debit", -5, D(2026, 2, 10)),  # rollover 5: 5
        row(7, "expiry", -1, D(2026, 4, 30), block=5),
        row(8, "debit", -3, D(2026, 5, 1)),  # block 2 (the rollover expired)
    ]
    # Only block 2 is A's; the manual block, its rollover and their
    # expiries are nobody's.
    assert pool_units(rows) == ({SOLD_A: 3}, {})


def test_reversed_expiry_counts_out():
    expiry = row(3, "expiry", -10, D(2026, 1, 31), block=1)
    rows = [
        row(1, "credit", 10, JAN_1, expiry=D(2026, 1, 31), sale_line=SOLD_A),
        row(2, "credit", 10, JAN_1, sale_line=SOLD_B),
        expiry,  # nothing used: all 10 expire
        # Time logged late on 20 January (block 1 pays it), corrected on
        # 5 March: the expiry is reversed that day, and 6 expire instead,
        # on the block's expiry date.
        row(4, "debit", -4, D(2026, 1, 20)),
        reversal(5, expiry, D(2026, 3, 5)),
        row(6, "expiry", -6, D(2026, 1, 31), block=1),
    ]
    assert pool_units(rows) == ({SOLD_A: 4}, {SOLD_A: 6})
    assert pool_units(rows, cutoff=D(2026, 3, 31)) == ({SOLD_A: 4}, {SOLD_A: 6})
    # At the end of February, as the ledger is now: 4 used, 6 expired; the
    # expiry corrected on 5 March is not also counted (10 + 6 would make
    # 16 units of a 10-unit block, eating B's value).
    assert pool_units(rows, cutoff=D(2026, 2, 28)) == ({SOLD_A: 4}, {SOLD_A: 6})
    assert pool_units(rows, cutoff=D(2026, 1, 30)) == ({SOLD_A: 4}, {})


def test_corrected_rollover_moves_with_its_expiry():
    expiry = row(2, "expiry", -10, D(2026, 1, 31), block=1)
    rollover = row(3, "credit", 4, D(2026, 2, 1), expiry=D(2026, 4, 30), block=1)
    rows = [
        row(1, "credit", 10, JAN_1, expiry=D(2026, 1, 31), sale_line=SOLD_A),
        expiry,
        rollover,  # rollover at most 4 units
        # 8 units logged late on 20 January (block 1 expires first, so pays
        # them); on 5 March the expiry becomes 2 and the rollover 2.
        row(4, "debit", -8, D(2026, 1, 20)),
        reversal(5, expiry, D(2026, 3, 5)),
        row(6, "expiry", -2, D(2026, 1, 31), block=1),
        reversal(7, rollover, D(2026, 3, 5)),
        row(8, "credit", 2, D(2026, 2, 1), expiry=D(2026, 4, 30), block=1),
    ]
    # 8 used; the 2 unused units rolled over: nothing is breakage.
    assert pool_units(rows) == ({SOLD_A: 8}, {})
    assert pool_units(rows, cutoff=D(2026, 2, 28)) == ({SOLD_A: 8}, {})


def test_pool_figures_feed_earned_value():
    """The chain the run uses: ledger -> units -> value. 56 units sold for
    1296.00, 24 used and 10 expired at the cutoff."""
    rows = [
        row(1, "credit", 56, JAN_1, expiry=D(2026, 2, 28), sale_line=SOLD_A),
        row(2, "debit", -24, D(2026, 2, 10)),
        row(3, "expiry", -32, D(2026, 2, 28), block=1),
        row(4, "credit", 22, D(2026, 3, 1), expiry=D(2026, 5, 31), block=1),
    ]
    used, expired = pool_units(rows, pools=[SOLD_A], cutoff=D(2026, 3, 31))
    assert (used, expired) == ({SOLD_A: 24}, {SOLD_A: 10})
    value = earned(1296.00, 56, used[SOLD_A], expired[SOLD_A])
    # used 24/56 = 555.43; total 34/56 = 786.86; expired the difference.
    assert value == Earned(555.43, 231.43)


def test_valued_manual_credit_is_a_pool_of_its_own():
    manual = ("block", 3)
    rows = [
        row(1, "credit", 10, JAN_1, sale_line=SOLD_A),
        row(2, "credit", 5, D(2026, 1, 15)),  # manual, no value: no pool
        row(3, "credit", 6, D(2026, 1, 20), expiry=D(2026, 2, 28)),  # valued
        row(4, "debit", -9, D(2026, 2, 1)),  # block 3 first (expires): 6, A: 3
        row(5, "debit", -10, D(2026, 2, 2)),  # A: 7, block 2: 3
        # A rollover of block 3 (expiring, so used before block 2).
        row(6, "credit", 2, D(2026, 3, 1), expiry=D(2026, 5, 31), block=3),
        row(7, "debit", -1, D(2026, 3, 2)),  # the rollover (it expires first)
    ]
    used, expired = units_by_pool(
        rows, {SOLD_A}, replays_by_contract(rows), block_pools={3: manual}
    )
    used = {key: units for key, units in used.items() if units}
    # The rollover's use is the valued block's, like a sold block's.
    assert used == {SOLD_A: 10, manual: 7}
    assert not any(expired.values())


# === units_by_pool from a checkpoint: the whole replay's figures === #


def _revenue_rows(rows, sale_lines):
    """The rows of ``test_allocation.ledger_rows`` (replay columns with the
    reversed kind) as the recognition reads them: with their sold line
    (``sale_lines``: credit id -> sold line; a reversal copies its entry's)
    and ``is_block``."""
    result = []
    for entry in rows:
        entry_id, kind, units, reversed_id = entry[0], entry[2], entry[3], entry[6]
        sale_line = sale_lines.get(reversed_id if kind == "reversal" else entry_id)
        is_block = kind == "credit" or (kind == "adjustment" and units > 0)
        result.append((*entry[:8], sale_line, is_block))
    return result


def _without_zeros(figures):
    return [{key: units for key, units in by.items() if units} for by in figures]


@settings(max_examples=400, deadline=None)
@given(ledger_rows(), st.data())
def test_units_from_a_checkpoint_are_the_whole_replays(rows, data):
    """The recognition reads the blocks, the expiries and the replay from
    the newest checkpoint (work paid in full before it included, late
    corrections dated before earlier postings, released work, blocks taken
    away, rollovers, reversed expiries): the units used and expired per
    pool, at any cutoff, are those of the whole ledger."""
    # A credit is sold (on one of two lines), a manual credit (valued or
    # not), or a rollover (its block's pool).
    sale_lines, block_pools = {}, {}
    for entry in rows:
        if entry[2] == "credit" and not entry[7]:
            source = data.draw(st.sampled_from([SOLD_A, SOLD_B, None, "valued"]))
            if source == "valued":
                block_pools[entry[0]] = ("block", entry[0])
            elif source:
                sale_lines[entry[0]] = source
    pool_keys = {SOLD_A, SOLD_B}
    # The checkpoints postings would have written, one after the other
    # (some without records of the work they saw paid in full), and the
    # replay from the newest one, as the ledger model does it.
    stored = []
    cuts = data.draw(st.sets(st.integers(min_value=1, max_value=max(len(rows), 1))))
    for cut in sorted(cut for cut in cuts if cut <= len(rows)):
        replay, _used = _model_replay(rows[:cut], stored, cut + 1)
        kept = data.draw(st.sampled_from([True, True, True, False]))
        stored.append(
            (cut, _stored(replay.checkpoint()), kept and _stored(replay.settled()))
        )
    replay, _used = _model_replay(rows, stored, len(rows) + 1)
    whole = LedgerReplay.from_rows(rows)
    revenue_rows = _revenue_rows(rows, sale_lines)
    # What the recognition reads beside the replay: blocks and expiries.
    read = [
        entry
        for full, entry in zip(rows, revenue_rows, strict=True)
        if entry[9] or "expiry" in (entry[2], full[8])
    ]
    for cutoff in [None, *data.draw(st.lists(DATES, max_size=4))]:
        expected = units_by_pool(
            revenue_rows, pool_keys, {1: whole}, cutoff, block_pools
        )
        found = units_by_pool(read, pool_keys, {1: replay}, cutoff, block_pools)
        assert _without_zeros(found) == _without_zeros(expected)
        # Block by block too: what the whole replay's work says.
        used = defaultdict(int)
        for usage_id, paid_by in whole.allocation.paid_by.items():
            if cutoff is None or revenue_rows[usage_id - 1][4] <= cutoff:
                for block_id, units in paid_by:
                    used[block_id] += units
        assert replay.used_until(cutoff) == {
            block_id: units for block_id, units in used.items() if units
        }
