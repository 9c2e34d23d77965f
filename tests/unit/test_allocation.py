"""The consumption order of credit blocks, without Odoo.

``addons/defining_retainer/tools/allocation.py`` is loaded by file path. The
table tests follow the rules of the "Blocks" section of the addon's README;
the property tests compare every replay with invariants that any correct
allocation keeps (nothing paid twice, no block over-used, no block used for
work dated after its expiry, overdraft only when no usable block has units).
"""

import datetime
import importlib.util
import json
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


# --- replays from a checkpoint --- #

StaleCheckpoint = allocation.StaleCheckpoint


# Work comes more often than anything else.
ROW_KINDS = ["credit", "debit", "debit", "debit", "adjustment", "expiry", "reversal"]


@st.composite
def ledger_rows(draw):
    """Random ledger rows in posting order, as the ledger stores them:
    blocks with or without expiry, rollovers, work (some dated before
    earlier work: late corrections), adjustments, expiries, and reversals of
    any of them (a reversal names the kind it reverses and copies its
    block)."""
    rows = []
    blocks = []
    reversible = []
    size = draw(st.integers(min_value=0, max_value=40))
    for entry_id in range(1, size + 1):
        choice = draw(
            st.sampled_from(
                [
                    "credit",
                    "debit",
                    "debit",
                    "debit",
                    "adjustment",
                    "expiry",
                    "reversal",
                ]
            )
        )
        date = draw(DATES)
        row = None
        if choice == "credit":
            expiry = draw(st.one_of(st.none(), DATES))
            if expiry and expiry < date:
                date, expiry = expiry, date
            rollover_of = draw(st.one_of(st.none(), st.sampled_from(blocks or [None])))
            units = draw(st.integers(min_value=1, max_value=40))
            row = (entry_id, 1, "credit", units, date, expiry, None, rollover_of, None)
            blocks.append(entry_id)
        elif choice == "debit":
            units = draw(st.integers(min_value=1, max_value=30))
            row = (entry_id, 1, "debit", -units, date, None, None, None, None)
        elif choice == "adjustment":
            units = draw(st.integers(min_value=-20, max_value=20).filter(bool))
            row = (entry_id, 1, "adjustment", units, date, None, None, None, None)
        elif choice == "expiry" and blocks:
            units = draw(st.integers(min_value=1, max_value=20))
            block_id = draw(st.sampled_from(blocks))
            row = (entry_id, 1, "expiry", -units, date, None, None, block_id, None)
        elif choice == "reversal" and reversible:
            target = draw(st.sampled_from(reversible))
            reversible.remove(target)
            row = (
                entry_id,
                1,
                "reversal",
                -target[3],
                date,
                None,
                target[0],
                target[7],
                target[2],
            )
        if row is None:
            row = (entry_id, 1, "debit", -1, date, None, None, None, None)
        if row[2] != "reversal":
            reversible.append(row)
        rows.append(row)
    return rows


def _stored(checkpoint):
    """The checkpoint as the database gives it back (JSON)."""
    return json.loads(json.dumps(checkpoint))


def _from_cut(rows, cut, checkpoints):
    """Replay ``rows`` from the checkpoint after ``rows[:cut]``, falling back
    to older checkpoints as the replay asks, as the ledger model does.
    Return the replay and the cut it started from."""
    while True:
        checkpoint = checkpoints[cut]
        try:
            return LedgerReplay.from_rows(rows[cut:], checkpoint), cut
        except StaleCheckpoint as stale:
            assert checkpoint, "a replay from the start is never stale"
            # The entry it names is after the checkpoint's start... and
            # before its end: the replay reached back.
            assert stale.before <= checkpoint["entry_id"]
            cut = max(c for c in range(cut) if c < stale.before)


def _assert_same_replay(partial, full):
    assert partial.allocation.consumed == full.allocation.consumed
    assert partial.allocation.uncovered == full.allocation.uncovered
    assert partial.allocation.overdraft == full.allocation.overdraft
    assert partial.allocation.stranded == full.allocation.stranded
    # What paid for work is known for every work the replay saw.
    for usage_id, paid in partial.allocation.paid_by.items():
        assert full.allocation.paid_by[usage_id] == paid
    for usage_id, paid in full.allocation.paid_by.items():
        if usage_id > partial.since:
            assert partial.allocation.paid_by[usage_id] == paid
    assert partial.blocks == full.blocks
    assert partial.expired == full.expired
    assert partial.live_expiries == full.live_expiries
    assert partial.live_rollovers == full.live_rollovers
    assert partial.processed == full.processed
    assert partial.rollovers == full.rollovers
    assert partial.balance == full.balance
    assert partial.entry_id == full.entry_id
    for block_id in full.blocks:
        assert partial.remaining(block_id) == full.remaining(block_id)
        assert partial.unexpired_target(block_id) == full.unexpired_target(block_id)


