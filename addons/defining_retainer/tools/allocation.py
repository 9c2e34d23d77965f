"""Which credit block pays for which unit of work: a replay of a ledger.

Pure Python on purpose (no Odoo import), so the consumption order can be
tested exhaustively without a database. The ledger model turns its rows into
the events below, in posting order, and reads the result; nothing about the
allocation is stored, so it is exact whatever was posted, reversed or
corrected since.

The rules (see the "Blocks" section of the addon's README):

- Work is paid by the blocks it may use, in this order: blocks that expire
  first, then blocks without expiry; oldest first; ties by id.
- A block may pay for work dated up to and including its expiry date, never
  for work dated later.
- Work larger than a block spills into the next one; what no block can pay
  is an overdraft, covered first by the next block that arrives (or by units
  a released usage gives back), oldest overdraft first.
- Releasing a usage (a reversed debit) gives its units back to the blocks
  that paid for it.
- A block that was taken away (a reversed credit) is simply not replayed:
  its usage falls on the next blocks exactly as if it had never existed.
"""

import bisect
import datetime
from dataclasses import dataclass, field

BLOCK = "block"
USE = "use"
RELEASE = "release"
NO_EXPIRY = datetime.date.max


@dataclass(frozen=True)
class Block:
    """A credit: ``units`` (> 0) usable for work dated up to ``expiry_date``
    (``None``: never expires)."""

    id: int
    date: datetime.date
    units: int
    expiry_date: datetime.date | None = None

    @property
    def sort_key(self):
        return (
            self.expiry_date is None,
            self.expiry_date or NO_EXPIRY,
            self.date,
            self.id,
        )

    def usable_for(self, work_date):
        return self.expiry_date is None or work_date <= self.expiry_date


@dataclass(frozen=True)
class Usage:
    """Work of ``units`` (> 0) dated ``date``, to be paid by blocks."""

    id: int
    date: datetime.date
    units: int


@dataclass
class Allocation:
    """The result of a replay, in units.

    :ivar dict paid_by: usage id -> list of ``(block id, units)`` in the
        order the blocks were used.
    :ivar dict consumed: block id -> units of it that pay for live usage.
    :ivar dict uncovered: usage id -> units no block pays (overdraft), for
        live usage only.
    """

    paid_by: dict = field(default_factory=dict)
    consumed: dict = field(default_factory=dict)
    uncovered: dict = field(default_factory=dict)

    @property
    def overdraft(self):
        """Units of live work that no block pays for."""
        return sum(self.uncovered.values())


def allocate(events):
    """Replay ``events`` and return the :class:`Allocation`.

    :param events: iterable of ``(BLOCK, Block)``, ``(USE, Usage)`` and
        ``(RELEASE, usage_id)`` in posting order. A usage id is used once;
        releasing an unknown or already released usage raises.
    :raises ValueError: on non-positive units, an id seen twice or an
        invalid release.
    """
    replayer = _Replayer()
    handlers = {
        BLOCK: replayer.add_block,
        USE: replayer.use,
        RELEASE: replayer.release,
    }
    for kind, payload in events:
        if kind not in handlers:
            raise ValueError(f"unknown event {kind!r}")
        handlers[kind](payload)
    result = replayer.result
    result.uncovered = {
        usage_id: units for usage_id, (_usage, units) in replayer.outstanding.items()
    }
    return result


class _Replayer:
    """State of one replay (see :func:`allocate`)."""

    def __init__(self):
        self.blocks = {}
        self.capacity = {}
        self.available = []  # sort keys of the blocks with capacity, in order
        self.outstanding = {}  # usage id -> (Usage, units unpaid), oldest first
        self.released = set()
        self.result = Allocation()

    def add_block(self, block):
        if block.units <= 0:
            raise ValueError(f"block {block.id}: units must be positive")
        if block.id in self.blocks:
            raise ValueError(f"block {block.id} replayed twice")
        self.blocks[block.id] = block
        self.capacity[block.id] = block.units
        self.result.consumed[block.id] = 0
        self._make_available(block)
        self._cover_outstanding()

    def use(self, usage):
        if usage.units <= 0:
            raise ValueError(f"usage {usage.id}: units must be positive")
        if usage.id in self.result.paid_by or usage.id in self.released:
            raise ValueError(f"usage {usage.id} replayed twice")
        self.result.paid_by[usage.id] = []
        left = self._pay(usage, usage.units)
        if left:
            self.outstanding[usage.id] = (usage, left)

    def release(self, usage_id):
        if usage_id not in self.result.paid_by:
            raise ValueError(f"usage {usage_id} cannot be released")
        self.released.add(usage_id)
        self.outstanding.pop(usage_id, None)
        for block_id, units in self.result.paid_by.pop(usage_id):
            self.capacity[block_id] += units
            self.result.consumed[block_id] -= units
            self._make_available(self.blocks[block_id])
        self._cover_outstanding()

    def _make_available(self, block):
        key = block.sort_key
        index = bisect.bisect_left(self.available, key)
        if index == len(self.available) or self.available[index] != key:
            self.available.insert(index, key)

    def _pay(self, usage, units):
        """Pay up to ``units`` of ``usage`` from the available blocks, in
        order; return what is left unpaid."""
        paid = self.result.paid_by[usage.id]
        index = 0
        while units and index < len(self.available):
            block = self.blocks[self.available[index][-1]]
            if not block.usable_for(usage.date):
                index += 1
                continue
            taken = min(units, self.capacity[block.id])
            self.capacity[block.id] -= taken
            self.result.consumed[block.id] += taken
            units -= taken
            if paid and paid[-1][0] == block.id:
                paid[-1] = (block.id, paid[-1][1] + taken)
            else:
                paid.append((block.id, taken))
            if not self.capacity[block.id]:
                del self.available[index]
        return units

    def _cover_outstanding(self):
        """Pay the oldest overdrafts first from what became available."""
        for usage_id in list(self.outstanding):
            if not self.available:
                return
            usage, units = self.outstanding[usage_id]
            left = self._pay(usage, units)
            if left:
                self.outstanding[usage_id] = (usage, left)
            else:
                del self.outstanding[usage_id]


