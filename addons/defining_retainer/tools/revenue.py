"""How much of a prepaid amount is earned: pure arithmetic of revenue
recognition, tested without a database.

A *pool* is what one sold line was paid: the untaxed amount of its deferred
invoices less its deferred credit notes (company currency), for the units
that amount pays; or a manual credit given a value (its units times that
value). Its blocks (the line's credits and the rollovers of their
unused units) are consumed by work and expire; the value of a pool's used
and expired units is recognised, always as a share of the pool's amount
rounded once, so that when every unit is used or expired exactly the amount
is recognised, to the cent, whatever the number of steps.

Units used beyond the units paid (a block credited on confirmation, used
before its invoice is posted) are not valued until the invoice is: their
value is pending.
"""

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Earned:
    """Value of a pool earned so far: ``used`` (revenue) and ``expired``
    (breakage), in the currency of the pool's amount."""

    used: float
    expired: float

    @property
    def total(self):
        return self.used + self.expired


@dataclass
class Pool:
    """What one sold line (or one manual credit given a value) was paid, and
    how much of it is earned, at a date (see tools/revenue.py). Amounts in
    company currency."""

    sale_line_id: int
    contract_id: int
    partner_id: int
    company_id: int
    # The manual credit that is the pool (sale_line_id is then 0).
    block_entry_id: int = 0
    amount: float = 0.0
    paid_units: int = 0
    used_units: int = 0
    expired_units: int = 0
    earned: Earned = field(default_factory=lambda: Earned(0.0, 0.0))
    recognized_used: float = 0.0
    recognized_expired: float = 0.0

    @property
    def unearned(self):
        """Value of the units not used nor expired (the deferred balance
        once everything earned is recognised)."""
        return self.amount - self.earned.total

    @property
    def recognized(self):
        return self.recognized_used + self.recognized_expired

    @property
    def unit_value(self):
        return self.amount / self.paid_units if self.paid_units > 0 else 0.0

    @property
    def key(self):
        """The pool's key in the dicts of pools: the sold line's id, or
        ``("block", id)`` of the valued manual credit."""
        if self.block_entry_id:
            return ("block", self.block_entry_id)
        return self.sale_line_id

    @property
    def source_vals(self):
        """What a recognition line or report line names as its source."""
        return {
            "sale_line_id": self.sale_line_id or False,
            "block_entry_id": self.block_entry_id or False,
        }


def earned_value(amount, paid_units, used_units, expired_units, round_amount):
    """Return the :class:`Earned` value of a pool.

    :param float amount: what the pool was paid (untaxed, net of credit
        notes); nothing is earned from a pool with no positive amount.
    :param int paid_units: units that ``amount`` pays for.
    :param int used_units: units of the pool's blocks used by work.
    :param int expired_units: units of the pool's blocks that expired and
        did not roll over.
    :param round_amount: rounds an amount to the currency's precision.
    """
    if paid_units <= 0 or amount <= 0:
        return Earned(0.0, 0.0)
    used = min(max(used_units, 0), paid_units)
    total = min(used + max(expired_units, 0), paid_units)
    used_value = round_amount(amount * used / paid_units)
    total_value = round_amount(amount * total / paid_units)
    return Earned(used_value, round_amount(total_value - used_value))


def refund_excess(refund_amount, amount_before, earned_before, round_amount):
    """Part of a credit note that refunds revenue already earned.

    A credit note first takes back the pool's unearned value (the deferred
    balance); what it refunds beyond that was earned (the customer used the
    time) and is booked against revenue, never un-recognised.

    :param float refund_amount: untaxed amount of the credit note line.
    :param float amount_before: the pool's amount before the credit note.
    :param Earned earned_before: the pool's earned value before it.
    :returns: the excess, between 0 and ``refund_amount``.
    """
    if refund_amount <= 0:
        return 0.0
    unearned = max(amount_before - earned_before.total, 0.0)
    return round_amount(min(max(refund_amount - unearned, 0.0), refund_amount))


