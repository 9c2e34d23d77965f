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

Replaying a whole ledger costs time linear in its entries. A replay can
instead continue from a *checkpoint*: the state of the replay after the
entry ``entry_id`` (:meth:`LedgerReplay.checkpoint`), which holds what later
entries can still change: every block with its consumed units, the work not
paid yet (with the blocks paying part of it), the expiries and rollovers of
each block and the balance. Work already paid in full is not kept: its
blocks are final, unless that work is released later. The entries after
the checkpoint are then replayed from it, with the very same rules, so the
result is the one of the whole replay (``tests/unit`` checks it against the
whole replay). A checkpoint is *stale* for entries that reach back before
it: the reversal of a block (which removes the block from the whole
history) or the release of work it no longer knows; :class:`StaleCheckpoint`
then names the entry before which an older checkpoint is needed. For the
release of work paid in full, the replay can instead continue from the
same checkpoint given what paid for that work: each checkpoint is stored
with :meth:`LedgerReplay.settled` (the work its replay saw paid in full),
and :func:`newest_settled` picks the record valid at the checkpoint.
"""

import bisect
import datetime
from dataclasses import dataclass, field

# Format of a checkpoint's state: an older one is not read (2: the work
# each block paid by date, and what each block could not pay for).
CHECKPOINT_VERSION = 2
BLOCK = "block"
USE = "use"
RELEASE = "release"
NO_EXPIRY = datetime.date.max


class StaleCheckpoint(ValueError):
    """The entries replayed reach back before the checkpoint: replay from
    a checkpoint taken before entry ``before`` (or from the start).

    :ivar tuple work: when the entries only release work paid in full
        before the checkpoint, its ids: the replay can instead continue
        from the same checkpoint given what paid for it (``settled`` of
        :meth:`LedgerReplay.from_rows`, see :func:`newest_settled`).
    """

    def __init__(self, before, work=()):
        super().__init__(f"a checkpoint before entry {before} is needed")
        self.before = before
        self.work = tuple(work)


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
    :ivar dict stranded: block id -> ``(later, unpaid)``, for a block
        credited after work it could not pay for (only such blocks): when
        it was credited, ``later`` units of work posted before it, that it
        could have paid (dated up to its expiry), were already paid by
        blocks that expire after it (or never); ``unpaid`` units of earlier
        work stayed unpaid after it (dated after its expiry). A block never
        pays for work posted before it that another block already paid.
    """

    paid_by: dict = field(default_factory=dict)
    consumed: dict = field(default_factory=dict)
    uncovered: dict = field(default_factory=dict)
    stranded: dict = field(default_factory=dict)

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
        # block id -> {work date: units of it the block pays}, and the date
        # of the work replayed (to release it).
        self.paid_on = {}
        self.usage_dates = {}

    def state(self):
        """What later events can change, JSON-ready (see the module's
        docstring): every block with its consumed units, and the work not
        paid in full with what pays for it."""
        return {
            "blocks": [
                [
                    block.id,
                    block.date.isoformat(),
                    block.units,
                    block.expiry_date and block.expiry_date.isoformat(),
                    self.result.consumed[block.id],
                ]
                for block in self.blocks.values()
            ],
            "outstanding": [
                [
                    usage.id,
                    usage.date.isoformat(),
                    usage.units,
                    units,
                    [list(pair) for pair in self.result.paid_by[usage_id]],
                ]
                for usage_id, (usage, units) in self.outstanding.items()
            ],
            "paid_on": [
                [
                    block_id,
                    sorted(
                        [date.isoformat(), units]
                        for date, units in self.paid_on[block_id].items()
                    ),
                ]
                for block_id in self.blocks
                if self.paid_on.get(block_id)
            ],
            "stranded": sorted(
                [block_id, *figures]
                for block_id, figures in self.result.stranded.items()
            ),
        }

    @classmethod
    def from_state(cls, state):
        """A replayer in the state ``state`` (see :meth:`state`)."""
        replayer = cls()
        for block_id, date, units, expiry, consumed in state["blocks"]:
            block = Block(
                block_id,
                datetime.date.fromisoformat(date),
                units,
                expiry and datetime.date.fromisoformat(expiry),
            )
            replayer.blocks[block_id] = block
            replayer.capacity[block_id] = units - consumed
            replayer.result.consumed[block_id] = consumed
            if units - consumed:
                replayer.available.append(block.sort_key)
        replayer.available.sort()
        for usage_id, date, units, left, paid in state["outstanding"]:
            usage = Usage(usage_id, datetime.date.fromisoformat(date), units)
            replayer.outstanding[usage_id] = (usage, left)
            replayer.usage_dates[usage_id] = usage.date
            replayer.result.paid_by[usage_id] = [tuple(pair) for pair in paid]
        for block_id, pairs in state["paid_on"]:
            replayer.paid_on[block_id] = {
                datetime.date.fromisoformat(date): units for date, units in pairs
            }
        for block_id, later, unpaid in state["stranded"]:
            replayer.result.stranded[block_id] = (later, unpaid)
        return replayer

    def know_settled(self, settled, usage_ids):
        """Learn what paid for the work of ``usage_ids`` paid in full before
        the state this replay started from (``settled``: ``{usage id:
        [date, paid by]}``), to release it."""
        for usage_id, (date, paid) in settled.items():
            if usage_id in usage_ids and usage_id not in self.result.paid_by:
                self.result.paid_by[usage_id] = [tuple(pair) for pair in paid]
                self.usage_dates[usage_id] = datetime.date.fromisoformat(date)

    def add_block(self, block):
        if block.units <= 0:
            raise ValueError(f"block {block.id}: units must be positive")
        if block.id in self.blocks:
            raise ValueError(f"block {block.id} replayed twice")
        later = self._paid_by_later_blocks(block)
        self.blocks[block.id] = block
        self.capacity[block.id] = block.units
        self.result.consumed[block.id] = 0
        self._make_available(block)
        self._cover_outstanding()
        unpaid = sum(units for _usage, units in self.outstanding.values())
        if later or unpaid:
            self.result.stranded[block.id] = (later, unpaid)

    def _paid_by_later_blocks(self, block):
        """Units of the work replayed so far that ``block`` could pay for
        (dated up to its expiry) but that blocks coming after it in the
        consumption order pay."""
        key = block.sort_key
        later = 0
        for other in self.blocks.values():
            paid_on = self.paid_on.get(other.id)
            if not paid_on or other.sort_key <= key:
                continue
            if block.expiry_date is None:
                later += self.result.consumed[other.id]
            else:
                later += sum(
                    units
                    for date, units in paid_on.items()
                    if date <= block.expiry_date
                )
        return later

    def use(self, usage):
        if usage.units <= 0:
            raise ValueError(f"usage {usage.id}: units must be positive")
        if usage.id in self.result.paid_by or usage.id in self.released:
            raise ValueError(f"usage {usage.id} replayed twice")
        self.result.paid_by[usage.id] = []
        self.usage_dates[usage.id] = usage.date
        left = self._pay(usage, usage.units)
        if left:
            self.outstanding[usage.id] = (usage, left)

    def release(self, usage_id):
        if usage_id not in self.result.paid_by:
            raise ValueError(f"usage {usage_id} cannot be released")
        self.released.add(usage_id)
        self.outstanding.pop(usage_id, None)
        date = self.usage_dates.pop(usage_id)
        for block_id, units in self.result.paid_by.pop(usage_id):
            self.capacity[block_id] += units
            self.result.consumed[block_id] -= units
            paid_on = self.paid_on[block_id]
            paid_on[date] -= units
            if not paid_on[date]:
                del paid_on[date]
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
            paid_on = self.paid_on.setdefault(block.id, {})
            paid_on[usage.date] = paid_on.get(usage.date, 0) + taken
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

    :ivar Allocation allocation: which blocks pay for which usage. After a
        replay from a checkpoint, ``paid_by`` holds the work posted after
        it (and the work it had not paid in full) only.
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
    :ivar int since: id of the entry of the checkpoint the replay started
        from (0: the whole ledger was replayed).
    :ivar int entry_id: id of the last entry replayed.
    """

    allocation: Allocation
    blocks: dict
    expired: dict
    live_expiries: dict
    live_rollovers: dict
    processed: set
    rollovers: set
    balance: int
    since: int = 0
    entry_id: int = 0
    replayer: _Replayer | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_rows(cls, rows, checkpoint=None, settled=None):
        """Build the replay from ledger rows in posting (id) order.

        :param rows: tuples ``(id, contract_id, kind, units, date,
            expiry_date, reversed_entry_id, block_entry_id[, reversed_kind])``
            with ``kind`` in credit, debit, adjustment, expiry, reversal. A
            credit with a ``block_entry_id`` is a rollover of that block; an
            expiry names the block it expires; a reversal copies the
            ``block_entry_id`` of the entry it reverses and names its kind.
        :param dict checkpoint: a state of :meth:`checkpoint`; ``rows`` are
            then the entries after it.
        :param dict settled: ``{usage id: [date, paid by]}``, what paid for
            work paid in full before the checkpoint that ``rows`` release,
            as it was at the checkpoint (see :func:`newest_settled`).
        :raises StaleCheckpoint: ``rows`` reverse a block, or release work,
            that the checkpoint cannot give back.
        """
        rows = list(rows)
        since = checkpoint["entry_id"] if checkpoint else 0
        (
            replayer,
            expired,
            live_expiries,
            live_rollovers,
            processed,
            rollovers,
            balance,
        ) = _start(checkpoint)
        reversed_ids = {row[6] for row in rows if row[2] == "reversal"}
        replayer.know_settled(settled or {}, reversed_ids)
        row_by_id = {row[0]: row for row in rows}
        _check_reach_back(rows, row_by_id, replayer, since)
        for (
            entry_id,
            _contract,
            kind,
            units,
            date,
            expiry,
            reversed_id,
            block_id,
            *_rest,
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
                    replayer.add_block(
                        Block(
                            entry_id, date, units, expiry if kind == "credit" else None
                        )
                    )
            elif kind in ("debit", "adjustment"):
                replayer.use(Usage(entry_id, date, -units))
            elif kind == "expiry":
                processed.add(block_id)
                expired[block_id] = expired.get(block_id, 0) - units
                if not is_reversed:
                    live_expiries.setdefault(block_id, []).append(entry_id)
            elif kind == "reversal":
                target_kind, target_units, target_block = _reversed(
                    row_by_id, reversed_id, units, block_id, _rest, since
                )
                if target_kind is None:
                    continue
                if target_kind == "debit" or (
                    target_kind == "adjustment" and target_units < 0
                ):
                    replayer.release(reversed_id)
                elif target_kind == "expiry":
                    expired[target_block] = expired.get(target_block, 0) - units
                    if reversed_id not in row_by_id:  # expired before the checkpoint
                        live_expiries[target_block].remove(reversed_id)
                        if not live_expiries[target_block]:
                            del live_expiries[target_block]
        result = replayer.result
        result.uncovered = {
            usage_id: left for usage_id, (_usage, left) in replayer.outstanding.items()
        }
        return cls(
            allocation=result,
            blocks=replayer.blocks,
            expired=expired,
            live_expiries=live_expiries,
            live_rollovers=live_rollovers,
            processed=processed,
            rollovers=rollovers,
            balance=balance,
            since=since,
            entry_id=rows[-1][0] if rows else since,
            replayer=replayer,
        )

    def checkpoint(self):
        """The state of this replay after its last entry, JSON-ready: a
        later replay continues from it (see :meth:`from_rows`)."""
        return {
            "version": CHECKPOINT_VERSION,
            "entry_id": self.entry_id,
            **self.replayer.state(),
            "expired": sorted(self.expired.items()),
            "live_expiries": sorted(self.live_expiries.items()),
            "live_rollovers": sorted(self.live_rollovers.items()),
            "processed": sorted(self.processed),
            "rollovers": sorted(self.rollovers),
            "balance": self.balance,
        }

    def settled(self):
        """What paid for the work this replay saw that is paid in full,
        JSON-ready: ``{str(usage id): [date, paid by]}``. Stored beside a
        checkpoint (which keeps no such work), it lets a later release of
        that work continue from the checkpoint (see :func:`newest_settled`).
        """
        replayer = self.replayer
        return {
            str(usage_id): [
                replayer.usage_dates[usage_id].isoformat(),
                [list(pair) for pair in paid],
            ]
            for usage_id, paid in self.allocation.paid_by.items()
            if usage_id not in replayer.outstanding
        }

    def used_until(self, cutoff=None):
        """Units of each live block that pay for live work dated up to
        ``cutoff`` (None: any date): ``{block id: units}``, blocks that pay
        for none left out.

        Exact after a replay from a checkpoint too, unlike a sum over
        ``allocation.paid_by`` (which knows the work after the checkpoint
        only): the replay keeps, per block, the units it pays by work date
        for all the work, paid in full before the checkpoint or not, and
        takes back what a release gives back."""
        used = {}
        for block_id, paid_on in self.replayer.paid_on.items():
            units = sum(
                units
                for date, units in paid_on.items()
                if cutoff is None or date <= cutoff
            )
            if units:
                used[block_id] = units
        return used

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


def _reversed(row_by_id, reversed_id, units, block_id, rest, since):
    """``(kind, units, block id)`` of the entry a reversal reverses: from
    its row when it is replayed, else, for an entry before the checkpoint
    ``since``, from the reversal itself (which names the kind, has the
    opposite units and copies the block); ``(None, 0, None)`` for an
    unknown entry."""
    target = row_by_id.get(reversed_id)
    if target is not None:
        return target[2], target[3], target[7]
    if reversed_id <= since and rest and rest[0]:
        return rest[0], -units, block_id
    return None, 0, None


def _check_reach_back(rows, row_by_id, replayer, since):
    """Raise :class:`StaleCheckpoint` if ``rows`` (replayed from a
    checkpoint, whose state is ``replayer``) reverse entries before it that
    the checkpoint cannot account for: a block (its removal changes the
    whole history) or work it does not know what paid for (paid in full
    before the checkpoint)."""
    stale = []
    work = []
    for row in rows if since else ():
        reversed_id = row[6]
        if row[2] != "reversal" or reversed_id in row_by_id:
            continue
        kind, units, _block = _reversed(
            row_by_id, reversed_id, row[3], row[7], row[8:], since
        )
        if kind == "expiry":
            continue
        if kind == "debit" or (kind == "adjustment" and units < 0):
            if reversed_id not in replayer.result.paid_by:
                work.append(reversed_id)
            continue
        stale.append(reversed_id)
    if stale or work:
        raise StaleCheckpoint(min(stale + work), () if stale else work)


def newest_settled(records, work):
    """What paid for each of ``work`` (ids of work paid in full before a
    checkpoint), from the ``settled`` records of that checkpoint and the
    older ones: ``records`` are ``(settled, matches)`` per checkpoint, newest
    first, ``settled`` None for a checkpoint that did not keep them and
    ``matches`` ``{usage id: [date, paid by]}``. The newest record of a work
    is the one valid at the checkpoint: what paid for work paid in full
    changes only when a block is taken away, and every checkpoint written
    after that was replayed from before the block, so it records again all
    the work the block changed. A checkpoint without records hides the
    older ones (it may have been such a one). Return ``{usage id: [date,
    paid by]}``, or None when a work is missing.
    """
    found = {}
    for kept, matches in records:
        if not kept:
            break
        for usage_id, record in matches.items():
            found.setdefault(usage_id, record)
    if set(work) - set(found):
        return None
    return found


def _start(checkpoint):
    """The state a replay starts from: ``checkpoint``'s, or an empty one."""
    if not checkpoint:
        return _Replayer(), {}, {}, {}, set(), set(), 0
    return (
        _Replayer.from_state(checkpoint),
        dict(checkpoint["expired"]),
        {key: list(ids) for key, ids in checkpoint["live_expiries"]},
        {key: list(ids) for key, ids in checkpoint["live_rollovers"]},
        set(checkpoint["processed"]),
        set(checkpoint["rollovers"]),
        checkpoint["balance"],
    )
