from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..tools.revenue import (
    Pool,
    earned_value,
    refund_excess,
    units_by_pool,
)
from .retainer_ledger_entry import REPLAY_COLUMNS

RECOGNITION_KIND_SELECTION = [
    ("usage", "Units used"),
    ("breakage", "Units expired"),
    ("refund", "Earned revenue refunded"),
]


class RetainerRevenueLine(models.Model):
    """Revenue recognised from a sold retainer line: the journal entry that
    recognised it, for which line, and how much.

    Append-only, like the ledger: a run recognises, per sold line, the
    difference between what is earned (tools/revenue.py) and the sum of
    these lines, so every used or expired unit is recognised exactly once,
    whatever was corrected since (a late timesheet, a reversal); a
    correction lands in the run's period, never in a posted entry.
    """

    _name = "retainer.revenue.line"
    _description = "Retainer Revenue Recognition Line"
    _order = "date desc, id desc"
    _check_company_auto = True

    company_id = fields.Many2one("res.company", required=True, readonly=True)
    contract_id = fields.Many2one(
        "retainer.contract",
        string="Retainer",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    sale_line_id = fields.Many2one(
        "sale.order.line",
        string="Sold line",
        readonly=True,
        index=True,
        ondelete="restrict",
    )
    block_entry_id = fields.Many2one(
        "retainer.ledger.entry",
        string="Manual block",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="For revenue of a manual credit given a value: that credit.",
    )
    move_id = fields.Many2one(
        "account.move",
        string="Journal entry",
        required=True,
        readonly=True,
        index=True,
        ondelete="restrict",
    )
    credit_note_id = fields.Many2one(
        "account.move",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="For a refund of earned revenue: the credit note.",
    )
    date = fields.Date(required=True, readonly=True, index=True)
    kind = fields.Selection(RECOGNITION_KIND_SELECTION, required=True, readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    value = fields.Monetary(
        readonly=True,
        help="Revenue recognised (negative: taken back), in company currency.",
    )

    _sql_constraints = [
        (
            "source_required",
            "CHECK ((sale_line_id IS NULL) != (block_entry_id IS NULL))",
            "Recognised revenue comes from a sold line or a valued manual credit.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        # The retainers' figures are computed from these lines.
        self.env["retainer.contract"].invalidate_model(
            ["unearned_value", "recognized_value"]
        )
        return lines

    def write(self, vals):  # pylint: disable=method-required-super
        # Append-only on purpose: super() is never reached.
        raise UserError(
            self.env._(
                "Recognised revenue cannot be changed: the next run corrects it."
            )
        )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_always(self):
        raise UserError(
            self.env._(
                "Recognised revenue cannot be deleted: the next run corrects it."
            )
        )

    # === POOLS: what each sold line was paid and has earned === #

    @api.model
    def _retainer_pools(
        self,
        cutoff=None,
        companies=None,
        sale_lines=None,
        exclude_moves=None,
        contracts=None,
    ):
        """Return ``{Pool.key: Pool}`` at ``cutoff`` (default: now, every
        date): for each retainer line paid by deferred invoices, its amount
        and units (invoices and credit notes dated up to ``cutoff``), the
        units of its blocks used by work and expired up to ``cutoff`` (the
        ledger as it is now), the value earned and the value recognised by
        lines dated up to ``cutoff``; the same for each manual credit given
        a value (dated up to ``cutoff``).

        :param sale_lines: only the pools of these sold lines (and no manual
            credits, unless ``contracts`` are given too).
        :param contracts: only the manual credits of these retainers.

        A constant number of queries, whatever the number of lines.
        """
        Line = self.env["account.move.line"]
        domain = [("retainer_deferred", "=", True), ("parent_state", "=", "posted")]
        if cutoff:
            domain.append(("date", "<=", cutoff))
        if companies is not None:
            domain.append(("company_id", "in", companies.ids))
        if sale_lines is not None:
            domain.append(("sale_line_ids", "in", sale_lines.ids))
        if exclude_moves:
            domain.append(("move_id", "not in", exclude_moves.ids))
        invoice_lines = Line.search(domain, order="id")
        pools = self._retainer_pools_paid(invoice_lines)
        if sale_lines is None or contracts is not None:
            pools.update(self._retainer_pools_valued(cutoff, companies, contracts))
        if not pools:
            return pools
        self._retainer_pools_earned(pools, cutoff)
        sold = [pool.sale_line_id for pool in pools.values() if pool.sale_line_id]
        manual = [pool.block_entry_id for pool in pools.values() if pool.block_entry_id]
        recognized_domain = [
            "|",
            ("sale_line_id", "in", sold),
            ("block_entry_id", "in", manual),
        ]
        if cutoff:
            recognized_domain.append(("date", "<=", cutoff))
        for sale_line, block, kind, value in self._read_group(
            recognized_domain,
            ["sale_line_id", "block_entry_id", "kind"],
            ["value:sum"],
        ):
            pool = pools[("block", block.id) if block else sale_line.id]
            if kind == "breakage":
                pool.recognized_expired += value
            else:
                pool.recognized_used += value
        return pools

    @api.model
    def _retainer_pools_valued(self, cutoff=None, companies=None, contracts=None):
        """Pools of the manual credits given a value whose value was put on
        the deferred revenue account (see
        ``retainer.contract._retainer_post_manual_value``)."""
        domain = [("value_move_id", "!=", False)]
        if cutoff:
            domain.append(("date", "<=", cutoff))
        if companies is not None:
            domain.append(("company_id", "in", companies.ids))
        if contracts is not None:
            domain.append(("contract_id", "in", contracts.ids))
        # sudo: the unit value is limited to invoicing users; pools are
        # read by checked callers (the run, the report, the retainer's
        # figures shown to invoicing users).
        valued = self.env["retainer.ledger.entry"].sudo().search(domain, order="id")
        pools = {}
        for credit in valued:
            pool = Pool(
                sale_line_id=0,
                block_entry_id=credit.id,
                contract_id=credit.contract_id.id,
                partner_id=credit.partner_id.commercial_partner_id.id,
                company_id=credit.company_id.id,
                amount=credit.company_id.currency_id.round(
                    credit.units * credit.manual_unit_value
                ),
                paid_units=credit.units,
            )
            pools[pool.key] = pool
        return pools

    @api.model
    def _retainer_pools_paid(self, invoice_lines):
        """Pools (amount and units paid) of posted deferred ``invoice_lines``."""
        pools = {}
        line_ids_by_sale_line = defaultdict(list)
        for line in invoice_lines:
            sale_line = line.sale_line_ids.filtered("retainer_product_units")[:1]
            if sale_line:
                line_ids_by_sale_line[sale_line.id].append(line.id)
        # Every group reads its lines, orders, retainers... with the whole
        # batch: one query per field for all the pools, not per pool.
        sale_lines = self.env["sale.order.line"].browse(line_ids_by_sale_line)
        for sale_line in sale_lines:
            lines = invoice_lines.browse(line_ids_by_sale_line[sale_line.id])
            lines = lines.with_prefetch(invoice_lines._prefetch_ids)
            invoiced = refunded = 0.0
            for line in lines:
                if line.move_id.move_type == "out_refund":
                    refunded += sale_line._retainer_refunded_qty(line, lines)
                else:
                    invoiced += sale_line._retainer_qty_in_line_uom(
                        line.quantity, line.product_uom_id
                    )
            contract = sale_line.order_id.retainer_id
            pools[sale_line.id] = Pool(
                sale_line_id=sale_line.id,
                contract_id=contract.id,
                partner_id=contract.partner_id.commercial_partner_id.id,
                company_id=sale_line.company_id.id,
                amount=sale_line.company_id.currency_id.round(
                    -sum(lines.mapped("balance"))
                ),
                paid_units=max(
                    sale_line._retainer_qty_to_units(invoiced)
                    - sale_line._retainer_qty_to_units(refunded),
                    0,
                ),
            )
        return pools

    @api.model
    def _retainer_pools_earned(self, pools, cutoff=None):
        """Fill the used and expired units and the earned value of ``pools``
        from their retainers' ledgers.

        The cost grows with the blocks and expiries of the retainers, not
        with their work: the units of each block used by work are those of
        the replay from the retainer's newest checkpoint (one query, as the
        postings and the statement read it), and the only rows read beside
        it are the blocks (which pool they are of) and the expiries and
        their reversals (one query), exactly what the whole ledger gives
        (see tools/revenue.py, units_by_pool)."""
        Ledger = self.env["retainer.ledger.entry"]
        Ledger.flush_model()
        contract_ids = sorted({pool.contract_id for pool in pools.values()})
        replays = Ledger._retainer_replay(contract_ids)
        self.env.cr.execute(
            SQL(
                "SELECT %s, sale_line_id, is_block FROM retainer_ledger_entry "
                "WHERE contract_id IN %s AND (is_block OR effective_kind = 'expiry') "
                "ORDER BY id",
                SQL(", ").join(SQL.identifier(name) for name in REPLAY_COLUMNS),
                tuple(contract_ids),
            )
        )
        used, expired = units_by_pool(
            self.env.cr.fetchall(),
            {pool.sale_line_id for pool in pools.values() if pool.sale_line_id},
            replays,
            cutoff,
            block_pools={
                pool.block_entry_id: key
                for key, pool in pools.items()
                if pool.block_entry_id
            },
        )
        currencies = {
            company.id: company.currency_id
            for company in self.env["res.company"].browse(
                {pool.company_id for pool in pools.values()}
            )
        }
        for key, pool in pools.items():
            pool.used_units = used[key]
            pool.expired_units = expired[key]
            pool.earned = earned_value(
                pool.amount,
                pool.paid_units,
                pool.used_units,
                pool.expired_units,
                currencies[pool.company_id].round,
            )

    # === RECOGNITION RUN === #

    @api.model
    def _retainer_last_closed_day(self, today=None):
        """Last day of the month before ``today``: what the monthly run
        recognises up to."""
        today = today or fields.Date.context_today(self)
        return today.replace(day=1) - timedelta(days=1)

    @api.model
    def _retainer_check_recognition_rights(self):
        """:raises AccessError: the user is not an accounting manager."""
        if not self.env.su and not self.env.user.has_group(
            "account.group_account_manager"
        ):
            raise AccessError(
                self.env._("Only accounting managers can recognise retainer revenue.")
            )

    @api.model
    def _retainer_recognize(self, cutoff, companies=None):
        """Recognise, for each of ``companies``, the revenue earned up to
        ``cutoff`` and not recognised yet: one journal entry per company
        (debit deferred revenue, credit revenue for the units used and
        breakage for the units expired, one line per customer and account),
        dated ``cutoff`` or the first day after the company's lock date.

        Idempotent and safe to run twice at once: each company's row is
        updated first, so a concurrent run waits, then fails with a
        serialization failure and is retried seeing what this one posted.

        :raises AccessError: the user is not an accounting manager, or a
            company is not one of the user's.
        :raises UserError: a date in the future or before the last run, or
            a company without its accounts and journal.
        :returns: the journal entries posted (``account.move``)
        """
        self._retainer_check_recognition_rights()
        cutoff = fields.Date.to_date(cutoff)
        today = fields.Date.context_today(self)
        if not cutoff or cutoff >= today:
            raise UserError(
                self.env._(
                    "Revenue can only be recognised up to a past date, not %(date)s.",
                    date=cutoff,
                )
            )
        if companies is None:
            companies = self.env.companies
        if not companies:
            # The monthly job when every company is recognised already.
            return self.env["account.move"]
        forbidden = companies - self.env.user.company_ids
        if forbidden and not self.env.su:
            raise AccessError(
                self.env._(
                    "You cannot recognise the retainer revenue of %(company)s.",
                    company=forbidden[0].name,
                )
            )
        for company in companies:
            if company.retainer_recognized_until and (
                cutoff < company.retainer_recognized_until
            ):
                raise UserError(
                    self.env._(
                        "Retainer revenue of %(company)s is already recognised up "
                        "to %(date)s: choose that date or a later one.",
                        company=company.name,
                        date=company.retainer_recognized_until,
                    )
                )
            company._retainer_check_revenue_settings(required=True)
        # sudo: the rights are checked above; the run writes journal entries
        # and recognition lines whatever the user's other groups.
        self_sudo = self.sudo()
        companies = companies.sudo()
        self._retainer_lock_recognition(companies, cutoff)
        pools = self_sudo._retainer_pools(cutoff, companies=companies)
        moves = self.env["account.move"]
        for company in companies:
            company_pools = [
                pool for pool in pools.values() if pool.company_id == company.id
            ]
            moves |= self_sudo._retainer_post_recognition(
                company, company_pools, cutoff
            )
        return moves

    @api.model
    def _retainer_lock_recognition(self, companies, cutoff):
        """Record the run on the companies' rows, first: a concurrent run
        waits for this transaction, then fails with a serialization failure
        (REPEATABLE READ) and is retried seeing the lines posted here, so
        nothing is recognised twice. Postings of usage are not blocked: what
        they add is recognised by the next run."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "UPDATE res_company SET retainer_recognized_until = %s WHERE id IN %s",
                cutoff,
                tuple(companies.ids),
            )
        )
        companies.invalidate_recordset(["retainer_recognized_until"])

    @api.model
    def _retainer_recognition_date(self, company, cutoff):
        journal = company.retainer_revenue_journal_id
        lock = company._get_user_fiscal_lock_date(journal, ignore_exceptions=True)
        if lock and cutoff <= lock:
            return lock + timedelta(days=1)
        return cutoff

    @api.model
    def _retainer_post_recognition(self, company, pools, cutoff):
        """Post one journal entry for the unrecognised part of ``pools`` and
        its recognition lines; return the entry (none when nothing is due)."""
        currency = company.currency_id
        date = self._retainer_recognition_date(company, cutoff)
        line_vals = []
        by_partner_account = defaultdict(float)
        deferred = company.retainer_deferred_account_id
        revenue = company.retainer_revenue_account_id
        breakage = company._retainer_breakage_account()
        for pool in pools:
            for kind, earned, recognized, account in (
                ("usage", pool.earned.used, pool.recognized_used, revenue),
                ("breakage", pool.earned.expired, pool.recognized_expired, breakage),
            ):
                due = currency.round(earned - recognized)
                if currency.is_zero(due):
                    continue
                line_vals.append(
                    {
                        "company_id": company.id,
                        "contract_id": pool.contract_id,
                        "partner_id": pool.partner_id,
                        **pool.source_vals,
                        "date": date,
                        "kind": kind,
                        "value": due,
                    }
                )
                by_partner_account[pool.partner_id, account.id] -= due
                by_partner_account[pool.partner_id, deferred.id] += due
        if not line_vals:
            return self.env["account.move"]
        label = self.env._(
            "Retainer revenue recognised up to %(date)s",
            date=fields.Date.to_string(cutoff),
        )
        move = self._retainer_post_entry(
            company,
            date,
            label,
            [
                (partner_id, account_id, balance)
                for (partner_id, account_id), balance in sorted(
                    by_partner_account.items()
                )
            ],
        )
        self.create([vals | {"move_id": move.id} for vals in line_vals])
        return move

    @api.model
    def _retainer_post_entry(self, company, date, label, items):
        """Post a journal entry of ``company``'s recognition journal dated
        ``date``, one line per ``(partner_id, account_id, balance)`` of
        ``items`` (zero balances left out), all labelled ``label``."""
        currency = company.currency_id
        move = self.env["account.move"].create(
            {
                "move_type": "entry",
                "company_id": company.id,
                "journal_id": company.retainer_revenue_journal_id.id,
                "date": date,
                "ref": label,
                "line_ids": [
                    fields.Command.create(
                        {
                            "name": label,
                            "partner_id": partner_id,
                            "account_id": account_id,
                            "balance": currency.round(balance),
                            # Given, so that no analytic distribution model
                            # is looked up line by line.
                            "analytic_distribution": False,
                        }
                    )
                    for partner_id, account_id, balance in items
                    if not currency.is_zero(balance)
                ],
            }
        )
        move._post(soft=False)
        return move

    @api.model
    def _cron_recognize_revenue(self):
        """Scheduled job (monthly): recognise, for every company that defers
        retainer revenue, everything up to the last day of the previous
        month (a missed run is caught up by the next one)."""
        cutoff = self._retainer_last_closed_day()
        companies = self.env["res.company"].search(
            [
                ("retainer_defer_revenue", "=", True),
                "|",
                ("retainer_recognized_until", "=", False),
                ("retainer_recognized_until", "<", cutoff),
            ]
        )
        return self._retainer_recognize(cutoff, companies)

    # === CREDIT NOTES === #

    @api.model
    def _retainer_plan_refund_excess(self, credit_notes):
        """Measure, before ``credit_notes`` are posted (the ledger still
        holds the units they take back), the part of each that refunds
        revenue already earned: beyond its line's unearned value.

        :returns: ``{credit note: [recognition line vals]}`` for
            :meth:`_retainer_book_refund_excess`.
        """
        refund_lines = credit_notes.filtered(
            lambda move: move.move_type == "out_refund"
        ).invoice_line_ids.filtered("retainer_deferred")
        plan = {}
        for credit_note in refund_lines.move_id:
            currency = credit_note.company_id.currency_id
            note_lines = refund_lines.filtered(lambda l, m=credit_note: l.move_id == m)
            pools = self._retainer_pools(
                sale_lines=note_lines.sale_line_ids, exclude_moves=credit_note
            )
            line_vals = []
            for line in note_lines:
                sale_line = line.sale_line_ids.filtered("retainer_product_units")[:1]
                pool = pools.get(sale_line.id)
                if not pool:
                    continue
                # A credit note debits the deferred account by its amount.
                excess = refund_excess(
                    line.balance, pool.amount, pool.earned, currency.round
                )
                if not currency.is_zero(excess):
                    line_vals.append(
                        {
                            "company_id": credit_note.company_id.id,
                            "contract_id": pool.contract_id,
                            "partner_id": pool.partner_id,
                            "sale_line_id": pool.sale_line_id,
                            "kind": "refund",
                            "value": -excess,
                            "credit_note_id": credit_note.id,
                        }
                    )
            if line_vals:
                plan[credit_note] = line_vals
        return plan

    @api.model
    def _retainer_book_refund_excess(self, plan):
        """Book what :meth:`_retainer_plan_refund_excess` measured, once the
        credit notes are posted: from deferred revenue to revenue, one entry
        per credit note, dated like it, with recognition lines.

        :returns: the entries (``account.move``)
        """
        moves = self.env["account.move"]
        for credit_note, line_vals in plan.items():
            if credit_note.state != "posted":
                continue
            company = credit_note.company_id
            company._retainer_check_revenue_settings(required=True)
            currency = company.currency_id
            total = currency.round(-sum(vals["value"] for vals in line_vals))
            label = self.env._(
                "Earned retainer revenue refunded by %(credit_note)s",
                credit_note=credit_note.name,
            )
            partner = credit_note.commercial_partner_id.id
            move = self._retainer_post_entry(
                company,
                credit_note.date,
                label,
                [
                    (partner, company.retainer_revenue_account_id.id, total),
                    (partner, company.retainer_deferred_account_id.id, -total),
                ],
            )
            self.create(
                [
                    vals | {"move_id": move.id, "date": credit_note.date}
                    for vals in line_vals
                ]
            )
            moves |= move
        return moves

    @api.model
    def _retainer_cancel_refund_excess(self, credit_notes):
        """A credit note reset to draft or cancelled: reverse the entries
        that booked its refund of earned revenue (new lines, nothing
        rewritten)."""
        lines = self.search(
            [("credit_note_id", "in", credit_notes.ids), ("kind", "=", "refund")]
        )
        # The entries that booked a refund and are not reversed yet.
        moves = lines.move_id.filtered(
            lambda move: not move.reversed_entry_id and not move.reversal_move_ids
        )
        for move in moves:
            move_lines = lines.filtered(lambda line, m=move: line.move_id == m)
            reversal = move._reverse_moves(
                [
                    {
                        "date": fields.Date.context_today(self),
                        "ref": self.env._("Reversal of: %(ref)s", ref=move.ref),
                    }
                ]
            )
            reversal._post(soft=False)
            totals = defaultdict(float)
            for line in move_lines:
                totals[line.sale_line_id, line.contract_id, line.partner_id] += (
                    line.value
                )
            self.create(
                [
                    {
                        "company_id": move.company_id.id,
                        "contract_id": contract.id,
                        "partner_id": partner.id,
                        "sale_line_id": sale_line.id,
                        "date": reversal.date,
                        "kind": "refund",
                        "value": -value,
                        "credit_note_id": move_lines[:1].credit_note_id.id,
                        "move_id": reversal.id,
                    }
                    for (sale_line, contract, partner), value in totals.items()
                ]
            )