def units_by_pool(rows, pool_keys, replays, cutoff=None, block_pools=None):
    """Units used and expired per pool, from the blocks, the expiries and
    the replays of the ledgers: whatever the number of work entries and
    wherever the replays started.

    :param rows: the blocks (``is_block``), the expiries and the reversals
        of expiries of the ledgers (other entries may be there: they are
        not read), in id order, tuples ``(id, contract_id, kind, units,
        date, expiry_date, reversed_entry_id, block_entry_id, sale_line_id,
        is_block)``.
    :param pool_keys: the sold lines (``sale_line_id``) that are pools.
    :param replays: ``{contract_id: LedgerReplay}`` of the ledgers as they
        are now, possibly from a checkpoint (see tools/allocation.py): the
        units of each block used by work dated up to ``cutoff`` are the
        replay's (:meth:`LedgerReplay.used_until`), not summed over the work.
    :param cutoff: count work and expiries dated up to this date only
        (None: all), as the ledger is now: a reversed expiry does not count,
        whatever the date of its reversal.
    :param block_pools: ``{block id: pool key}`` of blocks that are a pool
        of their own (a manual credit given a value).
    :returns: ``(used, expired)``, two dicts ``{pool key: units}``. A block
        belongs to its sold line's pool, a rollover to the pool of the block
        its units come from; units that rolled over are not expired (their
        value moves along with them).
    """
    block_pool, row_by_id = _pools_of_blocks(rows, pool_keys, block_pools)
    used = defaultdict(int)
    for replay in replays.values():
        for block_id, units in replay.used_until(cutoff or None).items():
            if block_id in block_pool:
                used[block_pool[block_id]] += units
    return used, _expired_by_pool(rows, row_by_id, block_pool, replays, cutoff)


def _pools_of_blocks(rows, pool_keys, block_pools):
    """``({block id: pool key}, {entry id: row})`` of ledger ``rows`` (see
    :func:`units_by_pool`): a rollover's pool is its block's, which comes
    before it."""
    block_pool = {}
    row_by_id = {}
    block_pools = block_pools or {}
    for row in rows:
        entry_id, block_id, sale_line_id, is_block = row[0], row[7], row[8], row[9]
        row_by_id[entry_id] = row
        if not is_block:
            continue
        if entry_id in block_pools:
            block_pool[entry_id] = block_pools[entry_id]
        elif sale_line_id in pool_keys:
            block_pool[entry_id] = sale_line_id
        elif block_id in block_pool:
            block_pool[entry_id] = block_pool[block_id]
    return block_pool, row_by_id


def _expired_by_pool(rows, row_by_id, block_pool, replays, cutoff):
    """``{pool key: units}`` expired up to ``cutoff`` (see
    :func:`units_by_pool`), from the expiries and their reversals among
    ``rows``, less what rolled over."""
    expired_by_block = defaultdict(int)
    for _id, _contract, kind, units, date, _exp, reversed_id, block_id, *_ in rows:
        if kind == "reversal" and row_by_id[reversed_id][2] == "expiry":
            # A corrected expiry counts out as of its own date, like the
            # expiry that replaces it (dated on the block's expiry date),
            # not as of the day it was corrected: else both count between
            # the two dates.
            expiry = row_by_id[reversed_id]
            kind, date, block_id = "expiry", expiry[4], expiry[7]
        if kind != "expiry" or (cutoff and date > cutoff):
            continue
        expired_by_block[block_id] -= units
    expired = defaultdict(int)
    for block_id, units in expired_by_block.items():
        if block_id not in block_pool:
            continue
        replay = replays[row_by_id[block_id][1]]
        rolled = sum(
            replay.blocks[rollover_id].units
            for rollover_id in replay.live_rollovers.get(block_id, ())
        )
        expired[block_pool[block_id]] += max(units - rolled, 0)
    return expired
