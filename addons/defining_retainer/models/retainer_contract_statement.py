from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import format_date

from ..tools.rounding import units_to_hours
from ..tools.statement import period_start, running_balances
from .res_company import STATEMENT_FREQUENCY_SELECTION


# One model, one file per concern (core, posting, blocks, sales, revenue,
# notifications, statements) to keep each file short.
class RetainerContract(models.Model):
    """The retainer's statement: its figures for a period (printed by the
    statement report, staff and portal alike) and how often it is emailed
    (see ``retainer.statement`` for the scheduled job)."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

    # === FIELDS === #

    statement_frequency = fields.Selection(
        STATEMENT_FREQUENCY_SELECTION,
        string="Statements by email",
        required=True,
        tracking=True,
        default=lambda self: self.env.company.retainer_statement_frequency,
        help="After each closed month or quarter, the statement of the period "
        "(PDF attached) is emailed to the notified contacts.",
    )
    statement_start_date = fields.Date(
        string="Statements from",
        compute="_compute_statement_start_date",
        store=True,
        readonly=False,
        copy=False,
        help="First day covered by the emailed statements. Set to the first "
        "day of the current period when statements are switched on or the "
        "retainer is activated, so no statements of past periods are sent; "
        "set it earlier to send them.",
    )
    statement_ids = fields.One2many(
        "retainer.statement", "contract_id", string="Statements", readonly=True
    )

    # === COMPUTE METHODS === #

    @api.depends("statement_frequency")
    def _compute_statement_start_date(self):
        """Switched on (or changed): from the current period, or the day
        after the last statement sent when that is later (no period twice,
        no statement of a period closed before the switch)."""
        today = fields.Date.context_today(self)
        last_sent = self._statement_last_sent()
        for contract in self:
            frequency = contract.statement_frequency
            if not frequency or frequency == "none":
                contract.statement_start_date = False
                continue
            start = period_start(today, frequency)
            last = last_sent.get(contract._origin.id)
            if last:
                start = max(start, last + timedelta(days=1))
            contract.statement_start_date = start

    # === CRUD METHODS === #

    def write(self, vals):
        # Periods spent in draft or audit are not sent on activation.
        starting = self.browse()
        if self._retainer_client_vals(vals).get("state") == "active":
            starting = self.filtered(lambda c: c.state in ("draft", "audit"))
        result = super().write(vals)
        if starting:
            starting._statement_restart()
        return result

    # === BUSINESS METHODS === #

    def _statement_last_sent(self):
        """``{contract id: end of the last statement sent}`` (one query)."""
        contract_ids = [cid for cid in self._origin.ids if cid]
        if not contract_ids:
            return {}
        return {
            contract.id: date_to
            for contract, date_to in self.env["retainer.statement"]
            .sudo()  # sudo: dates only, to compute the retainers' own field
            ._read_group(
                [("contract_id", "in", contract_ids)], ["contract_id"], ["date_to:max"]
            )
        }

    def _statement_restart(self):
        """Move the statement start of ``self`` to the current period at the
        earliest."""
        today = fields.Date.context_today(self)
        for contract in self.filtered(
            lambda c: c.statement_frequency not in (False, "none")
        ):
            start = period_start(today, contract.statement_frequency)
            current = contract.statement_start_date
            if not current or current < start:
                contract.statement_start_date = start

    # === STATEMENT VALUES (report, portal, statement job) === #

    def _live_block_domain(self):
        """Domain of the blocks of ``self`` that count: credits (and positive
        adjustments) that are not cancelled (a cancelled credit is no block
        any more)."""
        return [
            ("contract_id", "in", self.ids),
            ("is_block", "=", True),
            ("reversal_entry_ids", "=", False),
        ]

    def _units_to_hours(self, units):
        """Hours (float) that ``units`` units of this contract make."""
        self.ensure_one()
        return units_to_hours(units, self.rounding_unit_minutes)

    def _statement_values(self, date_from, date_to):
        """Return the statement of ``self`` for ``date_from``..``date_to``
        (dates, both included); see ``_statements``."""
        self.ensure_one()
        return self._statements(date_from, date_to)[self.id]

    def _statements(self, date_from, date_to):
        """Return ``{contract id: statement}`` for the retainers of ``self``
        for ``date_from``..``date_to`` (dates, both included), in two queries
        whatever their number.

        Each statement is a dict with ``opening`` (units before
        ``date_from``), ``lines`` (list of ``(entry, balance after it)``,
        oldest first), ``topup_units`` and ``usage_units`` (movements of the
        period), ``closing`` (units at the end of ``date_to``), and the
        blocks: ``blocks`` (list of ``(reference, credit entry)``, oldest
        first: the blocks of the period, those with units left and those
        the lines name), ``line_blocks`` (``{entry id: text}``: the blocks
        that pay for a usage line, the block a top-up line or an expiry is
        about), ``blocks_date`` (the day the block figures are read: today)
        and ``expiring`` (see ``retainer.ledger.entry._expiring_summary``);
        ``outside_lines`` (the period's timesheets billed outside the
        retainer, oldest first: they use no units) and ``outside_hours``.

        The block figures and the blocks paying each line are computed for
        all the retainers at once: one more query for the replay of their
        ledgers.
        """
        Ledger = self.env["retainer.ledger.entry"]
        today = fields.Date.context_today(self)
        openings = dict(
            Ledger._read_group(
                [("contract_id", "in", self.ids), ("date", "<", date_from)],
                ["contract_id"],
                ["units:sum"],
            )
        )
        period_entries = Ledger.search(
            [
                ("contract_id", "in", self.ids),
                ("date", ">=", date_from),
                ("date", "<=", date_to),
            ],
            order="date asc, id asc",
        )
        live_blocks = Ledger.search(self._live_block_domain(), order="date asc, id asc")
        # One replay for the figures of the blocks and the payers of lines.
        (period_entries | live_blocks).mapped("remaining_units")
        entries_by_contract = period_entries.grouped("contract_id")
        outside_by_contract = (
            self.env["account.analytic.line"]
            .search(
                [
                    ("retainer_id", "in", self.ids),
                    ("retainer_billed_outside", "=", True),
                    ("date", ">=", date_from),
                    ("date", "<=", date_to),
                ],
                order="date asc, id asc",
            )
            .grouped("retainer_id")
        )
        blocks_by_contract = live_blocks.grouped("contract_id")
        statements = {}
        for contract in self:
            opening = openings.get(contract, 0) or 0
            entries = entries_by_contract.get(contract, Ledger)
            units = entries.mapped("units")
            balances = running_balances(opening, units)
            topup_units = sum(
                entry.units for entry in entries if entry.effective_kind == "credit"
            )
            contract_blocks = blocks_by_contract.get(contract, Ledger)
            blocks, line_blocks = contract._statement_blocks(
                entries, contract_blocks, date_from, date_to
            )
            outside = outside_by_contract.get(
                contract, self.env["account.analytic.line"]
            )
            statements[contract.id] = {
                "date_from": date_from,
                "date_to": date_to,
                "opening": opening,
                "lines": list(zip(entries, balances, strict=True)),
                "topup_units": topup_units,
                "usage_units": sum(units) - topup_units,
                "closing": balances[-1] if balances else opening,
                "blocks": blocks,
                "line_blocks": line_blocks,
                "blocks_date": today,
                "expiring": contract_blocks.filtered(
                    "remaining_units"
                )._expiring_summary(today),
                "outside_lines": outside,
                "outside_hours": sum(outside.mapped("unit_amount")),
            }
        return statements

    def _statement_blocks(self, entries, blocks, date_from, date_to):
        """Blocks a statement of ``self`` lists and what each line says of
        them (figures already computed, see :meth:`_statements`).

        :param entries: the period's entries, oldest first.
        :param blocks: the live blocks of ``self``, oldest first.
        :returns: ``(blocks, line_blocks)``: list of ``(reference, block)``
            and ``{entry id: text}``.
        """
        self.ensure_one()
        named = set()
        for entry in entries:
            named.update(entry.paid_by_block_ids.ids)
            if entry.block_entry_id:
                named.add(entry.block_entry_id.id)
        shown = blocks.filtered(
            lambda block: (
                block.id in named
                or (
                    block.date <= date_to
                    and (
                        block.remaining_units
                        or block.date >= date_from
                        or (block.expiry_date and block.expiry_date >= date_from)
                    )
                )
            )
        )
        references = {
            block.id: self.env._("B%(number)s", number=number)
            for number, block in enumerate(shown, start=1)
        }

        def reference(block):
            if block.id in references:
                return references[block.id]
            return self.env._(
                "%(kind)s of %(date)s",
                kind=block._customer_kind_label(),
                date=format_date(self.env, block.date),
            )

        line_blocks = {}
        for entry in entries:
            if entry.is_block:
                text = references.get(entry.id, "")
                if entry.block_entry_id:
                    old = reference(entry.block_entry_id)
                    text = (
                        self.env._("%(block)s, from %(old)s", block=text, old=old)
                        if text
                        else self.env._("from %(old)s", old=old)
                    )
            elif entry.kind == "expiry":
                text = reference(entry.block_entry_id)
            elif entry.kind == "reversal" or entry.units > 0:
                text = ""
            elif entry.reversal_entry_ids:
                text = ""  # cancelled: it no longer uses any block
            elif entry.paid_by_block_ids:
                text = ", ".join(reference(block) for block in entry.paid_by_block_ids)
            else:
                text = self.env._("overdraft")
            if text:
                line_blocks[entry.id] = text
        return [(references[block.id], block) for block in shown], line_blocks

    def _statement_figures(self, date_from, date_to):
        """``{contract id: {opening_units, topup_units, usage_units,
        closing_units}}`` of the retainers of ``self`` for
        ``date_from``..``date_to`` (the summary of their statements), in two
        grouped queries whatever their number."""
        Ledger = self.env["retainer.ledger.entry"]
        openings = dict(
            Ledger._read_group(
                [("contract_id", "in", self.ids), ("date", "<", date_from)],
                ["contract_id"],
                ["units:sum"],
            )
        )
        movements = Ledger._read_group(
            [
                ("contract_id", "in", self.ids),
                ("date", ">=", date_from),
                ("date", "<=", date_to),
            ],
            ["contract_id", "effective_kind"],
            ["units:sum"],
        )
        figures = {
            contract.id: {
                "opening_units": openings.get(contract, 0) or 0,
                "topup_units": 0,
                "usage_units": 0,
            }
            for contract in self
        }
        for contract, effective_kind, units in movements:
            key = "topup_units" if effective_kind == "credit" else "usage_units"
            figures[contract.id][key] += units or 0
        for values in figures.values():
            values["closing_units"] = (
                values["opening_units"] + values["topup_units"] + values["usage_units"]
            )
        return figures