@settings(max_examples=400, deadline=None)
@given(ledger_rows())
def test_replay_from_any_checkpoint_is_the_whole_replay(rows):
    full = LedgerReplay.from_rows(rows)
    # The checkpoint after each prefix, as a posting would have stored it.
    checkpoints = [None] + [
        _stored(LedgerReplay.from_rows(rows[:cut]).checkpoint())
        for cut in range(1, len(rows) + 1)
    ]
    for cut in range(len(rows) + 1):
        partial, start = _from_cut(rows, cut, checkpoints)
        assert start <= cut
        _assert_same_replay(partial, full)


@settings(max_examples=200, deadline=None)
@given(ledger_rows(), st.data())
def test_checkpoints_of_checkpoints_chain(rows, data):
    """A checkpoint taken after a replay from an older one is the same as
    the one taken after the whole replay: postings chain them."""
    cuts = sorted(
        data.draw(st.sets(st.integers(min_value=0, max_value=len(rows)), max_size=4))
    )
    checkpoint = None
    start = 0
    for cut in cuts:
        try:
            replay = LedgerReplay.from_rows(rows[start:cut], checkpoint)
        except StaleCheckpoint:
            replay = LedgerReplay.from_rows(rows[:cut])
        checkpoint, start = _stored(replay.checkpoint()), cut
        expected = _stored(LedgerReplay.from_rows(rows[:cut]).checkpoint())
        # Outstanding work and blocks are the same; the whole replay may
        # know more work paid in full, which a checkpoint does not keep.
        assert checkpoint == expected


def test_stale_checkpoint_names_the_entry_reached_back():
    rows = [
        _row(1, "credit", 10),
        _row(2, "debit", -4),
        _row(3, "credit", 5, expiry=D(2026, 6, 30)),
    ]
    checkpoint = _stored(LedgerReplay.from_rows(rows).checkpoint())
    # The first block is taken away: the whole history changes.
    later = [(4, 1, "reversal", -10, JAN_1, None, 1, None, "credit")]
    with pytest.raises(StaleCheckpoint) as stale:
        LedgerReplay.from_rows(later, checkpoint)
    assert stale.value.before == 1
    # Work paid in full before the checkpoint is released: unknown payers.
    later = [(4, 1, "reversal", 4, JAN_1, None, 2, None, "debit")]
    with pytest.raises(StaleCheckpoint) as stale:
        LedgerReplay.from_rows(later, checkpoint)
    assert stale.value.before == 2
    replay = LedgerReplay.from_rows(rows + later)
    assert replay.allocation.consumed == {1: 0, 3: 0}


def test_checkpoint_keeps_unpaid_work_and_releases_it():
    rows = [
        _row(1, "credit", 4, expiry=D(2026, 1, 31)),
        _row(2, "debit", -10, date=D(2026, 1, 15)),
    ]
    checkpoint = _stored(LedgerReplay.from_rows(rows).checkpoint())
    assert checkpoint["outstanding"] == [[2, "2026-01-15", 10, 6, [[1, 4]]]]
    later = [
        _row(3, "credit", 20),
        (4, 1, "reversal", 10, MAR_1, None, 2, None, "debit"),
        _row(5, "debit", -3, date=D(2026, 1, 20)),
    ]
    partial = LedgerReplay.from_rows(later, checkpoint)
    full = LedgerReplay.from_rows(rows + later)
    _assert_same_replay(partial, full)
    # The late work, dated before the first block's expiry, uses it first.
    assert partial.allocation.paid_by[5] == [(1, 3)]


def test_block_credited_after_work_it_could_have_paid_is_marked():
    """The issue's case: work paid by a block without expiry; a block that
    expires first, credited (back-dated) after that work, never pays it."""
    rows = [
        _row(1, "credit", 28),  # no expiry
        _row(2, "debit", -4, date=D(2026, 1, 10)),
        _row(3, "credit", 56, date=D(2026, 1, 1), expiry=D(2026, 12, 26)),
        _row(4, "debit", -2, date=D(2026, 2, 1)),
    ]
    replay = LedgerReplay.from_rows(rows)
    # The later work uses the block that expires first; the earlier stays.
    assert replay.allocation.paid_by == {2: [(1, 4)], 4: [(3, 2)]}
    assert replay.allocation.stranded == {3: (4, 0)}
    assert replay.remaining(3) == 54
    # Once the earlier work is released, the mark stays what it was when
    # the block was credited (a fact of the posting order).
    release = (5, 1, "reversal", 4, MAR_1, None, 2, None, "debit")
    assert LedgerReplay.from_rows([*rows, release]).allocation.stranded == {3: (4, 0)}