@dataclass
class LedgerReplay:
    """A retainer's ledger seen as blocks, usage and expiries.

    :ivar Allocation allocation: which blocks pay for which usage.
    :ivar dict blocks: live block id -> :class:`Block` (credits and positive
        adjustments that are not reversed).
    :ivar dict expired: block id -> units expired (live expiry entries).
    :ivar dict live_expiries: block id -> ids of its live expiry entries.
    :ivar dict live_rollovers: block id -> ids of the live credits that
        rolled its units over.
    :ivar set processed: blocks that an expiry run has handled (an expiry or
        a rollover was posted for them, even if reversed since).
    :ivar set rollovers: ids of the credits that are rollovers.
    :ivar int balance: the sum of all units.
    """

    allocation: Allocation
    blocks: dict
    expired: dict
    live_expiries: dict
    live_rollovers: dict
    processed: set
    rollovers: set
    balance: int

    @classmethod
    def from_rows(cls, rows):
        """Build the replay from ledger rows in posting (id) order.

        :param rows: tuples ``(id, contract_id, kind, units, date,
            expiry_date, reversed_entry_id, block_entry_id)`` with ``kind`` in
            credit, debit, adjustment, expiry, reversal. A credit with a
            ``block_entry_id`` is a rollover of that block; an expiry names
            the block it expires.
        """
        rows = list(rows)
        reversed_ids = {row[6] for row in rows if row[2] == "reversal"}
        row_by_id = {row[0]: row for row in rows}
        events = []
        blocks = {}
        expired = {}
        live_expiries = {}
        live_rollovers = {}
        processed = set()
        rollovers = set()
        balance = 0
        for (
            entry_id,
            _contract,
            kind,
            units,
            date,
            expiry,
            reversed_id,
            block_id,
        ) in rows:
            balance += units
            is_reversed = entry_id in reversed_ids
            if kind == "credit" or (kind == "adjustment" and units > 0):
                if block_id:
                    rollovers.add(entry_id)
                    processed.add(block_id)
                    if not is_reversed:
                        live_rollovers.setdefault(block_id, []).append(entry_id)
                if not is_reversed:
                    block = Block(
                        entry_id, date, units, expiry if kind == "credit" else None
                    )
                    blocks[entry_id] = block
                    events.append((BLOCK, block))
            elif kind in ("debit", "adjustment"):
                events.append((USE, Usage(entry_id, date, -units)))
            elif kind == "expiry":
                processed.add(block_id)
                expired[block_id] = expired.get(block_id, 0) - units
                if not is_reversed:
                    live_expiries.setdefault(block_id, []).append(entry_id)
            elif kind == "reversal":
                target = row_by_id.get(reversed_id)
                if target is None:
                    continue
                target_kind, target_units = target[2], target[3]
                if target_kind == "debit" or (
                    target_kind == "adjustment" and target_units < 0
                ):
                    events.append((RELEASE, reversed_id))
                elif target_kind == "expiry":
                    expired[target[7]] = expired.get(target[7], 0) - units
        return cls(
            allocation=allocate(events),
            blocks=blocks,
            expired=expired,
            live_expiries=live_expiries,
            live_rollovers=live_rollovers,
            processed=processed,
            rollovers=rollovers,
            balance=balance,
        )

    def remaining(self, block_id):
        """Usable units left in a live block: units - consumed - expired,
        never negative."""
        block = self.blocks[block_id]
        used = self.allocation.consumed.get(block_id, 0)
        return max(block.units - used - self.expired.get(block_id, 0), 0)

    def unexpired_target(self, block_id):
        """Units of a block that should be expired once it is past its
        expiry date: what usage has not consumed (0 for a block that was
        taken away)."""
        if block_id not in self.blocks:
            return 0
        block = self.blocks[block_id]
        return max(block.units - self.allocation.consumed.get(block_id, 0), 0)
