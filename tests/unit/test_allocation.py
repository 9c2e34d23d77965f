"""The consumption order of credit blocks, without Odoo.

``addons/defining_retainer/tools/allocation.py`` is loaded by file path. The
table tests follow the rules of the "Blocks" section of the addon's README;
the property tests compare every replay with invariants that any correct
allocation keeps (nothing paid twice, no block over-used, no block used for
work dated after its expiry, overdraft only when no usable block has units).
"""

import datetime
import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ALLOCATION_PY = (
    Path(__file__).resolve().parents[2]
    / "addons"
    / "defining_retainer"
    / "tools"
    / "allocation.py"
)


def _load():
    spec = importlib.util.spec_from_file_location("retainer_allocation", ALLOCATION_PY)
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve the module through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


allocation = _load()
Block, Usage, allocate = allocation.Block, allocation.Usage, allocation.allocate
BLOCK, USE, RELEASE = allocation.BLOCK, allocation.USE, allocation.RELEASE
LedgerReplay = allocation.LedgerReplay
D = datetime.date
JAN_1 = D(2026, 1, 1)
MAR_1 = D(2026, 3, 1)


def block(id_, units, date=JAN_1, expiry=None):
    return (BLOCK, Block(id_, date, units, expiry))


def use(id_, units, date=MAR_1):
    return (USE, Usage(id_, date, units))


def test_no_odoo_import():
    assert "odoo" not in ALLOCATION_PY.read_text()


def test_earliest_expiry_first_then_undated_oldest_first():
    result = allocate(
        [
            block(1, 8),  # undated, oldest
            block(2, 8, expiry=D(2026, 12, 31)),
            block(3, 8, date=D(2026, 2, 1), expiry=D(2026, 6, 30)),
            block(4, 8, date=D(2025, 12, 1)),  # undated, older still
            use(10, 30),
        ]
    )
    assert result.paid_by[10] == [(3, 8), (2, 8), (4, 8), (1, 6)]
    assert result.consumed == {1: 6, 2: 8, 3: 8, 4: 8}
    assert result.overdraft == 0


def test_ties_on_expiry_and_date_go_by_id():
    result = allocate([block(7, 4), block(5, 4), use(10, 6)])
    assert result.paid_by[10] == [(5, 4), (7, 2)]


def test_block_is_usable_on_its_expiry_date_not_after():
    events = [block(1, 10, expiry=D(2026, 3, 1))]
    on_the_day = allocate([*events, use(10, 4, date=D(2026, 3, 1))])
    day_after = allocate([*events, use(10, 4, date=D(2026, 3, 2))])
    assert on_the_day.paid_by[10] == [(1, 4)]
    assert day_after.paid_by[10] == []
    assert day_after.uncovered == {10: 4}


def test_spill_into_next_block_then_overdraft():
    result = allocate([block(1, 5), block(2, 3), use(10, 10)])
    assert result.paid_by[10] == [(1, 5), (2, 3)]
    assert result.uncovered == {10: 2}
    assert result.overdraft == 2


def test_next_block_covers_the_oldest_overdraft_first():
    result = allocate([use(10, 4), use(11, 4), block(1, 6)])
    assert result.paid_by == {10: [(1, 4)], 11: [(1, 2)]}
    assert result.uncovered == {11: 2}


def test_new_block_does_not_cover_work_dated_after_its_expiry():
    result = allocate(
        [use(10, 4, date=D(2026, 5, 1)), block(1, 6, expiry=D(2026, 4, 30))]
    )
    assert result.uncovered == {10: 4}
    assert result.consumed == {1: 0}


def test_release_gives_units_back_to_the_same_blocks():
    result = allocate(
        [
            block(1, 8, expiry=D(2026, 6, 30)),
            block(2, 8),
            use(10, 12),  # 1: 8, 2: 4
            use(11, 4),  # 2: 4
            (RELEASE, 10),
        ]
    )
    assert result.paid_by == {11: [(2, 4)]}
    assert result.consumed == {1: 0, 2: 4}


def test_release_covers_a_waiting_overdraft():
    result = allocate([block(1, 4), use(10, 4), use(11, 4), (RELEASE, 10)])
    assert result.paid_by == {11: [(1, 4)]}
    assert result.uncovered == {}


def test_invalid_events_are_refused():
    with pytest.raises(ValueError, match="units must be positive"):
        allocate([block(1, 0)])
    with pytest.raises(ValueError, match="units must be positive"):
        allocate([use(1, -2)])
    with pytest.raises(ValueError, match="replayed twice"):
        allocate([use(1, 2), use(1, 2)])
    with pytest.raises(ValueError, match="cannot be released"):
        allocate([(RELEASE, 3)])
    with pytest.raises(ValueError, match="cannot be released"):
        allocate([use(1, 2), (RELEASE, 1), (RELEASE, 1)])
    with pytest.raises(ValueError, match="unknown event"):
        allocate([("gift", None)])


def _row(id_, kind, units, date=JAN_1, expiry=None, reversed_id=None, block_id=None):
    return (id_, 1, kind, units, date, expiry, reversed_id, block_id)