def test_block_credited_after_unpaid_work_dated_after_its_expiry_is_marked():
    rows = [
        _row(1, "debit", -6, date=D(2026, 3, 10)),
        _row(2, "credit", 20, date=D(2026, 1, 1), expiry=D(2026, 2, 28)),
        _row(3, "credit", 4, date=D(2026, 3, 1)),
    ]
    replay = LedgerReplay.from_rows(rows)
    assert replay.allocation.stranded == {2: (0, 6), 3: (0, 2)}
    assert replay.allocation.uncovered == {1: 2}
    # Blocks credited after work but coming after its blocks in the order
    # (expiring later, or never) could not have paid it anyway: no mark.
    rows = [
        _row(1, "credit", 20, expiry=D(2026, 6, 30)),
        _row(2, "credit", 28, expiry=D(2026, 7, 31)),
        _row(3, "debit", -30, date=D(2026, 2, 1)),
        _row(4, "credit", 10, expiry=D(2026, 9, 30)),
        _row(5, "credit", 10),
    ]
    assert LedgerReplay.from_rows(rows).allocation.stranded == {}
    # A block that expires before the no-expiry block that paid earlier
    # work is marked: "work uses the blocks that expire first" did not
    # apply to work posted before it.
    rows[1] = _row(2, "credit", 28)
    assert LedgerReplay.from_rows(rows).allocation.stranded == {4: (10, 0)}


def _model_replay(rows, stored, limit):
    """Replay ``rows`` as the ledger model does: from the newest stored
    checkpoint before entry ``limit``; work paid in full before it that the
    rows release is looked up in the ``settled`` records of the checkpoints
    from that work to the checkpoint, else an older checkpoint is taken.
    ``stored``: ``(entry id, state, settled)``, oldest first. Return the
    replay and whether it used records."""
    while True:
        candidates = [item for item in stored if item[0] < limit]
        if not candidates:
            return LedgerReplay.from_rows(rows), False
        cut, state, _settled = candidates[-1]
        try:
            return LedgerReplay.from_rows(rows[cut:], state), False
        except StaleCheckpoint as stale:
            if stale.work:
                records = [
                    (
                        kept,
                        {
                            int(key): value
                            for key, value in (kept or {}).items()
                            if int(key) in stale.work
                        },
                    )
                    for entry_id, _state, kept in reversed(candidates)
                    if entry_id >= min(stale.work)
                ]
                found = allocation.newest_settled(records, stale.work)
                if found is not None:
                    return LedgerReplay.from_rows(rows[cut:], state, found), True
            limit = stale.before


@settings(max_examples=400, deadline=None)
@given(ledger_rows(), st.data())
def test_release_of_work_paid_before_the_checkpoint_reads_its_records(rows, data):
    """Checkpoints written by postings one after the other (each replayed
    from the previous one, reading what paid for released work from the
    records of older ones), some without records (written before they were
    kept): a replay from any of them, reading the records, is the whole
    replay, including late corrections and blocks taken away."""
    cuts = sorted(
        data.draw(
            st.sets(st.integers(min_value=1, max_value=max(len(rows), 1)), max_size=8)
        )
    )
    stored = []
    for cut in cuts:
        if cut > len(rows):
            continue
        replay, _used = _model_replay(rows[:cut], stored, cut + 1)
        _assert_same_replay(replay, LedgerReplay.from_rows(rows[:cut]))
        kept = data.draw(st.sampled_from([True, True, True, False]))
        stored.append(
            (cut, _stored(replay.checkpoint()), kept and _stored(replay.settled()))
        )
    full = LedgerReplay.from_rows(rows)
    for limit in range(1, len(rows) + 2):
        partial, _used = _model_replay(rows, stored, limit)
        assert partial.since < limit
        _assert_same_replay(partial, full)


def test_release_of_old_work_continues_from_the_checkpoint():
    rows = [
        _row(1, "credit", 10),
        _row(2, "credit", 5, expiry=D(2026, 6, 30)),
        _row(3, "debit", -7),
        _row(4, "debit", -1),
    ]
    first = LedgerReplay.from_rows(rows[:3])
    second = LedgerReplay.from_rows(rows[3:], _stored(first.checkpoint()))
    # The work paid in full is recorded beside the checkpoint that saw it.
    assert _stored(first.settled()) == {"3": ["2026-01-01", [[2, 5], [1, 2]]]}
    assert _stored(second.settled()) == {"4": ["2026-01-01", [[1, 1]]]}
    stored = [
        (3, _stored(first.checkpoint()), _stored(first.settled())),
        (4, _stored(second.checkpoint()), _stored(second.settled())),
    ]
    later = [*rows, (5, 1, "reversal", 7, MAR_1, None, 3, None, "debit")]
    with pytest.raises(StaleCheckpoint) as stale:
        LedgerReplay.from_rows(later[4:], stored[1][1])
    assert stale.value.work == (3,)
    partial, used = _model_replay(later, stored, 6)
    assert used and partial.since == 4
    _assert_same_replay(partial, LedgerReplay.from_rows(later))
    assert partial.allocation.consumed == {1: 1, 2: 0}
    # Without the records of the checkpoint that saw it, an older one.
    stored[0] = (3, stored[0][1], None)
    partial, used = _model_replay(later, stored, 6)
    assert not used and partial.since == 0
