from collections import defaultdict
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, format_date, split_every

from .retainer_contract_ledger import MAX_CORRECTION_ROUNDS
from .retainer_ledger_entry import EXPIRING_SOON_DAYS


# One model, one file per concern (core, posting, blocks, sales) to keep
# each file short.
class RetainerContract(models.Model):
    """Blocks on the retainer: expiring units, rollover settings and the
    expiry job (see tools/allocation.py for the consumption order)."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

    # === FIELDS === #

    rollover_max_units = fields.Integer(
        string="Rollover (max units)",
        tracking=True,
        default=lambda self: self.env.company.retainer_rollover_max_units,
        help="When a block expires, up to this many of its unused units move "
        "into a new block. 0: nothing rolls over.",
    )
    rollover_validity_months = fields.Integer(
        string="Rolled units valid (months)",
        tracking=True,
        default=lambda self: self.env.company.retainer_rollover_validity_months,
        help="A rolled-over block expires this many months after the block it "
        "comes from. 0: it never expires.",
    )
    block_ids = fields.One2many(
        "retainer.ledger.entry",
        "contract_id",
        string="Blocks",
        domain=[("is_block", "=", True)],
        readonly=True,
    )
    expiring_units = fields.Integer(
        compute="_compute_expiry_figures",
        search="_search_expiring_units",
        help=f"Remaining units of blocks that expire in the next "
        f"{EXPIRING_SOON_DAYS} days.",
    )
    next_expiry_date = fields.Date(
        compute="_compute_expiry_figures",
        help="The next date on which a block with remaining units expires.",
    )
    # === COMPUTE METHODS === #

    def _compute_expiry_figures(self):
        today = fields.Date.context_today(self)
        horizon = today + timedelta(days=EXPIRING_SOON_DAYS)
        replays = self.env["retainer.ledger.entry"]._retainer_replay(self._origin.ids)
        for contract in self:
            replay = replays.get(contract._origin.id)
            expiring = 0
            next_date = False
            for block_id, block in (replay.blocks if replay else {}).items():
                if not block.expiry_date or block.expiry_date < today:
                    continue
                remaining = replay.remaining(block_id)
                if not remaining:
                    continue
                if block.expiry_date <= horizon:
                    expiring += remaining
                if not next_date or block.expiry_date < next_date:
                    next_date = block.expiry_date
            contract.expiring_units = expiring
            contract.next_expiry_date = next_date

    def _search_expiring_units(self, operator, value):
        if operator not in ("=", "!=", ">", ">=", "<", "<=") or not isinstance(
            value, int
        ):
            raise UserError(self.env._("Unsupported search on expiring units."))
        today = fields.Date.context_today(self)
        horizon = today + timedelta(days=EXPIRING_SOON_DAYS)
        # Only retainers with a live block expiring soon can have expiring
        # units; their figures are replayed in one query.
        Ledger = self.env["retainer.ledger.entry"]
        candidates = Ledger.search(
            [
                ("kind", "=", "credit"),
                ("expiry_date", ">=", today),
                ("expiry_date", "<=", horizon),
                ("reversal_entry_ids", "=", False),
            ]
        ).contract_id
        matching = candidates.filtered(
            lambda c: _compare(c.expiring_units, operator, value)
        )
        if _compare(0, operator, value):
            return [("id", "not in", (candidates - matching).ids)]
        return [("id", "in", matching.ids)]

    # === CONSTRAINT METHODS === #

    @api.constrains("rollover_max_units", "rollover_validity_months")
    def _check_rollover(self):
        for contract in self:
            if contract.rollover_max_units < 0 or contract.rollover_validity_months < 0:
                raise ValidationError(
                    self.env._(
                        "Retainer %(name)s: the rollover units and months cannot "
                        "be negative.",
                        name=contract.name,
                    )
                )

    # === BLOCKS: expiry and rollover === #

    def _retainer_reconcile_expiries(self, replays, job=True, deltas=None):
        """Bring the expiries (and rollovers) of the expired blocks of
        ``self`` in line with ``replays``; post what differs and return True
        when a rollover block changed (the allocation must be replayed).

        :param bool job: the expiry job (every live block past its expiry
            date); else a posting's correction (only blocks already
            expired by the job: time logged late on them, or a reversal).
        :param dict deltas: when given, the units posted are added to it,
            per contract id (the balance before is the balance now minus
            them: see the low balance alert).
        """
        Ledger = self.env["retainer.ledger.entry"]
        today = fields.Date.context_today(self)
        reverse = Ledger
        new_vals = []
        rollover_changed = False
        block_ids_by_contract = {}
        for contract in self:
            replay = replays.get(contract.id)
            if not replay:
                continue
            block_ids = set(replay.processed)
            if job:
                block_ids |= {
                    block_id
                    for block_id, block in replay.blocks.items()
                    if block.expiry_date and block.expiry_date < today
                }
            block_ids_by_contract[contract] = sorted(block_ids)
        # The blocks, expiries and rollovers of the whole batch are read
        # together (one query per prefetch batch), not one block at a time.
        prefetch_ids = set()
        for contract, block_ids in block_ids_by_contract.items():
            replay = replays[contract.id]
            for block_id in block_ids:
                prefetch_ids.add(block_id)
                prefetch_ids.update(replay.live_expiries.get(block_id, ()))
                prefetch_ids.update(replay.live_rollovers.get(block_id, ()))
        prefetch_ids = tuple(prefetch_ids)
        for contract, block_ids in block_ids_by_contract.items():
            replay = replays[contract.id]
            for block_id in block_ids:
                block = Ledger.browse(block_id).with_prefetch(prefetch_ids)
                expired = replay.unexpired_target(block_id)
                to_reverse, vals = Ledger._retainer_reconcile(
                    Ledger.browse(replay.live_expiries.get(block_id, [])).with_prefetch(
                        prefetch_ids
                    ),
                    -expired,
                    lambda units, c=contract, b=block: c._retainer_prepare_expiry_vals(
                        b, units
                    ),
                )
                reverse |= to_reverse
                new_vals += vals
                rolled = 0
                if block_id not in replay.rollovers and contract.rollover_max_units:
                    rolled = min(expired, contract.rollover_max_units)
                to_reverse, vals = Ledger._retainer_reconcile(
                    Ledger.browse(
                        replay.live_rollovers.get(block_id, [])
                    ).with_prefetch(prefetch_ids),
                    rolled,
                    lambda units, c=contract, b=block: (
                        c._retainer_prepare_rollover_vals(b, units)
                    ),
                )
                rollover_changed |= bool(to_reverse or vals)
                reverse |= to_reverse
                new_vals += vals
        if deltas is not None:
            for vals in new_vals:
                deltas[vals["contract_id"]] += vals["units"]
            for entry in reverse:
                deltas[entry.contract_id.id] -= entry.units
        Ledger._post_expiry_corrections(
            new_vals, reverse=reverse, reason=self.env._("Block expiry corrected")
        )
        return rollover_changed

    def _retainer_expiry_posting_date(self, expiry_date):
        """Date of an expiry entry: the block's expiry date, or the first
        day after the usage lock date when that period is closed."""
        self.ensure_one()
        if self.usage_lock_date and expiry_date <= self.usage_lock_date:
            return self.usage_lock_date + timedelta(days=1)
        return expiry_date

    def _retainer_prepare_expiry_vals(self, block, units):
        self.ensure_one()
        return {
            "contract_id": self.id,
            "kind": "expiry",
            "units": units,
            "block_entry_id": block.id,
            "date": self._retainer_expiry_posting_date(block.expiry_date),
            "name": self.env._(
                "Expiry of %(block)s (expired %(date)s)",
                block=block._retainer_block_label(),
                date=format_date(self.env, block.expiry_date),
            ),
        }

    def _retainer_prepare_rollover_vals(self, block, units):
        self.ensure_one()
        date = self._retainer_expiry_posting_date(block.expiry_date + timedelta(days=1))
        months = self.rollover_validity_months
        return {
            "contract_id": self.id,
            "kind": "credit",
            "units": units,
            "block_entry_id": block.id,
            "topup_origin": "rollover",
            "date": date,
            "expiry_date": (
                block.expiry_date + relativedelta(months=months) if months else False
            ),
            "name": self.env._(
                "Rollover of %(block)s", block=block._retainer_block_label()
            ),
            "reason": self.env._(
                "%(units)s unused units of block %(block)s (dated %(date)s, "
                "expired %(expiry)s) rolled over.",
                units=units,
                block=block._retainer_block_label(),
                date=format_date(self.env, block.date),
                expiry=format_date(self.env, block.expiry_date),
            ),
        }

    @api.model
    def _retainer_expire_blocks(self, companies=None, batch_size=200):
        """Post the expiry (and rollover) of every block past its expiry
        date that still has units, for the retainers of ``companies``
        (default: every company the user may access). Idempotent: a block
        is expired once; a second run, or two running at once, post
        nothing more (the second waits for the first and then finds the
        blocks expired, or fails and is retried).

        :raises AccessError: for a company the user cannot access.
        :return: the number of contracts handled
        """
        if companies is None and self.env.su:
            company_filter = SQL("TRUE")  # the scheduled job: every company
        else:
            if companies is None:
                companies = self.env.user.company_ids
            forbidden = companies - self.env.user.company_ids
            if forbidden and not self.env.su:
                raise AccessError(
                    self.env._(
                        "You cannot expire the retainer blocks of %(company)s.",
                        company=forbidden[0].name,
                    )
                )
            if not companies:
                return 0
            company_filter = SQL("c.company_id IN %s", tuple(companies.ids))
        today = fields.Date.context_today(self)
        Ledger = self.env["retainer.ledger.entry"]
        Ledger.flush_model()
        # Live blocks past their expiry that no run has handled yet.
        self.env.cr.execute(
            SQL(
                "SELECT DISTINCT b.contract_id FROM retainer_ledger_entry b "
                "JOIN retainer_contract c ON c.id = b.contract_id "
                "WHERE b.kind = 'credit' AND b.expiry_date < %s AND %s "
                "AND NOT EXISTS (SELECT 1 FROM retainer_ledger_entry r "
                "WHERE r.reversed_entry_id = b.id) "
                "AND NOT EXISTS (SELECT 1 FROM retainer_ledger_entry x "
                "WHERE x.block_entry_id = b.id) ORDER BY b.contract_id",
                today,
                company_filter,
            )
        )
        contract_ids = [row[0] for row in self.env.cr.fetchall()]
        for batch in split_every(batch_size, contract_ids, self.browse):
            batch._lock_for_posting(bump=True)
            replays = Ledger._retainer_current_replay(batch.ids)
            deltas = defaultdict(int)
            for _round in range(MAX_CORRECTION_ROUNDS):
                if not batch._retainer_reconcile_expiries(
                    replays, job=True, deltas=deltas
                ):
                    break
                replays = Ledger._retainer_current_replay(batch.ids)
            # Expired units lower the balance: the balance rules apply.
            watched = batch._retainer_balance_watched(deltas)
            if watched:
                watched._retainer_balance_changed(
                    deltas, Ledger._retainer_current_balances(watched.ids)
                )
        return len(contract_ids)

    @api.model
    def _cron_expire_blocks(self):
        """Scheduled job (daily): expire the blocks past their expiry date."""
        return self._retainer_expire_blocks()


def _compare(left, operator, right):
    return {
        "=": left == right,
        "!=": left != right,
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }[operator]