def test_replay_of_ledger_rows():
    rows = [
        _row(1, "credit", 20, expiry=D(2026, 2, 28)),
        _row(2, "credit", 8),
        _row(3, "debit", -12, date=D(2026, 2, 1)),
        _row(4, "expiry", -8, block_id=1),
        _row(5, "credit", 4, date=D(2026, 3, 1), block_id=1),  # rollover
        _row(6, "credit", 10),
        _row(7, "reversal", -10, reversed_id=6),  # block taken away
        _row(8, "adjustment", -2, date=D(2026, 3, 5)),
        _row(9, "debit", -4, date=D(2026, 3, 6)),
        _row(10, "reversal", 4, reversed_id=9),
    ]
    replay = LedgerReplay.from_rows(rows)
    assert replay.balance == 20 + 8 - 12 - 8 + 4 + 10 - 10 - 2 - 4 + 4
    assert set(replay.blocks) == {1, 2, 5}
    assert replay.allocation.consumed == {1: 12, 2: 2, 5: 0}
    assert replay.expired == {1: 8}
    assert replay.live_expiries == {1: [4]}
    assert replay.live_rollovers == {1: [5]}
    assert replay.processed == {1}
    assert replay.rollovers == {5}
    assert replay.remaining(1) == 0
    assert replay.remaining(2) == 6
    assert replay.remaining(5) == 4
    assert replay.unexpired_target(1) == 8
    assert replay.unexpired_target(6) == 0


def test_replay_counts_a_reversed_expiry_out():
    rows = [
        _row(1, "credit", 20, expiry=D(2026, 2, 28)),
        _row(2, "expiry", -20, block_id=1),
        _row(3, "debit", -8, date=D(2026, 2, 20)),
        _row(4, "reversal", 20, reversed_id=2),
        _row(5, "expiry", -12, block_id=1),
    ]
    replay = LedgerReplay.from_rows(rows)
    assert replay.expired == {1: 12}
    assert replay.live_expiries == {1: [5]}
    assert replay.remaining(1) == 0
    assert replay.balance == 0


# --- properties --- #

DATES = st.dates(min_value=D(2026, 1, 1), max_value=D(2026, 12, 31))


@st.composite
def ledgers(draw):
    """Random sequences of blocks, usage and releases."""
    events = []
    used = []
    next_id = 1
    for _ in range(draw(st.integers(min_value=0, max_value=30))):
        choice = draw(st.sampled_from(["block", "use", "use", "release"]))
        if choice == "block":
            expiry = draw(st.one_of(st.none(), DATES))
            date = draw(DATES)
            if expiry and expiry < date:
                date, expiry = expiry, date
            units = draw(st.integers(min_value=1, max_value=40))
            events.append((BLOCK, Block(next_id, date, units, expiry)))
        elif choice == "use":
            units = draw(st.integers(min_value=1, max_value=30))
            events.append((USE, Usage(next_id, draw(DATES), units)))
            used.append(next_id)
        elif used:
            usage_id = draw(st.sampled_from(used))
            used.remove(usage_id)
            events.append((RELEASE, usage_id))
        next_id += 1
    return events


@settings(max_examples=400, deadline=None)
@given(ledgers())
def test_allocation_invariants(events):
    result = allocate(events)
    blocks = {e[1].id: e[1] for e in events if e[0] == BLOCK}
    usages = {e[1].id: e[1] for e in events if e[0] == USE}
    released = {e[1] for e in events if e[0] == RELEASE}
    live = {uid: usage for uid, usage in usages.items() if uid not in released}
    assert set(result.paid_by) == set(live)
    per_block = dict.fromkeys(blocks, 0)
    for usage_id, paid in result.paid_by.items():
        usage = live[usage_id]
        paid_units = sum(units for _block, units in paid)
        # Every live unit of work is paid once, or is an overdraft.
        assert paid_units + result.uncovered.get(usage_id, 0) == usage.units
        for block_id, units in paid:
            assert units > 0
            assert blocks[block_id].usable_for(usage.date)
            per_block[block_id] += units
    assert per_block == result.consumed
    for block_id, consumed in per_block.items():
        assert 0 <= consumed <= blocks[block_id].units
    # An overdraft never sits next to a block that could have paid it.
    for usage_id in result.uncovered:
        usage = live[usage_id]
        for block_id, block_ in blocks.items():
            if block_.usable_for(usage.date):
                assert result.consumed[block_id] == block_.units


@settings(max_examples=200, deadline=None)
@given(ledgers())
def test_without_expiry_the_overdraft_is_the_negative_balance(events):
    undated = [
        (kind, Block(p.id, p.date, p.units, None)) if kind == BLOCK else (kind, p)
        for kind, p in events
    ]
    result = allocate(undated)
    released = {p for kind, p in undated if kind == RELEASE}
    credits = sum(p.units for kind, p in undated if kind == BLOCK)
    debits = sum(p.units for kind, p in undated if kind == USE and p.id not in released)
    assert result.overdraft == max(debits - credits, 0)
